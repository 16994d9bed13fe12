import assert from "node:assert/strict";
import { loadConfigs, serviceEnv, spawnEnv, stopGraceMs } from "./start_config.ts";

function env(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

Deno.test("serviceEnv() passes on the variables of the service's schema that are set", () => {
  const got = serviceEnv("model", env({ PREFETCH: "5", COUNT: "3", UNRELATED: "x" }), false);
  assert.deepEqual(got, { PREFETCH: "5" });
});

Deno.test("serviceEnv() gives features a 1 s interval unless INTERVAL_MS is set", () => {
  assert.equal(serviceEnv("features", env({}), false).INTERVAL_MS, "1000");
  assert.equal(serviceEnv("features", env({ INTERVAL_MS: "5" }), false).INTERVAL_MS, "5");
  assert.equal(serviceEnv("model", env({}), false).INTERVAL_MS, undefined);
});

Deno.test("serviceEnv() asks for the readable log format in a terminal unless one is chosen", () => {
  assert.equal(serviceEnv("metric", env({}), true).LOG_FORMAT, "pretty");
  assert.equal(serviceEnv("metric", env({}), false).LOG_FORMAT, undefined);
  assert.equal(serviceEnv("metric", env({ LOG_FORMAT: "json" }), true).LOG_FORMAT, "json");
});

Deno.test("spawnEnv() leaves AMQP_URL and HTTP_PORT to the launcher", () => {
  const get = env({ AMQP_URL: "amqp://elsewhere", HTTP_PORT: "9", SEED: "4" });
  const got = spawnEnv("features", get, false);
  assert.deepEqual(got, { SEED: "4", INTERVAL_MS: "1000" });
});

Deno.test("loadConfigs() reads every service's configuration", () => {
  const loaded = loadConfigs(env({ COUNT: "7", LOG_DIR: "/tmp/x" }), false);
  assert.equal(loaded.problems, undefined);
  assert.equal(loaded.configs?.features.count, 7);
  assert.equal(loaded.configs?.features.intervalMs, 1000);
  assert.equal(loaded.configs?.metric.logDir, "/tmp/x");
});

Deno.test("loadConfigs() names each problem once with every service it concerns", () => {
  const loaded = loadConfigs(env({ AMQP_URL: "http://x", INFERENCE_DELAY_MS: "slow" }), false);
  assert.equal(loaded.configs, undefined);
  const problems = loaded.problems ?? [];
  const amqp = problems.filter((p) => p.startsWith("AMQP_URL"));
  assert.equal(amqp.length, 1, problems.join("\n"));
  assert.match(amqp[0], /\(features, model, metric\)$/);
  assert.ok(problems.some((p) => p.startsWith("INFERENCE_DELAY_MS") && p.endsWith(" (model)")));
});

Deno.test("stopGraceMs() adds the kill grace to the longest drain deadline", () => {
  const { configs } = loadConfigs(env({ SHUTDOWN_TIMEOUT_MS: "2000" }), false);
  assert.equal(stopGraceMs(configs!, 5_000), 7_000);
});
