/**
 * Prints the rollout decision's error rates on the diabetes residuals, and the smallest minimum
 * pair count at which a candidate 10% worse in MAE is rejected at its first look with 95% power:
 *
 * ```sh
 * deno run --allow-read=stack/data/diabetes.csv controller/rollout/simulate.ts [--trials 2000] [--seed 19]
 * ```
 *
 * @module
 */

import { loadDiabetes } from "../../stack/dataset.ts";
import { DEFAULT_ROLLOUT_POLICY, type RolloutPolicy } from "./rollout_policy.ts";
import { bootstrapResiduals, type Rates, seededRandom, simulateRollouts } from "./simulation.ts";

/** How many bootstrap fits the versions of each trial are drawn from. */
export const POOL_SIZE = 60;

/** The scenarios of the table: the candidate's MAE over the stable's. */
const RATIOS = [1, 1.02, 1.05, 1.1, 1.2];

function option(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot simulate as '${name}' must be a positive integer: current value is ${
        JSON.stringify(args[at + 1])
      }`,
    );
  }
  return value;
}

/**
 * The smallest multiple of `step` pairs at which a candidate `ratio` times worse is rejected at
 * its first look in at least `power` of `trials` shadows (the mixture tuned to that minimum).
 */
export function smallestMinimum(
  pool: readonly (readonly number[])[],
  policy: RolloutPolicy,
  options: { ratio: number; power: number; trials: number; seed: number; step: number },
): number {
  const powerAt = (minPairs: number) =>
    simulateRollouts({
      pool,
      policy: { ...policy, minPairs, maxPairs: minPairs },
      trials: options.trials,
      ratio: options.ratio,
      random: seededRandom(options.seed),
    }).rejectAtMinimum;
  let low = 0;
  let high = options.step;
  while (powerAt(high) < options.power) {
    low = high;
    high *= 2;
  }
  while (high - low > options.step) {
    const mid = Math.round((low + high) / 2 / options.step) * options.step;
    if (powerAt(mid) >= options.power) high = mid;
    else low = mid;
  }
  return high;
}

function row(name: string, rates: Rates): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  return `${name.padEnd(22)}${rates.maeRatio.toFixed(3).padStart(7)}${pct(rates.promote)}${
    pct(rates.reject)
  }${pct(rates.rejectAtMinimum)}${pct(rates.abort)}${String(rates.medianPairs).padStart(9)}${
    rates.noWorse > 0 ? `${pct(rates.falseRollback)} of ${rates.noWorse}` : ""
  }`;
}

/** Runs the simulation with command-line `args` and prints the table. */
export async function main(args: readonly string[]): Promise<void> {
  const trials = option(args, "--trials", 2000);
  const seed = option(args, "--seed", 19);
  const policy = DEFAULT_ROLLOUT_POLICY;
  const ds = await loadDiabetes();
  const pool = await bootstrapResiduals(ds, POOL_SIZE, seededRandom(seed));
  console.log(
    `policy: margin ${policy.margin}, alpha ${policy.alpha}, min pairs ${policy.minPairs}, max pairs ${policy.maxPairs}; ${trials} trials, seed ${seed}`,
  );
  console.log(
    `${"candidate".padEnd(22)}${"ratio".padStart(7)}${"promote".padStart(7)}${
      "reject".padStart(7)
    }${"rej@min".padStart(7)}${"abort".padStart(7)}${
      "median n".padStart(9)
    }  false rollback (of no-worse)`,
  );
  for (const ratio of RATIOS) {
    const name = ratio === 1 ? "A/A (two retrains)" : `${Math.round((ratio - 1) * 100)}% worse MAE`;
    const rates = simulateRollouts({
      pool,
      policy,
      trials,
      ratio,
      random: seededRandom(seed + Math.round(ratio * 100)),
    });
    console.log(row(name, rates));
  }
  const minimum = smallestMinimum(pool, policy, {
    ratio: 1.1,
    power: 0.95,
    trials,
    seed,
    step: 50,
  });
  console.log(
    `smallest minimum pair count rejecting a 10% worse candidate at its first look with 95% power: ${minimum}`,
  );
}

if (import.meta.main) await main(Deno.args);
