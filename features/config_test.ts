import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../stack/config.ts";
import { featuresSchema } from "./config.ts";

function load(values: Record<string, string>) {
  return loadConfig(featuresSchema, (name) => values[name]);
}

Deno.test("featuresSchema reads the drift settings", async (t) => {
  await t.step("unset: no drift", () => {
    const config = load({});
    assert.deepEqual(config.driftFeatures, []);
    assert.equal(config.driftTarget, undefined);
    assert.equal(config.driftAfterSamples, 0);
    assert.equal(config.driftAfterMs, 0);
  });
  await t.step("set: parsed by features/drift.ts", () => {
    const config = load({
      DRIFT_FEATURES: "bmi*3",
      DRIFT_TARGET: "*1.5",
      DRIFT_AFTER_SAMPLES: "100",
      DRIFT_AFTER_MS: "60000",
    });
    assert.deepEqual(config.driftFeatures, [{
      column: "bmi",
      index: 2,
      operator: "*",
      operand: 3,
    }]);
    assert.deepEqual(config.driftTarget, { operator: "*", operand: 1.5 });
    assert.equal(config.driftAfterSamples, 100);
    assert.equal(config.driftAfterMs, 60000);
  });
  await t.step("bad: every problem named with its variable and value", () => {
    assert.throws(
      () => load({ DRIFT_FEATURES: "weight*2", DRIFT_TARGET: "x" }),
      (error) =>
        error instanceof ConfigError && error.problems.length === 2 &&
        /^DRIFT_FEATURES is invalid, as 'weight\*2' names no feature column .*: current value is "weight\*2"$/
          .test(error.problems[0]) &&
        /^DRIFT_TARGET is invalid, as 'x' is not 'op number'/.test(error.problems[1]),
    );
  });
});
