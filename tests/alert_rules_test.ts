/**
 * The stack's Prometheus alert rules, checked and unit-tested by Prometheus's own `promtool`
 * (Debian package `prometheus`): a rule that does not parse, or that no longer fires on the
 * series it was written for, fails here rather than silently in production.
 */
import assert from "node:assert/strict";

const DIR = new URL("../ops/images/prometheus/", import.meta.url).pathname;

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args,
    cwd: DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

Deno.test("promtool check rules accepts alerts.yml", async () => {
  const { code, output } = await promtool("check", "rules", "alerts.yml");
  assert.equal(code, 0, output);
  assert.match(output, /SUCCESS: \d+ rules found/);
});

Deno.test("promtool test rules: every alert fires on its case and stays quiet on the healthy one", async () => {
  const { code, output } = await promtool("test", "rules", "alerts_test.yml");
  assert.equal(code, 0, output);
});

Deno.test("every alert in alerts.yml has a unit test case in alerts_test.yml", async () => {
  const rules = await Deno.readTextFile(`${DIR}alerts.yml`);
  const tests = await Deno.readTextFile(`${DIR}alerts_test.yml`);
  const alerts = [...rules.matchAll(/^\s*- alert: (\w+)/gm)].map((m) => m[1]);
  assert.ok(alerts.length >= 6, `expected at least 6 alerts, found ${alerts.length}`);
  const tested = new Set([...tests.matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
  assert.deepEqual(alerts.filter((a) => !tested.has(a)), []);
});
