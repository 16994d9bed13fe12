/**
 * The Prometheus image's configuration, checked by Prometheus's own `promtool` (Debian package
 * `prometheus`) with no Swarm and no Docker: it parses, loads alerts.yml, and discovers every
 * service's replicas through DNS on the dnsrr service names.
 */
import assert from "node:assert/strict";

const DIR = new URL("../ops/images/prometheus/", import.meta.url).pathname;

Deno.test("promtool check config accepts prometheus.yml and the alert rules it loads", async () => {
  // promtool resolves rule_files relative to the config file, as Prometheus does in the image.
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["check", "config", "prometheus.yml"],
    cwd: DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: prometheus\.yml is valid/);
  assert.match(output, /SUCCESS: 1 rule files found/);
  assert.match(output, /Checking alerts\.yml\s+SUCCESS: \d+ rules found/);
});

Deno.test("prometheus.yml finds every replica by DNS on the names the alerts' jobs use", async () => {
  const config = await Deno.readTextFile(`${DIR}prometheus.yml`);
  const jobs = [...config.matchAll(/- job_name: (\w+)\n\s+dns_sd_configs:\n\s+- (\{.*\})/g)]
    .map(([, job, sd]) => [job, sd.replace(/\s+/g, " ")]);
  assert.deepEqual(jobs, [
    ["features", "{ names: [features], type: A, port: 8001, refresh_interval: 15s }"],
    ["model", "{ names: [model], type: A, port: 8002, refresh_interval: 15s }"],
    ["metric", "{ names: [metric], type: A, port: 8003, refresh_interval: 15s }"],
    ["rabbitmq", "{ names: [rabbitmq], type: A, port: 15692, refresh_interval: 30s }"],
    ["controller", "{ names: [controller], type: A, port: 8004, refresh_interval: 15s }"],
  ]);
  const rules = await Deno.readTextFile(`${DIR}alerts.yml`);
  for (const [job] of rules.matchAll(/job="(\w+)"/g)) {
    assert.ok(jobs.some(([name]) => `job="${name}"` === job), `alerts.yml uses ${job}`);
  }
});
