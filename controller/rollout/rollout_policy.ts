/**
 * The rollout policy: how much worse a candidate may be and still be promoted, the error rate
 * of each test, and how long a shadow may run. Read from strings, so the same definition serves
 * service labels (`ml.rollout.min-pairs`) and the environment (`ROLLOUT_MIN_PAIRS`); every bad
 * value is named with its key, all at once.
 *
 * The defaults are checked by `simulation_test.ts` on the diabetes residuals: `min-pairs` is
 * where a candidate 10% worse in MAE is rejected at the first look with 95% power, with room to
 * spare. `simulate.ts` prints the figures (the README's "Deciding a rollout").
 *
 * @module
 */

/** A checked rollout policy. */
export interface RolloutPolicy {
  /**
   * How much worse, relative to the stable MAE, a candidate may be and still be promoted
   * (0.02: up to 2% higher MAE). Negative demands an improvement (−0.02: 2% lower MAE); 0 is a
   * plain superiority test.
   */
  readonly margin: number;
  /**
   * Error rate of each one-sided test, over the whole shadow however often it is looked at: an
   * equal candidate is rejected, or one worse than the margin promoted, with at most this
   * probability.
   */
  readonly alpha: number;
  /** No verdict before this many labelled pairs: the variance estimate needs them. */
  readonly minPairs: number;
  /** Undecided at this many pairs: abort. */
  readonly maxPairs: number;
  /** Undecided this long after the shadow started: abort. */
  readonly timeLimitSeconds: number;
  /** How often the rollout loop looks (any cadence is valid: the bounds hold at every look). */
  readonly lookSeconds: number;
}

/** The policy when no key is given. */
export const DEFAULT_ROLLOUT_POLICY: RolloutPolicy = Object.freeze({
  margin: 0.02,
  alpha: 0.05,
  minPairs: 1200,
  maxPairs: 10000,
  timeLimitSeconds: 7200,
  lookSeconds: 15,
});

interface KeySpec {
  readonly field: keyof RolloutPolicy;
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

/** The policy's keys, as written in labels after the prefix. */
export const ROLLOUT_POLICY_KEYS: Readonly<Record<string, KeySpec>> = Object.freeze({
  "margin": { field: "margin", min: -0.5, max: 0.5, integer: false },
  "alpha": { field: "alpha", min: 0.0001, max: 0.25, integer: false },
  "min-pairs": { field: "minPairs", min: 30, max: 1_000_000, integer: true },
  "max-pairs": { field: "maxPairs", min: 30, max: 100_000_000, integer: true },
  "time-limit-seconds": { field: "timeLimitSeconds", min: 1, max: 30 * 86400, integer: true },
  "look-seconds": { field: "lookSeconds", min: 1, max: 3600, integer: true },
});

/** Where the keys live: labels `ml.rollout.min-pairs`, or environment `ROLLOUT_MIN_PAIRS`. */
export interface RolloutPolicyNaming {
  /** Put before each key; `"ml.rollout."` for labels. */
  readonly prefix: string;
  /** `"env"` writes keys in upper case with `_` for `-`. */
  readonly style: "label" | "env";
}

/** Labels on a service: `ml.rollout.margin` and so on. */
export const LABEL_NAMING: RolloutPolicyNaming = Object.freeze({
  prefix: "ml.rollout.",
  style: "label",
});

/** Environment variables: `ROLLOUT_MARGIN` and so on. */
export const ENV_NAMING: RolloutPolicyNaming = Object.freeze({ prefix: "ROLLOUT_", style: "env" });

/** The full name of `key` under `naming`. */
export function rolloutPolicyName(key: string, naming: RolloutPolicyNaming = LABEL_NAMING): string {
  const name = naming.style === "env" ? key.toUpperCase().replaceAll("-", "_") : key;
  return `${naming.prefix}${name}`;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)$/;

/**
 * Reads a rollout policy from `values` (labels or environment): absent or empty keys take the
 * defaults; a name under the prefix that is no key is a problem too, as it is most likely a typo.
 *
 * @throws {RangeError} naming every bad key with its value, and `max-pairs` below `min-pairs`.
 */
export function parseRolloutPolicy(
  values: Readonly<Record<string, string | undefined>>,
  naming: RolloutPolicyNaming = LABEL_NAMING,
): RolloutPolicy {
  const problems: string[] = [];
  const policy: Record<string, number> = { ...DEFAULT_ROLLOUT_POLICY };
  const known = new Set<string>();
  for (const [key, spec] of Object.entries(ROLLOUT_POLICY_KEYS)) {
    const name = rolloutPolicyName(key, naming);
    known.add(name);
    const raw = values[name]?.trim();
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    const shaped = spec.integer ? /^\d+$/.test(raw) : DECIMAL.test(raw);
    if (!shaped || value < spec.min || value > spec.max) {
      problems.push(
        `'${name}' must be ${
          spec.integer ? "an integer" : "a number"
        } from ${spec.min} to ${spec.max}: current value is ${JSON.stringify(raw)}`,
      );
      continue;
    }
    policy[spec.field] = value;
  }
  for (const name of Object.keys(values)) {
    if (name.startsWith(naming.prefix) && !known.has(name)) {
      problems.push(
        `'${name}' is not a rollout policy key (known: ${
          [...known].join(", ")
        }): current value is ${JSON.stringify(values[name])}`,
      );
    }
  }
  if (problems.length === 0 && policy.maxPairs < policy.minPairs) {
    problems.push(
      `'${rolloutPolicyName("max-pairs", naming)}' must be at least '${
        rolloutPolicyName("min-pairs", naming)
      }' (${policy.minPairs}): current value is ${JSON.stringify(String(policy.maxPairs))}`,
    );
  }
  if (problems.length > 0) {
    throw new RangeError(`Cannot read rollout policy as ${problems.join("; ")}`);
  }
  return Object.freeze(policy as unknown as RolloutPolicy);
}
