import assert from "node:assert/strict";
import { metricManifest } from "../metric/manifest.ts";
import { PNG_FONT, RESVG_WASM } from "../metric/dashboard/png.ts";
import { ConfigError, envNames } from "../stack/config.ts";
import {
  permissionFlags,
  permissionsOf,
  placementFromEnv,
  runArgs,
  SCHEMAS,
  type ServiceName,
  usesBroker,
} from "./launch.ts";

import { launcherEnv, TOOLS } from "./run.ts";
import { manifestOf, SERVICE_NAMES as SERVICES } from "./services.ts";

const METRIC_PNG_READ = metricManifest.alsoReads;
/** What each service reaches besides the broker, at its defaults. */
const REACHES: Record<string, string[]> = {
  controller: ["prometheus:9090", "docker-proxy:2375", "metric:8003"],
};
const DEFAULT_PORTS = Object.fromEntries(
  SERVICES.map((service) => [service, manifestOf(service).httpPort]),
) as Record<ServiceName, number>;
const ROOT = new URL("../", import.meta.url);
/** The brokers the images may reach: the stack's cluster members, all on AMQP's port. */
const STACK_BROKERS = ["rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5672"];

/** The value of `--allow-<name>=` in `args`, split at commas; undefined when absent. */
function allowed(args: readonly string[], name: string): string[] | undefined {
  const flag = args.find((arg) => arg.startsWith(`--allow-${name}=`));
  return flag?.slice(`--allow-${name}=`.length).split(",");
}

/** The permission flags among `args`: anything that grants (`-A`, `--allow-*`). */
function grants(args: readonly string[]): string[] {
  return args.filter((arg) => arg === "-A" || arg.startsWith("--allow-"));
}

Deno.test("runArgs() grants each service only what it needs", async (t) => {
  const placement = { broker: "rabbitmq:5672", httpPort: 9000 };
  for (const service of SERVICES) {
    await t.step(`${service}: never -A or a bare --allow-*`, () => {
      const args = runArgs(service, placement);
      assert.equal(args[0], "run");
      assert.equal(args.at(-1), `${service}/main.ts`);
      for (const flag of grants(args)) {
        assert.notEqual(flag, "-A");
        assert.notEqual(flag, "--allow-all");
        assert.match(flag, /^--allow-(net|read|write|env)=[^,]+(,[^,]+)*$/, flag);
      }
      assert.equal(args.includes("--allow-run"), false);
      assert.equal(allowed(args, "run"), undefined);
      assert.equal(allowed(args, "sys"), undefined);
      assert.equal(allowed(args, "ffi"), undefined);
    });
    await t.step(
      `${service}: --allow-net names only the broker or what it reaches, and the HTTP port`,
      () => {
        assert.deepEqual(allowed(runArgs(service, placement), "net"), [
          ...(usesBroker(service) ? ["rabbitmq:5672"] : REACHES[service]),
          "0.0.0.0:9000",
          "127.0.0.1",
        ]);
      },
    );
    await t.step(`${service}: --allow-env lists exactly its schema's variables`, () => {
      const env = allowed(runArgs(service, placement), "env");
      assert.deepEqual(env, envNames(SCHEMAS[service]));
      assert.equal(env!.includes("AMQP_PASSWORD_FILE"), usesBroker(service));
    });
  }

  await t.step(
    "the controller reaches Prometheus, the Docker API filter and metric, never the broker",
    () => {
      assert.deepEqual(permissionsOf("controller", placement), {
        net: ["prometheus:9090", "docker-proxy:2375", "metric:8003", "0.0.0.0:9000", "127.0.0.1"],
        read: [],
        write: [],
        env: envNames(SCHEMAS.controller),
      });
      assert.ok(!envNames(SCHEMAS.controller).includes("AMQP_URL"));
    },
  );

  await t.step("features reads only the data set", () => {
    assert.deepEqual(permissionsOf("features", placement), {
      net: ["rabbitmq:5672", "0.0.0.0:9000", "127.0.0.1"],
      read: ["stack/data/diabetes.csv"],
      write: [],
      env: envNames(SCHEMAS.features),
    });
  });
  await t.step("model reads only the artifact", () => {
    assert.deepEqual(permissionsOf("model", placement).read, ["model/model.json"]);
    assert.deepEqual(permissionsOf("model", placement).write, []);
  });
  await t.step("metric reads its log directory and the PNG renderer's files", () => {
    assert.deepEqual(permissionsOf("metric", placement).read, ["logs", ...METRIC_PNG_READ]);
    assert.deepEqual(permissionsOf("metric", placement).write, ["logs"]);
  });
  await t.step("only metric gets --allow-write", () => {
    assert.equal(allowed(runArgs("features", placement), "write"), undefined);
    assert.equal(allowed(runArgs("model", placement), "write"), undefined);
    assert.deepEqual(allowed(runArgs("metric", placement), "write"), ["logs"]);
  });
});

Deno.test("metric's manifest names the files its PNG renderer loads", () => {
  const root = new URL("../", import.meta.url).href;
  const loaded = [RESVG_WASM, PNG_FONT].map((url) => url.href.slice(root.length));
  assert.deepEqual([...METRIC_PNG_READ], loaded);
});

Deno.test("runArgs() follows the placement", async (t) => {
  await t.step("every member of a broker cluster is reachable, and only those", () => {
    assert.deepEqual(allowed(runArgs("model", { broker: STACK_BROKERS, httpPort: 8002 }), "net"), [
      ...STACK_BROKERS,
      "0.0.0.0:8002",
      "127.0.0.1",
    ]);
  });
  await t.step("HTTP port 0 opens no listener, and no loopback either", () => {
    assert.deepEqual(allowed(runArgs("model", { broker: "localhost:5673", httpPort: 0 }), "net"), [
      "localhost:5673",
    ]);
  });
  await t.step("extra readable paths are added to every service", () => {
    const placement = { broker: "rabbitmq:5672", httpPort: 1, extraRead: ["/run/secrets"] };
    assert.deepEqual(allowed(runArgs("features", placement), "read"), [
      "stack/data/diabetes.csv",
      "/run/secrets",
    ]);
    assert.deepEqual(allowed(runArgs("model", placement), "read"), [
      "model/model.json",
      "/run/secrets",
    ]);
    assert.deepEqual(allowed(runArgs("metric", placement), "read"), [
      "logs",
      ...METRIC_PNG_READ,
      "/run/secrets",
    ]);
    assert.deepEqual(allowed(runArgs("metric", placement), "write"), ["logs"]);
  });
  await t.step("paths override the data set, the artifact and the log directory", () => {
    const paths = { data: "/data/d.csv", model: "/models/m.json", logDir: "/var/ml" };
    const placement = { broker: "b:1", httpPort: 0, paths };
    assert.deepEqual(permissionsOf("features", placement).read, ["/data/d.csv"]);
    assert.deepEqual(permissionsOf("model", placement).read, ["/models/m.json"]);
    assert.deepEqual(permissionsOf("metric", placement).read, ["/var/ml", ...METRIC_PNG_READ]);
    assert.deepEqual(permissionsOf("metric", placement).write, ["/var/ml"]);
  });
  await t.step("permissionFlags() leaves out empty lists", () => {
    assert.deepEqual(permissionFlags({ net: ["a:1"], read: [], write: [], env: ["X", "Y"] }), [
      "--allow-net=a:1",
      "--allow-env=X,Y",
    ]);
  });
});

Deno.test("placementFromEnv() reads the broker, port and path as the service will", async (t) => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  await t.step("nothing set: the services' defaults", () => {
    for (const service of SERVICES) {
      assert.deepEqual(
        runArgs(service, placementFromEnv(service, env({}))),
        runArgs(service, { broker: "localhost:5672", httpPort: DEFAULT_PORTS[service] }),
      );
    }
  });
  await t.step("AMQP_URL gives the host and port, never the credentials", () => {
    const placement = placementFromEnv(
      "model",
      env({ AMQP_URL: "amqps://ml:s3cret@broker.internal/prod", HTTP_PORT: "9002" }),
    );
    assert.deepEqual(placement.broker, ["broker.internal:5671"]);
    assert.equal(placement.httpPort, 9002);
    assert.ok(!runArgs("model", placement).join(" ").includes("s3cret"));
  });
  await t.step("an AMQP_URL listing a cluster's members grants each of them", () => {
    const placement = placementFromEnv(
      "features",
      env({ AMQP_URL: "amqp://u:s3cret@rabbitmq,amqp://rabbitmq-2:5672,amqps://rabbitmq-3" }),
    );
    assert.deepEqual(placement.broker, ["rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5671"]);
    assert.deepEqual(allowed(runArgs("features", placement), "net"), [
      "rabbitmq:5672",
      "rabbitmq-2:5672",
      "rabbitmq-3:5671",
      "0.0.0.0:8001",
      "127.0.0.1",
    ]);
  });
  await t.step("each service's path setting moves its read or write grant", () => {
    assert.deepEqual(
      permissionsOf("features", placementFromEnv("features", env({ DATA_PATH: "d.csv" }))).read,
      ["d.csv"],
    );
    assert.deepEqual(
      permissionsOf("model", placementFromEnv("model", env({ MODEL_PATH: "m.json" }))).read,
      ["m.json"],
    );
    assert.deepEqual(
      permissionsOf("metric", placementFromEnv("metric", env({ LOG_DIR: "/tmp/l" }))).write,
      ["/tmp/l"],
    );
  });
  await t.step("the controller's URLs move its grants, and it reads no AMQP_URL", () => {
    const placement = placementFromEnv(
      "controller",
      env({
        PROMETHEUS_URL: "https://metrics.internal",
        DOCKER_URL: "http://127.0.0.1:2375",
        METRIC_URL: "http://127.0.0.1:8003",
        AMQP_URL: "amqp://rabbitmq",
      }),
    );
    assert.deepEqual(allowed(runArgs("controller", placement), "net"), [
      "metrics.internal:443",
      "127.0.0.1:2375",
      "127.0.0.1:8003",
      "0.0.0.0:8004",
      "127.0.0.1",
    ]);
  });
  await t.step("invalid values fail together, as the service would", () => {
    assert.throws(
      () => placementFromEnv("metric", env({ AMQP_URL: "http://x", HTTP_PORT: "-1" })),
      (error) => error instanceof ConfigError && error.problems.length === 2,
    );
  });
});

Deno.test("every deno.json task says what it does", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const [name, task] of Object.entries(config.tasks)) {
    const { description, command } = task as { description?: unknown; command?: unknown };
    assert.equal(typeof command, "string", `task '${name}' must use the object form`);
    assert.ok(typeof description === "string" && description.length > 0, `task '${name}'`);
  }
});

Deno.test("the deno.json task of each service and broker tool goes through the launcher with only what it reads", async (t) => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  for (const name of [...SERVICES, ...Object.keys(TOOLS)]) {
    await t.step(name, () => {
      const command: string | undefined = config.tasks[name]?.command;
      assert.equal(typeof command, "string", `deno.json has no '${name}' task`);
      assert.deepEqual(command!.split(/\s+/), [
        "deno",
        "run",
        `--allow-env=${launcherEnv(name).join(",")}`,
        "--allow-run=deno",
        "ops/run.ts",
        name,
      ]);
    });
  }
});
