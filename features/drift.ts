/**
 * Drift you can switch on: from a given moment, features shifts or scales
 * chosen input columns and/or the true target of every sample it sends. The
 * model then sees inputs unlike its training data (or labels that moved),
 * and the live error grows for real: this is what the ModelDrift alert and
 * the dashboard's MAE per version are there to catch.
 *
 * Written as `column op value`, comma-separated: `bmi*3,s5+0.1` for the
 * features (`DRIFT_FEATURES`), `*1.5` for the target (`DRIFT_TARGET`).
 * Pure: parsing and application, no clock (the caller says how far it is).
 *
 * @module
 */
import { FEATURE_NAMES } from "../stack/dataset.ts";
import type { Sample } from "./sampler.ts";

/** Add, subtract or multiply by a constant. */
export type DriftOperator = "+" | "-" | "*";

/** One change to one number. */
export interface Shift {
  readonly operator: DriftOperator;
  readonly operand: number;
}

/** A change to one feature column. */
export interface ColumnShift extends Shift {
  readonly column: string;
  /** Its position in the feature vector. */
  readonly index: number;
}

/** What drifts and from when; both thresholds must be reached. */
export interface DriftPlan {
  readonly features: readonly ColumnShift[];
  readonly target?: Shift;
  /** Samples sent before the drift starts. */
  readonly afterSamples: number;
  /** Milliseconds since sending started before the drift starts. */
  readonly afterMs: number;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseShift(operator: string, operand: string, term: string): Shift {
  const value = Number(operand);
  if (!NUMBER.test(operand) || !Number.isFinite(value)) {
    throw new SyntaxError(`'${term}' needs a number after '${operator}'`);
  }
  return { operator: operator as DriftOperator, operand: value };
}

/**
 * Parses `DRIFT_FEATURES`: comma-separated `column op number`, with op one of
 * `+`, `-`, `*` and column one of `names`. Empty text: no drift.
 *
 * @throws {SyntaxError} naming the term that does not parse or the unknown column.
 */
export function parseFeatureDrift(
  text: string,
  names: readonly string[] = FEATURE_NAMES,
): ColumnShift[] {
  const shifts: ColumnShift[] = [];
  for (const raw of text.split(",")) {
    const term = raw.replaceAll(/\s+/g, "");
    if (term === "") continue;
    const match = term.match(/^([A-Za-z_]\w*)([+*-])(.+)$/);
    if (!match) throw new SyntaxError(`'${term}' is not 'column op number', like bmi*3`);
    const [, column, operator, operand] = match;
    const index = names.indexOf(column);
    if (index < 0) {
      throw new SyntaxError(`'${term}' names no feature column (one of ${names.join(", ")})`);
    }
    shifts.push({ column, index, ...parseShift(operator, operand, term) });
  }
  return shifts;
}

/**
 * Parses `DRIFT_TARGET`: `op number`, e.g. `*1.5` or `+30`. Empty text: none.
 *
 * @throws {SyntaxError} when the text does not parse.
 */
export function parseTargetDrift(text: string): Shift | undefined {
  const term = text.replaceAll(/\s+/g, "");
  if (term === "") return undefined;
  const match = term.match(/^([+*-])(.+)$/);
  if (!match) throw new SyntaxError(`'${term}' is not 'op number', like *1.5 or +30`);
  return parseShift(match[1], match[2], term);
}

/** True when the plan changes anything at all. */
export function driftConfigured(plan: DriftPlan): boolean {
  return plan.features.length > 0 || plan.target !== undefined;
}

/** Whether the drift is on once `samples` were sent over `elapsedMs`. */
export function driftStarted(
  plan: DriftPlan,
  progress: { samples: number; elapsedMs: number },
): boolean {
  return driftConfigured(plan) && progress.samples >= plan.afterSamples &&
    progress.elapsedMs >= plan.afterMs;
}

function shift(value: number, { operator, operand }: Shift): number {
  switch (operator) {
    case "+":
      return value + operand;
    case "-":
      return value - operand;
    case "*":
      return value * operand;
  }
}

/** The sample with the plan's shifts applied; the row it came from is kept. */
export function applyDrift(sample: Sample, plan: DriftPlan): Sample {
  const features = [...sample.features];
  for (const s of plan.features) features[s.index] = shift(features[s.index], s);
  const target = plan.target ? shift(sample.target, plan.target) : sample.target;
  return { row: sample.row, features, target };
}

/** The plan as its settings would write it, for the log: `bmi*3, s5+0.1, target*1.5`. */
export function describeDrift(plan: DriftPlan): string {
  const terms = plan.features.map((s) => `${s.column}${s.operator}${s.operand}`);
  if (plan.target) terms.push(`target${plan.target.operator}${plan.target.operand}`);
  return terms.join(", ");
}
