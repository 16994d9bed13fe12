import assert from "node:assert/strict";
import {
  DEFAULT_ROLLOUT_POLICY,
  ENV_NAMING,
  parseRolloutPolicy,
  ROLLOUT_POLICY_KEYS,
  rolloutPolicyName,
} from "./rollout_policy.ts";

Deno.test("parseRolloutPolicy() takes the defaults when no key is given", () => {
  assert.deepEqual(parseRolloutPolicy({ "ml.autoscale.min": "1" }), DEFAULT_ROLLOUT_POLICY);
  assert.deepEqual(parseRolloutPolicy({ "ml.rollout.alpha": " " }), DEFAULT_ROLLOUT_POLICY);
});

Deno.test("parseRolloutPolicy() reads every label", () => {
  const policy = parseRolloutPolicy({
    "ml.rollout.margin": "-0.01",
    "ml.rollout.alpha": "0.01",
    "ml.rollout.min-pairs": "500",
    "ml.rollout.max-pairs": "5000",
    "ml.rollout.time-limit-seconds": "1800",
    "ml.rollout.look-seconds": "30",
  });
  assert.deepEqual(policy, {
    margin: -0.01,
    alpha: 0.01,
    minPairs: 500,
    maxPairs: 5000,
    timeLimitSeconds: 1800,
    lookSeconds: 30,
  });
});

Deno.test("parseRolloutPolicy() reads the environment's spelling", () => {
  const policy = parseRolloutPolicy({ ROLLOUT_MIN_PAIRS: "300", PATH: "/bin" }, ENV_NAMING);
  assert.equal(policy.minPairs, 300);
  assert.equal(rolloutPolicyName("time-limit-seconds", ENV_NAMING), "ROLLOUT_TIME_LIMIT_SECONDS");
});

Deno.test("parseRolloutPolicy() names every bad key with its value at once", async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "a word",
      { "ml.rollout.margin": "small" },
      /'ml.rollout.margin' must be a number from -0.5 to 0.5: current value is "small"/,
    ],
    ["a margin too wide", { "ml.rollout.margin": "0.6" }, /current value is "0.6"/],
    [
      "alpha of one half",
      { "ml.rollout.alpha": "0.5" },
      /'ml.rollout.alpha' must be a number from 0.0001 to 0.25/,
    ],
    [
      "a fractional count",
      { "ml.rollout.min-pairs": "10.5" },
      /'ml.rollout.min-pairs' must be an integer from 30/,
    ],
    ["a hexadecimal number", { "ml.rollout.look-seconds": "0x10" }, /current value is "0x10"/],
    [
      "a typo",
      { "ml.rollout.min-pair": "10" },
      /'ml.rollout.min-pair' is not a rollout policy key/,
    ],
    [
      "fewer maximum than minimum pairs",
      { "ml.rollout.min-pairs": "500", "ml.rollout.max-pairs": "400" },
      /'ml.rollout.max-pairs' must be at least 'ml.rollout.min-pairs' \(500\): current value is "400"/,
    ],
  ];
  for (const [name, labels, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseRolloutPolicy(labels),
        (error) => error instanceof RangeError && message.test(error.message),
      );
    });
  }
  await t.step("two at once", () => {
    assert.throws(
      () => parseRolloutPolicy({ "ml.rollout.alpha": "1", "ml.rollout.margin": "x" }),
      /'ml.rollout.margin' .*; 'ml.rollout.alpha' /,
    );
  });
});

Deno.test("the default policy is within the bounds its own parser accepts", () => {
  const labels = Object.fromEntries(
    Object.entries(ROLLOUT_POLICY_KEYS).map((
      [key, spec],
    ) => [rolloutPolicyName(key), String(DEFAULT_ROLLOUT_POLICY[spec.field])]),
  );
  assert.deepEqual(parseRolloutPolicy(labels), DEFAULT_ROLLOUT_POLICY);
});
