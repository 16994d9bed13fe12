/**
 * Reading and writing `model/model.json`, the artifact that `deno task train` produces and the
 * model service serves.
 *
 * @module
 */

import { FEATURE_COUNT, FEATURE_NAMES } from "../stack/dataset.ts";
import { ARTIFACT_FORMAT, type ModelArtifact, modelVersion, type Scores } from "./linear.ts";

/** Where the artifact lives, relative to the repo root, where tasks run. */
export const MODEL_PATH = "model/model.json";

const TOP_KEYS = ["format", "version", "featureNames", "weights", "intercept", "training"];
const TRAINING_KEYS = ["rows", "mae", "rmse", "r2"];
const VERSION = /^sha256-[0-9a-f]{16}$/;

/**
 * The bytes to store for `model`: JSON indented by two spaces with the keys in a fixed order and
 * a trailing newline, so the same model always gives the same file.
 */
export function serializeModelArtifact(model: ModelArtifact): string {
  const ordered: ModelArtifact = {
    format: model.format,
    version: model.version,
    featureNames: model.featureNames,
    weights: model.weights,
    intercept: model.intercept,
    training: {
      rows: model.training.rows,
      mae: model.training.mae,
      rmse: model.training.rmse,
      r2: model.training.r2,
    },
  };
  return JSON.stringify(ordered, null, 2) + "\n";
}

/**
 * Checks that `raw` (e.g. the result of `JSON.parse`) is a whole, untampered artifact and returns
 * a copy of it. Refuses another format, unknown or missing keys, feature names other than the
 * data set's, wrong lengths, non-finite numbers, and a `version` that does not match the content
 * (reported as corrupt).
 *
 * @throws {Error} saying which field is wrong and its current value.
 */
export function parseModelArtifact(raw: unknown): Promise<ModelArtifact> {
  return checkArtifact(raw, "model");
}

/**
 * Reads and checks the artifact at `path`. Needs read permission for `path`.
 *
 * @throws {Error} naming `path`: when the file is missing (saying to run `deno task train`), is
 * not JSON, or fails {@linkcode parseModelArtifact}.
 */
export async function loadModelArtifact(path: string = MODEL_PATH): Promise<ModelArtifact> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot load model from '${path}': file not found; run \`deno task train\``,
        { cause: error },
      );
    }
    throw new Error(`Cannot load model from '${path}': ${(error as Error).message}`, {
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `Cannot load model from '${path}' as it is not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return await checkArtifact(raw, `model from '${path}'`);
}

async function checkArtifact(raw: unknown, what: string): Promise<ModelArtifact> {
  const fail = (reason: string): never => {
    throw new Error(`Cannot load ${what} as ${reason}`);
  };
  const top = checkRecord(raw, "the artifact", TOP_KEYS, fail);

  if (top.format !== ARTIFACT_FORMAT) {
    fail(`'format' must be ${ARTIFACT_FORMAT}: current value is ${show(top.format)}`);
  }
  if (typeof top.version !== "string" || !VERSION.test(top.version)) {
    fail(`'version' must be 'sha256-' and 16 hex digits: current value is ${show(top.version)}`);
  }
  const version = top.version as string;

  const featureNames = checkArray(top.featureNames, "featureNames", FEATURE_COUNT, "names", fail);
  // Feature vectors carry no names, so a model in another order would silently mispredict.
  if (featureNames.some((name, i) => name !== FEATURE_NAMES[i])) {
    fail(
      `'featureNames' must be '${FEATURE_NAMES.join(",")}': current value is ${show(featureNames)}`,
    );
  }
  const weights = checkArray(top.weights, "weights", FEATURE_COUNT, "numbers", fail);
  weights.forEach((w, i) => checkFinite(w, `weights[${i}]`, fail));
  const intercept = checkFinite(top.intercept, "intercept", fail);

  const training = checkRecord(top.training, "'training'", TRAINING_KEYS, fail);
  const rows = checkFinite(training.rows, "training.rows", fail);
  if (!Number.isInteger(rows) || rows < 1) {
    fail(`'training.rows' must be a positive integer: current value is ${rows}`);
  }
  const scores: Scores = {
    rows,
    mae: checkFinite(training.mae, "training.mae", fail),
    rmse: checkFinite(training.rmse, "training.rmse", fail),
    r2: checkFinite(training.r2, "training.r2", fail),
  };

  const content = {
    featureNames: featureNames as string[],
    weights: weights as number[],
    intercept,
  };
  const actual = await modelVersion(content);
  if (actual !== version) {
    fail(`it is corrupt: 'version' is '${version}' but the content hashes to '${actual}'`);
  }
  return { format: ARTIFACT_FORMAT, version, ...content, training: scores };
}

type Fail = (reason: string) => never;

function checkRecord(
  value: unknown,
  name: string,
  keys: readonly string[],
  fail: Fail,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(`${name} must be an object: current value is ${show(value)}`);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((k) => !keys.includes(k));
  if (unknown.length > 0) {
    fail(`${name} must have only the keys ${keys.join(", ")}: found '${unknown.join("', '")}'`);
  }
  const missing = keys.filter((k) => !(k in record));
  if (missing.length > 0) {
    fail(`${name} must have the keys ${keys.join(", ")}: missing '${missing.join("', '")}'`);
  }
  return record;
}

function checkArray(
  value: unknown,
  name: string,
  length: number,
  items: string,
  fail: Fail,
): unknown[] {
  if (!Array.isArray(value)) {
    return fail(`'${name}' must be an array: current value is ${show(value)}`);
  }
  if (value.length !== length) {
    fail(`'${name}' must have ${length} ${items}: current length is ${value.length}`);
  }
  return [...value];
}

function checkFinite(value: unknown, name: string, fail: Fail): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return fail(`'${name}' must be a finite number: current value is ${show(value)}`);
  }
  return value;
}

// JSON.stringify would print NaN as null and drop undefined, hiding what was wrong.
function show(value: unknown): string {
  if (typeof value === "number" || value === undefined) return String(value);
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
