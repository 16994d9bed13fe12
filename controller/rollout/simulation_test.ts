import assert from "node:assert/strict";
import { loadDiabetes } from "../../stack/dataset.ts";
import { DEFAULT_ROLLOUT_POLICY } from "./rollout_policy.ts";
import {
  bootstrapResiduals,
  expectedAbsolute,
  meanAbsolute,
  noiseForMae,
  seededRandom,
  simulateRollouts,
} from "./simulation.ts";

/** Enough that a rate's standard error is at most 0.5 points at 5% or 95%. */
const TRIALS = 2000;
const POOL_SIZE = 60;
const SEED = 19;

Deno.test("noiseForMae() finds the noise that raises the expected MAE to the target", () => {
  const residuals = [-30, -5, 0, 12, 40];
  const target = 1.1 * meanAbsolute(residuals);
  const sigma = noiseForMae(residuals, target);
  const mae = residuals.reduce((sum, r) => sum + expectedAbsolute(r, sigma), 0) / residuals.length;
  assert.ok(Math.abs(mae - target) < 1e-9, `${mae} vs ${target}`);
  assert.equal(noiseForMae(residuals, 1), 0);
});

Deno.test("expectedAbsolute() agrees with sampling", () => {
  const random = seededRandom(3);
  let sum = 0;
  const draws = 200_000;
  for (let i = 0; i < draws; i++) {
    const u = 1 - random();
    sum += Math.abs(10 + 20 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random()));
  }
  assert.ok(Math.abs(sum / draws - expectedAbsolute(10, 20)) < 0.2);
});

Deno.test("the default rollout policy meets its error rates on the diabetes residuals", async (t) => {
  const pool = await bootstrapResiduals(await loadDiabetes(), POOL_SIZE, seededRandom(SEED));
  const policy = DEFAULT_ROLLOUT_POLICY;

  await t.step(
    "A/A: a retrain no worse than the stable fit is rejected at most 5% of the time",
    () => {
      const rates = simulateRollouts({
        pool,
        policy,
        trials: TRIALS,
        ratio: 1,
        random: seededRandom(SEED + 100),
      });
      console.log(`A/A: ${JSON.stringify(rates)}`);
      assert.ok(rates.noWorse > TRIALS / 3, `only ${rates.noWorse} candidates no worse`);
      assert.ok(rates.falseRollback <= 0.05, `false rollback ${rates.falseRollback}`);
      // Counting every A/A rejection, even of a retrain that is truly a little worse.
      assert.ok(rates.reject <= 0.05, `A/A rejected ${rates.reject}`);
    },
  );

  await t.step(
    "a candidate 10% worse in MAE is rejected at the minimum pairs with 95% power",
    () => {
      const rates = simulateRollouts({
        pool,
        policy,
        trials: TRIALS,
        ratio: 1.1,
        random: seededRandom(SEED + 110),
      });
      console.log(`10% worse: ${JSON.stringify(rates)}`);
      assert.ok(Math.abs(rates.maeRatio - 1.1) < 1e-6, `true MAE ratio ${rates.maeRatio}`);
      assert.ok(rates.rejectAtMinimum >= 0.95, `rejected at the minimum: ${rates.rejectAtMinimum}`);
      assert.equal(rates.promote, 0);
    },
  );
});
