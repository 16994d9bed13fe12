/**
 * The Prometheus image's configuration, checked by Prometheus's own `promtool` (Debian package
 * `prometheus`) with no Swarm and no Docker: it parses, loads alerts.yml, and discovers every
 * service's replicas through DNS on the dnsrr service names.
 */
import assert from "node:assert/strict";

const DIR = new URL("../ops/images/prometheus/", import.meta.url).pathname;

/** The secrets prometheus.yml names (files under /run/secrets/ in the container). */
function secretsNamed(config: string): string[] {
  return [...new Set([...config.matchAll(/\/run\/secrets\/(\w+)/g)].map(([, name]) => name))];
}

Deno.test("promtool check config accepts prometheus.yml and the alert rules it loads", async () => {
  // promtool stats every credentials and certificate file: a copy of the config names stand-ins
  // for the secrets, beside alerts.yml, which it resolves relative to the config file, as
  // Prometheus does in the image.
  const dir = await Deno.makeTempDir();
  const config = await Deno.readTextFile(`${DIR}prometheus.yml`);
  for (const name of secretsNamed(config)) await Deno.writeTextFile(`${dir}/${name}`, "x\n");
  await Deno.writeTextFile(`${dir}/prometheus.yml`, config.replaceAll("/run/secrets/", `${dir}/`));
  await Deno.copyFile(`${DIR}alerts.yml`, `${dir}/alerts.yml`);
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["check", "config", "prometheus.yml"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: prometheus\.yml is valid/);
  assert.match(output, /SUCCESS: 1 rule files found/);
  assert.match(output, /Checking alerts\.yml\s+SUCCESS: \d+ rules found/);
});

Deno.test("prometheus.yml finds every replica by DNS on the names the alerts' jobs use", async () => {
  const config = await Deno.readTextFile(`${DIR}prometheus.yml`);
  const jobs = [
    ...config.matchAll(
      /- job_name: (\w+)\n(?: {4}\S.*\n| {6,}.*\n)*?\s+dns_sd_configs:\n\s+- (\{.*\})/g,
    ),
  ]
    .map(([, job, sd]) => [job, sd.replace(/\s+/g, " ")]);
  assert.deepEqual(jobs, [
    ["features", "{ names: [features], type: A, port: 8001, refresh_interval: 15s }"],
    ["model", "{ names: [model], type: A, port: 8002, refresh_interval: 15s }"],
    ["metric", "{ names: [metric], type: A, port: 8003, refresh_interval: 15s }"],
    ["rabbitmq", "{ names: [rabbitmq], type: A, port: 15691, refresh_interval: 30s }"],
    ["controller", "{ names: [controller], type: A, port: 8004, refresh_interval: 15s }"],
  ]);
  const rules = await Deno.readTextFile(`${DIR}alerts.yml`);
  for (const [job] of rules.matchAll(/job="(\w+)"/g)) {
    assert.ok(jobs.some(([name]) => `job="${name}"` === job), `alerts.yml uses ${job}`);
  }
});

Deno.test("prometheus.yml scrapes every job with credentials: a token, a login or a certificate", async () => {
  const config = await Deno.readTextFile(`${DIR}prometheus.yml`);
  const jobs = config.split(/\n(?= {2}- job_name: )/).slice(1);
  assert.ok(jobs.length >= 7, `${jobs.length} jobs`);
  for (const job of jobs) {
    const name = /job_name: ([\w-]+)/.exec(job)![1];
    const credentials =
      /authorization: (&token \{ credentials_file: \/run\/secrets\/telemetry_token \}|\*token)/
        .test(job) ||
      /basic_auth: \{ username: ml, password_file: \/run\/secrets\/telemetry_token \}/.test(job) ||
      (/scheme: https/.test(job) && /tls_config: (&broker_tls|\*broker_tls)/.test(job));
    assert.ok(credentials, `job ${name} scrapes without credentials:\n${job}`);
  }
  assert.deepEqual(secretsNamed(config).sort(), [
    "broker_ca",
    "prometheus_tls_cert",
    "prometheus_tls_key",
    "telemetry_token",
  ]);
});
