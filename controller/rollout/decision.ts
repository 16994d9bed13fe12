/**
 * The rollout's decision rule: promote a shadowed candidate, reject it, hold, or abort, from the
 * paired absolute errors of both versions on the same samples.
 *
 * ## Design
 *
 * One contrast, c = |e_c| − (1 + margin)·|e_s|, whose mean is below 0 exactly when the
 * candidate's MAE is below (1 + margin) times the stable one's, and an always-valid confidence
 * sequence for that mean (`confidence_sequence.ts`), each side one-sided at level `alpha`:
 *
 * - **promote** when the upper bound is below 0: the candidate is non-inferior (superior for a
 *   margin ≤ 0). A candidate worse than the margin is promoted with probability ≤ alpha.
 * - **reject** when the lower bound is above 0: the candidate is worse than the margin allows.
 *   A candidate within the margin, in particular one no worse than the stable version (a false
 *   rollback), is rejected with probability ≤ alpha.
 * - **hold** below `minPairs`, or while the interval holds 0; **abort** at the time limit or at
 *   `maxPairs`, whatever the data say.
 *
 * Both boundaries sit at the margin rather than rejecting as soon as the candidate is
 * significantly worse than the stable version at all: two retrains of one recipe (the bootstrap
 * fits of `simulation.ts`) differ in MAE by under ±2% in 90% of cases, the test sees a 1%
 * difference within a few thousand pairs, and a rule rejecting on "worse than 0" rejected about
 * one in six such equal-in-practice candidates in simulation. With a margin ≤ 0 (superiority)
 * an equal candidate is meant to be rejected.
 *
 * Why a confidence sequence, not a group-sequential design with O'Brien–Fleming or Pocock
 * boundaries: the controller looks on a timer, and the pairs it has at a look depend on the
 * traffic, so looks cannot be planned at fixed pair counts, and an alpha-spending plan needs a
 * maximum sample size fixed in advance. A confidence sequence holds at every pair count at once:
 * any cadence of looks, any traffic and stopping at the first decisive look are all valid. The
 * cost is a wider bound than a fixed-sample test at the same n, paid for with a larger minimum.
 *
 * Assumptions: the pairs are roughly independent draws (samples arrive in a random order, one
 * truth each) and c has a finite variance. The variance is estimated; the minimum pair count
 * makes the estimate reliable and keeps a few heavy-tailed errors from deciding alone.
 *
 * @module
 */

import { confidenceRadius, mixturePrecision } from "./confidence_sequence.ts";
import { contrastMoments, type PairedErrors } from "../../stack/paired_errors.ts";
import type { RolloutPolicy } from "./rollout_policy.ts";

/** What the rollout does next. */
export type Verdict = "promote" | "reject" | "hold" | "abort";

/** The figures behind a verdict, for the decision log. */
export interface DecisionStatistic {
  /** Mean of the paired difference d = |e_candidate| − |e_stable|. */
  readonly meanDifference: number;
  /** The stable version's MAE on the pairs. */
  readonly maeStable: number;
  /** The candidate's MAE on the pairs. */
  readonly maeCandidate: number;
  /** maeCandidate / maeStable − 1: +0.1 is 10% worse. */
  readonly relativeChange: number;
  /** Mean of the tested contrast |e_c| − (1 + margin)·|e_s|. */
  readonly meanContrast: number;
  /** Sample standard deviation of the contrast. */
  readonly sdContrast: number;
}

/** A verdict with why, for the decision log. */
export interface Decision {
  readonly verdict: Verdict;
  /** One sentence with the numbers that decided. */
  readonly reason: string;
  readonly pairs: number;
  /** Null below two pairs, where there is nothing to estimate. */
  readonly statistic: DecisionStatistic | null;
  /**
   * Bounds of the contrast's mean, each one-sided at level alpha and valid at every look;
   * null below `minPairs` and at the time limit. Promote when `upper` < 0, reject when
   * `lower` > 0.
   */
  readonly interval: { readonly lower: number; readonly upper: number } | null;
}

/** Decides on a shadow `elapsedMs` after it started, from its paired errors `state`. */
export function decide(state: PairedErrors, policy: RolloutPolicy, elapsedMs: number): Decision {
  const pairs = state.pairs;
  const statistic = pairs >= 2 ? describe(state, policy.margin) : null;
  const seconds = elapsedMs / 1000;
  const hold = (reason: string) => ({ verdict: "hold" as const, reason, pairs, statistic });
  if (seconds >= policy.timeLimitSeconds) {
    return {
      verdict: "abort",
      reason: `no verdict within the time limit of ${policy.timeLimitSeconds} s (${
        round(seconds)
      } s, ${pairs} pairs)`,
      pairs,
      statistic,
      interval: null,
    };
  }
  if (pairs < policy.minPairs || statistic === null) {
    return {
      ...hold(`${pairs} of the ${policy.minPairs} pairs needed before a verdict`),
      interval: null,
    };
  }
  const radius = confidenceRadius(
    pairs,
    policy.alpha,
    mixturePrecision(policy.minPairs, policy.alpha),
  );
  const interval = {
    lower: statistic.meanContrast - radius * statistic.sdContrast,
    upper: statistic.meanContrast + radius * statistic.sdContrast,
  };
  const facts = `MAE ${round(statistic.maeCandidate)} vs ${round(statistic.maeStable)} (${
    percent(statistic.relativeChange)
  }); mean |e_c| − ${round(1 + policy.margin)}·|e_s| in [${round(interval.lower)}, ${
    round(interval.upper)
  }] at level ${policy.alpha} after ${pairs} pairs`;
  const margin = `${percent(policy.margin)} margin`;
  if (interval.upper < 0) {
    return {
      verdict: "promote",
      reason: `candidate is within the ${margin}: ${facts}`,
      pairs,
      statistic,
      interval,
    };
  }
  if (interval.lower > 0) {
    return {
      verdict: "reject",
      reason: `candidate is worse than the ${margin}: ${facts}`,
      pairs,
      statistic,
      interval,
    };
  }
  if (pairs >= policy.maxPairs) {
    return {
      verdict: "abort",
      reason: `no verdict within the ${policy.maxPairs} pairs allowed: ${facts}`,
      pairs,
      statistic,
      interval,
    };
  }
  return { ...hold(`undecided: ${facts}`), interval };
}

function describe(state: PairedErrors, margin: number): DecisionStatistic {
  const contrast = contrastMoments(state, 1 + margin);
  return {
    meanDifference: state.meanCandidate - state.meanStable,
    maeStable: state.meanStable,
    maeCandidate: state.meanCandidate,
    relativeChange: state.meanStable > 0 ? state.meanCandidate / state.meanStable - 1 : 0,
    meanContrast: contrast.mean,
    sdContrast: Math.sqrt(contrast.variance),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function percent(x: number): string {
  return `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
}
