/**
 * The Prometheus and Alertmanager images' configurations, checked by their own `promtool` and
 * `amtool` (Debian packages `prometheus`, `prometheus-alertmanager`) with no Swarm and no
 * Docker: they parse, Prometheus loads alerts.yml, discovers every service's replicas through DNS
 * on the dnsrr service names and sends alerts to Alertmanager, which sends them to the
 * controller's route with the controller's token.
 */
import assert from "node:assert/strict";
import { CONTROLLER_HTTP_PORT } from "../controller/config.ts";

const DIR = new URL("../ops/images/prometheus/", import.meta.url).pathname;
const ALERTMANAGER = new URL("../ops/images/alertmanager/alertmanager.yml", import.meta.url)
  .pathname;
const STACK = new URL("../docker-stack.yml", import.meta.url).pathname;

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
    ["alertmanager", "{ names: [alertmanager], type: A, port: 9093, refresh_interval: 30s }"],
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

Deno.test("amtool accepts alertmanager.yml; Prometheus alerts it, and it posts to the controller", async () => {
  const { code, stdout, stderr } = await new Deno.Command("amtool", {
    args: ["check-config", ALERTMANAGER],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS/);
  assert.match(output, /1 receivers/);

  const prometheus = await Deno.readTextFile(`${DIR}prometheus.yml`);
  assert.match(
    prometheus,
    /alerting:\n {2}alertmanagers:\n {4}- basic_auth: \{ username: ml, password_file: \/run\/secrets\/telemetry_token \}\n {6}dns_sd_configs:\n {8}- \{ names: \[alertmanager\], type: A, port: 9093,/,
  );
  const config = await Deno.readTextFile(ALERTMANAGER);
  assert.match(config, new RegExp(`- url: http://controller:${CONTROLLER_HTTP_PORT}/alerts\\n`));
  assert.match(config, /authorization: \{ credentials_file: \/run\/secrets\/alert_token \}/);
  // The controller checks the same secret, and Alertmanager has it and Prometheus' login.
  const stack = await Deno.readTextFile(STACK);
  assert.match(stack, /ALERT_TOKEN_FILE: \/run\/secrets\/alert_token\n/);
  const alertmanager = /\n {2}alertmanager:\n((?: {4}.*\n|\s*\n)+)/.exec(stack)?.[1] ?? "";
  assert.match(alertmanager, /--web\.listen-address=:9093\n/);
  assert.match(alertmanager, /--web\.config\.file=\/run\/secrets\/prometheus_web\n/);
  assert.match(alertmanager, /- \{ source: alert_token, /);
});
