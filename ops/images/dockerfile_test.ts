import assert from "node:assert/strict";
import { runArgs, usesBroker } from "../launch.ts";
import { manifestOf, SERVICE_NAMES } from "../services.ts";
import { dockerfile, imagePlacement, main, SECRETS_DIR, STACK_BROKERS } from "./dockerfile.ts";

/** The exec-form arguments of the first line starting with `instruction`. */
function execForm(text: string, instruction: "CMD" | "ENTRYPOINT"): string[] {
  const lines = text.split("\n").filter((line) => line.startsWith(`${instruction} `));
  assert.equal(lines.length, 1, `one ${instruction} line`);
  const args = JSON.parse(lines[0].slice(instruction.length + 1));
  assert.ok(Array.isArray(args) && args.every((arg) => typeof arg === "string"));
  return args;
}

/** The permission flags among `args`: anything that grants (`-A`, `--allow-*`). */
function grants(args: readonly string[]): string[] {
  return args.filter((arg) => arg === "-A" || arg.startsWith("--allow-"));
}

Deno.test("dockerfile() runs each service with exactly the permissions runArgs() gives", async (t) => {
  for (const service of SERVICE_NAMES) {
    await t.step(service, () => {
      const cmd = execForm(dockerfile(service), "CMD");
      assert.deepEqual(cmd.slice(0, 3), ["run", "--cached-only", "--frozen"]);
      assert.equal(cmd.at(-1), `${service}/main.ts`);
      assert.deepEqual(grants(cmd), grants(runArgs(service, imagePlacement(service))));
    });
  }
});

Deno.test("dockerfile() places each service on the stack's brokers, its port and the secrets", () => {
  for (const service of SERVICE_NAMES.filter(usesBroker)) {
    const flags = grants(execForm(dockerfile(service), "CMD"));
    const net = flags.find((flag) => flag.startsWith("--allow-net="))!.split("=")[1].split(",");
    assert.deepEqual(net, [
      ...STACK_BROKERS,
      `0.0.0.0:${manifestOf(service).httpPort}`,
      "127.0.0.1",
    ]);
    const read = flags.find((flag) => flag.startsWith("--allow-read="))!;
    assert.ok(read.endsWith(`,${SECRETS_DIR}`), read);
  }
});

Deno.test("dockerfile() gives the controller Prometheus, the Docker API filter, metric, its port and the secrets: no broker", () => {
  const flags = grants(execForm(dockerfile("controller"), "CMD"));
  assert.deepEqual(flags.filter((flag) => !flag.startsWith("--allow-env=")), [
    "--allow-net=prometheus:9090,docker-proxy:2375,metric:8003,0.0.0.0:8004,127.0.0.1",
    "--allow-read=/run/secrets",
  ]);
  assert.doesNotMatch(dockerfile("controller"), /AMQP_URL/);
  // The retrain's modules from model/ and metric/, and nothing else of theirs.
  assert.deepEqual(
    dockerfile("controller").split("\n").filter((line) => /^COPY (model|metric)\//.test(line)),
    [
      "COPY model/linear.ts model/linear.ts",
      "COPY model/artifact.ts model/artifact.ts",
      "COPY model/retrain.ts model/retrain.ts",
      "COPY metric/metric_log/format.ts metric/metric_log/format.ts",
    ],
  );
});

Deno.test("dockerfile() checks health on the port the service listens on, as a non-root user", () => {
  for (const service of SERVICE_NAMES) {
    const text = dockerfile(service);
    const port = manifestOf(service).httpPort;
    assert.match(text, new RegExp(`^ENV HTTP_PORT=${port}$`, "m"));
    assert.match(text, new RegExp(`^EXPOSE ${port}$`, "m"));
    assert.match(text, new RegExp(`CMD \\["/usr/local/bin/ml-entry", "healthz", "${port}"`));
    assert.match(text, /^USER 1000$/m);
    assert.deepEqual(execForm(text, "ENTRYPOINT"), ["/usr/local/bin/ml-entry", "deno"]);
    assert.match(text, new RegExp(`^COPY ${service}/ ${service}/$`, "m"));
  }
});

Deno.test("dockerfile() makes a volume, owned by the service's user, only where a service writes", () => {
  assert.match(dockerfile("metric"), /^VOLUME \["\/app\/logs"\]$/m);
  assert.match(dockerfile("metric"), /Deno\.chownSync\(\\"\/app\/logs\\", 1000, 1000\)/);
  assert.match(dockerfile("metric"), /^ENV LOG_DIR=logs$/m);
  assert.doesNotMatch(dockerfile("features"), /VOLUME/);
  assert.doesNotMatch(dockerfile("model"), /VOLUME/);
});

Deno.test("the dockerfile CLI lists the images and refuses an unknown service", () => {
  assert.deepEqual(main(["--images"]), {
    code: 0,
    out: SERVICE_NAMES.map((name) => `${name} ${manifestOf(name).image}\n`).join(""),
  });
  const refused = main(["gateway"]);
  assert.equal(refused.code, 2);
  assert.match(refused.out, /current value is "gateway"/);
});
