/**
 * The running summary of a shadow rollout's paired errors: for every sample both versions
 * predicted, the absolute errors |e_candidate| and |e_stable| against the same truth.
 *
 * It keeps both means, both sums of squared deviations and their co-moment (Welford's update,
 * Chan's merge), six numbers in all, rather than the paired difference alone: the
 * non-inferiority test of `decision.ts` needs the mean and variance of
 * |e_c| − (1 + margin)·|e_s| for a margin relative to the stable MAE, and those follow exactly
 * from the bivariate moments for any margin, where a summary of |e_c| − |e_s| alone would leave
 * the stable MAE to be plugged in as if it were known. Six numbers fit in a Swarm label as JSON,
 * and two summaries merge, so replicas or restarts can each keep their own.
 *
 * @module
 */

/** Moments of the paired absolute errors; a plain JSON-safe object. */
export interface PairedErrors {
  /** How many samples both versions predicted. */
  readonly pairs: number;
  /** Mean |e_candidate|: the candidate's MAE on the pairs. */
  readonly meanCandidate: number;
  /** Mean |e_stable|: the stable version's MAE on the same pairs. */
  readonly meanStable: number;
  /** Sum of squared deviations of |e_candidate| from its mean. */
  readonly m2Candidate: number;
  /** Sum of squared deviations of |e_stable| from its mean. */
  readonly m2Stable: number;
  /** Sum of the products of both deviations. */
  readonly coMoment: number;
}

/**
 * The six numbers of {@link PairedErrors}, as the `moment` label of metric's
 * `ml_metric_shadow_paired_errors` spells them: metric writes them, the rollout loop reads them.
 */
export const PAIRED_ERROR_MOMENTS: readonly (readonly [string, keyof PairedErrors])[] = [
  ["pairs", "pairs"],
  ["mean_candidate", "meanCandidate"],
  ["mean_stable", "meanStable"],
  ["m2_candidate", "m2Candidate"],
  ["m2_stable", "m2Stable"],
  ["co_moment", "coMoment"],
];

/** No pairs yet. */
export const NO_PAIRS: PairedErrors = Object.freeze({
  pairs: 0,
  meanCandidate: 0,
  meanStable: 0,
  m2Candidate: 0,
  m2Stable: 0,
  coMoment: 0,
});

const FIELDS = [
  "pairs",
  "meanCandidate",
  "meanStable",
  "m2Candidate",
  "m2Stable",
  "coMoment",
] as const;

/**
 * Adds one sample's errors (signed or absolute: only their sizes count).
 *
 * @throws {RangeError} when an error is not finite, rather than poisoning every later mean.
 */
export function addPair(
  state: PairedErrors,
  candidateError: number,
  stableError: number,
): PairedErrors {
  if (!Number.isFinite(candidateError) || !Number.isFinite(stableError)) {
    throw new RangeError(
      `Cannot add pair as both errors must be finite numbers: current values are ${candidateError} and ${stableError}`,
    );
  }
  const c = Math.abs(candidateError);
  const s = Math.abs(stableError);
  const pairs = state.pairs + 1;
  const dc = c - state.meanCandidate;
  const ds = s - state.meanStable;
  const meanCandidate = state.meanCandidate + dc / pairs;
  const meanStable = state.meanStable + ds / pairs;
  return {
    pairs,
    meanCandidate,
    meanStable,
    m2Candidate: state.m2Candidate + dc * (c - meanCandidate),
    m2Stable: state.m2Stable + ds * (s - meanStable),
    coMoment: state.coMoment + dc * (s - meanStable),
  };
}

/** The summary of both sets of pairs together, as if every pair had been added to one. */
export function mergePairedErrors(a: PairedErrors, b: PairedErrors): PairedErrors {
  if (a.pairs === 0) return b;
  if (b.pairs === 0) return a;
  const pairs = a.pairs + b.pairs;
  const dc = b.meanCandidate - a.meanCandidate;
  const ds = b.meanStable - a.meanStable;
  const weight = (a.pairs * b.pairs) / pairs;
  return {
    pairs,
    meanCandidate: a.meanCandidate + (dc * b.pairs) / pairs,
    meanStable: a.meanStable + (ds * b.pairs) / pairs,
    m2Candidate: a.m2Candidate + b.m2Candidate + dc * dc * weight,
    m2Stable: a.m2Stable + b.m2Stable + ds * ds * weight,
    coMoment: a.coMoment + b.coMoment + dc * ds * weight,
  };
}

/** Mean and sample variance of a contrast between the paired errors. */
export interface Moments {
  readonly mean: number;
  /** Sample variance (n − 1 in the denominator); 0 below two pairs. */
  readonly variance: number;
}

/**
 * Mean and variance of |e_c| − `stableWeight`·|e_s| over the pairs: with weight 1 the paired
 * difference d; with 1 + margin the contrast whose mean is negative exactly when the candidate's
 * MAE is below (1 + margin) times the stable one's.
 */
export function contrastMoments(state: PairedErrors, stableWeight = 1): Moments {
  const w = stableWeight;
  const mean = state.meanCandidate - w * state.meanStable;
  if (state.pairs < 2) return { mean, variance: 0 };
  const m2 = state.m2Candidate + w * w * state.m2Stable - 2 * w * state.coMoment;
  // Rounding can leave a tiny negative sum for identical errors; a variance is never below 0.
  return { mean, variance: Math.max(0, m2) / (state.pairs - 1) };
}

/**
 * Checks a summary read back from a label or a file.
 *
 * @throws {TypeError} naming the field and its value when `raw` is not a summary.
 */
export function parsePairedErrors(raw: unknown): PairedErrors {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TypeError(
      `Cannot parse paired errors as they must be an object: current value is ${
        JSON.stringify(raw)
      }`,
    );
  }
  const record = raw as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const field of FIELDS) {
    const value = record[field];
    const valid = typeof value === "number" && Number.isFinite(value) &&
      (field === "pairs" ? Number.isInteger(value) && value >= 0 : true) &&
      (field === "m2Candidate" || field === "m2Stable" ? value >= 0 : true);
    if (!valid) {
      throw new TypeError(
        `Cannot parse paired errors as '${field}' must be a finite${
          field === "pairs" ? " non-negative integer" : " number"
        }: current value is ${JSON.stringify(value)}`,
      );
    }
    out[field] = value as number;
  }
  return out as unknown as PairedErrors;
}

/** The summary as compact JSON, fields in a fixed order, for a label or a log line. */
export function serializePairedErrors(state: PairedErrors): string {
  return JSON.stringify(Object.fromEntries(FIELDS.map((field) => [field, state[field]])));
}
