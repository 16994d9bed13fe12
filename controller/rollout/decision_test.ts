import assert from "node:assert/strict";
import { decide } from "./decision.ts";
import { addPair, NO_PAIRS, type PairedErrors } from "../../stack/paired_errors.ts";
import { DEFAULT_ROLLOUT_POLICY, type RolloutPolicy } from "./rollout_policy.ts";

const POLICY: RolloutPolicy = {
  ...DEFAULT_ROLLOUT_POLICY,
  margin: 0.02,
  alpha: 0.05,
  minPairs: 100,
  maxPairs: 1000,
  timeLimitSeconds: 600,
};

/** `pairs` stable errors cycling 10, 20, …, 50 (MAE 30) and the candidate's as `candidate(s, i)`. */
function shadow(pairs: number, candidate: (stable: number, i: number) => number): PairedErrors {
  let state = NO_PAIRS;
  for (let i = 0; i < pairs; i++) {
    const stable = 10 * (1 + (i % 5));
    state = addPair(state, candidate(stable, i), stable);
  }
  return state;
}

/** ±`spread` around `ratio` times the stable error, alternating. */
function scaled(ratio: number, spread: number) {
  return (stable: number, i: number) => ratio * stable + (i % 2 === 0 ? spread : -spread);
}

Deno.test("decide() holds below the minimum pairs, however clear the data", () => {
  const decision = decide(shadow(99, scaled(2, 0)), POLICY, 1000);
  assert.equal(decision.verdict, "hold");
  assert.equal(decision.pairs, 99);
  assert.equal(decision.interval, null);
  assert.match(decision.reason, /99 of the 100 pairs needed/);
  assert.equal(decision.statistic?.relativeChange, 1);
});

Deno.test("decide() holds with no pairs and no statistic", () => {
  const decision = decide(NO_PAIRS, POLICY, 0);
  assert.equal(decision.verdict, "hold");
  assert.equal(decision.statistic, null);
});

Deno.test("decide() rejects a candidate clearly worse than the margin", () => {
  const decision = decide(shadow(100, scaled(1.3, 5)), POLICY, 60_000);
  assert.equal(decision.verdict, "reject");
  assert.ok(decision.interval !== null && decision.interval.lower > 0);
  assert.match(decision.reason, /worse than the \+2\.0% margin: MAE 39 vs 30 \(\+30\.0%\)/);
  assert.match(decision.reason, /after 100 pairs/);
});

Deno.test("decide() promotes a candidate clearly within the margin", () => {
  const decision = decide(shadow(100, scaled(0.9, 5)), POLICY, 60_000);
  assert.equal(decision.verdict, "promote");
  assert.ok(decision.interval !== null && decision.interval.upper < 0);
  assert.match(decision.reason, /within the \+2\.0% margin: MAE 27 vs 30 \(-10\.0%\)/);
});

Deno.test("decide() promotes an identical candidate with a positive margin and holds with none", () => {
  const same = shadow(100, (stable) => stable);
  assert.equal(decide(same, POLICY, 0).verdict, "promote");
  assert.equal(decide(same, { ...POLICY, margin: 0 }, 0).verdict, "hold");
});

Deno.test("decide() rejects an equal candidate under a superiority margin", () => {
  const decision = decide(shadow(400, scaled(1, 5)), { ...POLICY, margin: -0.1 }, 0);
  assert.equal(decision.verdict, "reject");
});

Deno.test("decide() holds while the interval spans the margin", () => {
  const decision = decide(shadow(200, scaled(1.02, 10)), POLICY, 60_000);
  assert.equal(decision.verdict, "hold");
  assert.ok(decision.interval !== null);
  assert.ok(decision.interval.lower < 0 && decision.interval.upper > 0);
  assert.match(decision.reason, /^undecided: /);
});

Deno.test("decide() aborts an undecided shadow at the maximum pairs", () => {
  const decision = decide(shadow(1000, scaled(1.02, 10)), POLICY, 60_000);
  assert.equal(decision.verdict, "abort");
  assert.match(decision.reason, /no verdict within the 1000 pairs allowed/);
});

Deno.test("decide() aborts at the time limit even when the data would decide", () => {
  const decision = decide(shadow(500, scaled(1.5, 0)), POLICY, 600_000);
  assert.equal(decision.verdict, "abort");
  assert.match(decision.reason, /time limit of 600 s \(600 s, 500 pairs\)/);
  assert.equal(decision.interval, null);
});

Deno.test("decide() gives a decision that survives JSON for the decision log", () => {
  const decision = decide(shadow(150, scaled(1.3, 5)), POLICY, 0);
  assert.deepEqual(JSON.parse(JSON.stringify(decision)), decision);
});
