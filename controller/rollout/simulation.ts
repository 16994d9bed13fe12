/**
 * Error rates of the rollout decision (`decision.ts`) by simulation on a data set's residuals.
 * Pure: the data set and the random source are passed in, so a seed gives the same figures.
 *
 * The versions are linear models fitted like `model/train.ts` does, each to its own bootstrap
 * sample of the data set. A/A is two such fits: two retrains of the same recipe on different
 * samples of the same population, which is what an "unchanged" candidate really is. The same
 * model twice would give d = 0 on every pair and test nothing. A worse candidate is a fit whose
 * predictions carry extra Gaussian noise, its scale solved so that the candidate's expected MAE
 * over the data set is exactly `ratio` times the stable fit's. Pairs are rows drawn uniformly
 * with replacement, as the features service replays the data set.
 *
 * @module
 */

import type { Dataset } from "../../stack/dataset.ts";
import { fit, predict } from "../../model/linear.ts";
import { normalCdf } from "./confidence_sequence.ts";
import { decide, type Verdict } from "./decision.ts";
import { addPair, NO_PAIRS } from "../../stack/paired_errors.ts";
import type { RolloutPolicy } from "./rollout_policy.ts";

/** A uniform random number in [0, 1). */
export type Random = () => number;

/** Mulberry32: a small seeded generator, plenty for simulation, the same on every machine. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * The residuals y − ŷ on every row of `ds` of `count` models, each fitted to its own bootstrap
 * sample of `ds`.
 */
export async function bootstrapResiduals(
  ds: Dataset,
  count: number,
  random: Random,
): Promise<number[][]> {
  const rows = ds.y.length;
  const out: number[][] = [];
  for (let k = 0; k < count; k++) {
    const pick = Array.from({ length: rows }, () => Math.floor(random() * rows));
    const model = await fit({
      featureNames: ds.featureNames,
      X: pick.map((i) => ds.X[i]),
      y: pick.map((i) => ds.y[i]),
    });
    out.push(ds.X.map((x, i) => ds.y[i] - predict(model, x)));
  }
  return out;
}

/** E|r + σZ| for a standard normal Z. */
export function expectedAbsolute(r: number, sigma: number): number {
  if (sigma === 0) return Math.abs(r);
  const z = r / sigma;
  return sigma * Math.sqrt(2 / Math.PI) * Math.exp(-z * z / 2) + r * (1 - 2 * normalCdf(-z));
}

/** Mean of |x|. */
export function meanAbsolute(xs: readonly number[]): number {
  let sum = 0;
  for (const x of xs) sum += Math.abs(x);
  return sum / xs.length;
}

/**
 * The noise scale σ at which residuals `r` plus N(0, σ²) noise have an expected MAE of
 * `targetMae` (0 when they are already at or above it). Newton's method: the expected MAE is
 * convex and increasing in σ with derivative mean 2φ(r/σ), and E|r + σZ| ≥ σ·sqrt(2/π) gives
 * a start above the root, from which the steps descend onto it.
 */
export function noiseForMae(r: readonly number[], targetMae: number): number {
  if (meanAbsolute(r) >= targetMae) return 0;
  let sigma = targetMae * Math.sqrt(Math.PI / 2);
  for (let i = 0; i < 100; i++) {
    let mae = 0;
    let slope = 0;
    for (const x of r) {
      mae += expectedAbsolute(x, sigma);
      slope += Math.sqrt(2 / Math.PI) * Math.exp(-((x / sigma) ** 2) / 2);
    }
    const step = (mae - targetMae * r.length) / slope;
    sigma -= step;
    if (Math.abs(step) < 1e-12 * sigma) break;
  }
  return sigma;
}

/** One simulated shadow: the verdict it reached and after how many pairs. */
export interface Trial {
  readonly verdict: Verdict;
  readonly pairs: number;
}

/**
 * Streams pairs of residuals `stable[i]`, `candidate[i] + σZ` for uniformly drawn rows `i` into
 * the decision rule, looking after every pair from the minimum on (the most looks any
 * controller could take), until a verdict other than hold. The time limit is left out: the
 * pair budget `maxPairs` plays its part.
 */
export function runTrial(
  stable: readonly number[],
  candidate: readonly number[],
  sigma: number,
  policy: RolloutPolicy,
  random: Random,
): Trial {
  const rows = stable.length;
  let state = NO_PAIRS;
  for (;;) {
    const i = Math.floor(random() * rows);
    const noise = sigma > 0 ? sigma * gaussian(random) : 0;
    state = addPair(state, candidate[i] + noise, stable[i]);
    if (state.pairs < policy.minPairs) continue;
    const { verdict } = decide(state, policy, 0);
    if (verdict !== "hold") return { verdict, pairs: state.pairs };
  }
}

/** What {@link simulateRollouts} measured. */
export interface Rates {
  readonly trials: number;
  /** Share of trials with each verdict. */
  readonly promote: number;
  readonly reject: number;
  readonly abort: number;
  /** Share rejected at the first look, at exactly `minPairs` pairs. */
  readonly rejectAtMinimum: number;
  /** Trials whose candidate's true MAE was no worse than the stable's. */
  readonly noWorse: number;
  /** Share of those rejected: the false rollback rate. */
  readonly falseRollback: number;
  /** Median pairs to a verdict. */
  readonly medianPairs: number;
  /** Mean of the candidates' true MAE over the stable's, over the trials. */
  readonly maeRatio: number;
}

/** Options of {@link simulateRollouts}. */
export interface SimulationOptions {
  /** Residuals of bootstrap fits (see {@link bootstrapResiduals}); two distinct per trial. */
  readonly pool: readonly (readonly number[])[];
  readonly policy: RolloutPolicy;
  readonly trials: number;
  /** The candidate's true MAE over the stable's: 1 for A/A (no noise), 1.1 for 10% worse. */
  readonly ratio: number;
  readonly random: Random;
}

/** Runs `trials` shadows of a candidate `ratio` times the stable MAE and counts the verdicts. */
export function simulateRollouts(options: SimulationOptions): Rates {
  const { pool, policy, trials, ratio, random } = options;
  const counts = { promote: 0, reject: 0, abort: 0, hold: 0 };
  let rejectAtMinimum = 0;
  let ratios = 0;
  let noWorse = 0;
  let falseRollbacks = 0;
  const pairs: number[] = [];
  for (let k = 0; k < trials; k++) {
    const a = Math.floor(random() * pool.length);
    const b = (a + 1 + Math.floor(random() * (pool.length - 1))) % pool.length;
    const stableMae = meanAbsolute(pool[a]);
    const sigma = ratio === 1 ? 0 : noiseForMae(pool[b], ratio * stableMae);
    let candidateMae = 0;
    for (const r of pool[b]) candidateMae += expectedAbsolute(r, sigma);
    const trueRatio = candidateMae / pool[b].length / stableMae;
    ratios += trueRatio;
    const trial = runTrial(pool[a], pool[b], sigma, policy, random);
    counts[trial.verdict]++;
    if (trueRatio <= 1) {
      noWorse++;
      if (trial.verdict === "reject") falseRollbacks++;
    }
    if (trial.verdict === "reject" && trial.pairs === policy.minPairs) rejectAtMinimum++;
    pairs.push(trial.pairs);
  }
  pairs.sort((x, y) => x - y);
  return {
    trials,
    promote: counts.promote / trials,
    reject: counts.reject / trials,
    abort: counts.abort / trials,
    rejectAtMinimum: rejectAtMinimum / trials,
    noWorse,
    falseRollback: noWorse > 0 ? falseRollbacks / noWorse : 0,
    medianPairs: pairs[Math.floor(trials / 2)],
    maeRatio: ratios / trials,
  };
}
