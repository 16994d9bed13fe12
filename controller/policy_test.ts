import assert from "node:assert/strict";
import { readPolicy } from "./policy.ts";

const REQUIRED = {
  "ml.autoscale.min": "1",
  "ml.autoscale.max": "4",
  "ml.autoscale.queue": "features",
};

function read(labels: Record<string, string>, env: string[] = ["PREFETCH=50"]) {
  return readPolicy({
    name: "ml_model",
    labels: { "com.docker.stack.namespace": "ml", ...labels },
    env,
  });
}

Deno.test("readPolicy() leaves a service without policy labels out", () => {
  assert.deepEqual(read({}), { kind: "none" });
  assert.deepEqual(read({ "ml.autoscale.state.direction": "up", "ml.hold.manual": "x" }), {
    kind: "none",
  });
});

Deno.test("readPolicy() fills in HPA's defaults and the service's own names", () => {
  const found = read(REQUIRED);
  assert.equal(found.kind, "valid");
  assert.deepEqual(found.kind === "valid" && found.policy, {
    min: 1,
    max: 4,
    queue: "features",
    vhost: "/",
    job: "model",
    drainSeconds: 60,
    busyRatio: 0.8,
    slots: 50,
    upWindowSeconds: 0,
    downWindowSeconds: 300,
    tolerance: 0.1,
    maxStepUp: 4,
    maxStepDown: 100,
    staleSeconds: 30,
  });
});

Deno.test("readPolicy() reads every label", () => {
  const found = read({
    ...REQUIRED,
    "ml.autoscale.vhost": "prod",
    "ml.autoscale.job": "inference",
    "ml.autoscale.drain-seconds": "30",
    "ml.autoscale.busy-ratio": "0.7",
    "ml.autoscale.slots": "2",
    "ml.autoscale.up-window": "5",
    "ml.autoscale.down-window": "60",
    "ml.autoscale.tolerance": "0.05",
    "ml.autoscale.max-step-up": "2",
    "ml.autoscale.max-step-down": "1",
    "ml.autoscale.stale-seconds": "20",
  });
  assert.equal(found.kind, "valid");
  if (found.kind !== "valid") return;
  assert.deepEqual(
    [found.policy.vhost, found.policy.job, found.policy.drainSeconds, found.policy.busyRatio],
    ["prod", "inference", 30, 0.7],
  );
  assert.deepEqual(
    [found.policy.slots, found.policy.upWindowSeconds, found.policy.downWindowSeconds],
    [2, 5, 60],
  );
  assert.deepEqual(
    [found.policy.tolerance, found.policy.maxStepUp, found.policy.maxStepDown],
    [0.05, 2, 1],
  );
  assert.equal(found.policy.staleSeconds, 20);
});

Deno.test("readPolicy() names every bad label with its value", async (t) => {
  const cases: [string, Record<string, string>, string[], RegExp[]][] = [
    ["the required three missing", { "ml.autoscale.busy-ratio": "0.5" }, [], [
      /'ml.autoscale.min' must be an integer from 1 to 100: current value is unset/,
      /'ml.autoscale.max' must be an integer/,
      /'ml.autoscale.queue' must be a name/,
    ]],
    ["max below min", { ...REQUIRED, "ml.autoscale.min": "5" }, [], [
      /'ml.autoscale.max' must be at least 'ml.autoscale.min' \(5\): current value is "4"/,
    ]],
    ["a busy ratio above 1", { ...REQUIRED, "ml.autoscale.busy-ratio": "1.5" }, [], [
      /'ml.autoscale.busy-ratio' must be a number from 0.05 to 1: current value is "1.5"/,
    ]],
    ["min 0: nothing to measure capacity on", { ...REQUIRED, "ml.autoscale.min": "0" }, [], [
      /'ml.autoscale.min' must be an integer from 1 to 100: current value is "0"/,
    ]],
    ["a misspelt label", { ...REQUIRED, "ml.autoscale.maximum": "9" }, [], [
      /label 'ml.autoscale.maximum' is not a policy label/,
    ]],
    ["no PREFETCH and no slots", REQUIRED, ["PREFETCH="], [
      /'ml.autoscale.slots' must be set when the service's environment has no PREFETCH/,
    ]],
    ["a queue name PromQL would choke on", { ...REQUIRED, "ml.autoscale.queue": 'a"b' }, [], [
      /'ml.autoscale.queue' must be a name .*current value is "a\\"b"/,
    ]],
  ];
  for (const [name, labels, env, expected] of cases) {
    await t.step(name, () => {
      const found = read(labels, env.length ? env : undefined);
      assert.equal(found.kind, "invalid");
      const problems = found.kind === "invalid" ? found.problems : [];
      assert.equal(problems.length, expected.length, problems.join("\n"));
      expected.forEach((pattern, i) => assert.match(problems[i], pattern));
    });
  }
});

Deno.test("readPolicy() takes slots from the label over PREFETCH", () => {
  const found = read({ ...REQUIRED, "ml.autoscale.slots": "3" }, ["PREFETCH=50"]);
  assert.equal(found.kind === "valid" && found.policy.slots, 3);
  const fromEnv = read(REQUIRED, ["A=1", "PREFETCH=8"]);
  assert.equal(fromEnv.kind === "valid" && fromEnv.policy.slots, 8);
});
