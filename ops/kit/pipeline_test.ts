import assert from "node:assert/strict";
import { runArgs } from "../launch.ts";
import { givenBrokerUrls, launchOf, PipelineDriver, withVhost } from "./pipeline.ts";

Deno.test("givenBrokerUrls() asks for a throwaway broker when AMQP_URL is unset or empty", () => {
  assert.equal(givenBrokerUrls(undefined), undefined);
  assert.equal(givenBrokerUrls(""), undefined);
});

Deno.test("givenBrokerUrls() reads AMQP_URL as the services read it", async (t) => {
  await t.step("one URL", () => {
    assert.deepEqual(givenBrokerUrls("amqp://u:p@rabbit:5672/v")?.map(String), [
      "amqp://u:p@rabbit:5672/v",
    ]);
  });
  await t.step("the members of a cluster, spaces trimmed", () => {
    assert.deepEqual(givenBrokerUrls(" amqp://a:5672, amqp://b:5672 ")?.map(String), [
      "amqp://a:5672",
      "amqp://b:5672",
    ]);
  });
  await t.step("blanks as the services' default broker", () => {
    assert.deepEqual(givenBrokerUrls("  ")?.map(String), ["amqp://localhost:5672"]);
  });
  await t.step("and throws on a URL of another scheme", () => {
    assert.throws(() => givenBrokerUrls("http://rabbit"), TypeError);
  });
});

Deno.test("withVhost() replaces the URL's vhost, encoded, and keeps its credentials", () => {
  assert.equal(
    withVhost("amqp://g:g@localhost:5672", "a b/c"),
    "amqp://g:g@localhost:5672/a%20b%2Fc",
  );
  assert.equal(withVhost("amqp://g:g@localhost:5672/old", "new"), "amqp://g:g@localhost:5672/new");
  assert.equal(
    withVhost(new URL("amqp://g:g@localhost:5672/old"), ""),
    "amqp://g:g@localhost:5672",
  );
});

Deno.test("launchOf() derives a service's placement and environment", async (t) => {
  const pipeline = { urls: ["amqp://g:g@localhost:5999/vh"], paths: { logDir: "/tmp/logs" } };
  await t.step("with no HTTP port and its own name by default", () => {
    const { placement, options } = launchOf("metric", pipeline);
    assert.deepEqual(placement, {
      broker: ["localhost:5999"],
      httpPort: 0,
      paths: { logDir: "/tmp/logs" },
    });
    assert.equal(options.name, "metric");
    assert.equal(options.httpPort, 0);
    assert.deepEqual(options.env, { AMQP_URL: "amqp://g:g@localhost:5999/vh", HTTP_PORT: "0" });
    assert.deepEqual(
      runArgs("metric", placement).filter((arg) => arg.startsWith("--allow-net")),
      ["--allow-net=localhost:5999"],
    );
  });
  await t.step("every member of a cluster in AMQP_URL and --allow-net", () => {
    const { placement, options } = launchOf("model", {
      urls: [new URL("amqp://a"), new URL("amqps://b")],
    }, { httpPort: 8002 });
    assert.deepEqual(placement, { broker: ["a:5672", "b:5671"], httpPort: 8002 });
    assert.equal(options.env?.AMQP_URL, "amqp://a,amqps://b");
    assert.equal(options.env?.HTTP_PORT, "8002");
  });
  await t.step("the pipeline's variables, then the service's own, over the derived", () => {
    const { options } = launchOf("features", {
      ...pipeline,
      env: { LOG_DIR: "/tmp/logs", HTTP_PORT: "1" },
    }, { name: "features-2", env: { AMQP_URL: "http://x", COUNT: "3" } });
    assert.equal(options.name, "features-2");
    assert.deepEqual(options.env, {
      AMQP_URL: "http://x",
      HTTP_PORT: "1",
      LOG_DIR: "/tmp/logs",
      COUNT: "3",
    });
  });
  await t.step("the pipeline's working directory, environment mode and deno flags", () => {
    const { options } = launchOf("model", { ...pipeline, cwd: "/repo", clearEnv: true }, {
      denoFlags: ["--cpu-prof"],
    });
    assert.equal(options.cwd, "/repo");
    assert.equal(options.clearEnv, true);
    assert.deepEqual(options.denoFlags, ["--cpu-prof"]);
  });
  await t.step("and refuses a pipeline without a broker", () => {
    assert.throws(() => launchOf("model", { urls: [] }), {
      name: "RangeError",
      message: "Cannot launch model as the pipeline has no broker URL",
    });
  });
});

Deno.test("PipelineDriver.get() names the services it started when the one asked for is not", () => {
  const driver = new PipelineDriver({ urls: ["amqp://localhost"] });
  assert.throws(() => driver.get("model-2"), {
    name: "RangeError",
    message: "Cannot find service 'model-2': the pipeline started none",
  });
});
