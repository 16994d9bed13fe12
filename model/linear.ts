/**
 * Ordinary least squares on the diabetes features: fitting, the version hash that names a fit,
 * prediction and scoring. Pure: no I/O.
 *
 * @module
 */

import MLR from "ml-regression-multivariate-linear";
import type { Dataset } from "../stack/dataset.ts";

/** The only artifact layout that this code writes and reads. */
export const ARTIFACT_FORMAT = 1;

/** How well a model fits a data set. */
export interface Scores {
  /** How many rows were scored. */
  rows: number;
  /** Mean absolute error. */
  mae: number;
  /** Root of the mean squared error. */
  rmse: number;
  /** Coefficient of determination, as scikit-learn's `r2_score` computes it. */
  r2: number;
}

/** What a prediction needs: one weight per feature and the intercept. */
export interface ModelContent {
  /** Names of the features, in the order of `weights`. */
  featureNames: string[];
  /** One weight per feature. */
  weights: number[];
  /** Added to every prediction. */
  intercept: number;
}

/** A fitted linear model as stored in `model/model.json`. */
export interface ModelArtifact extends ModelContent {
  /** Layout of the artifact; always {@linkcode ARTIFACT_FORMAT}. */
  format: 1;
  /** `"sha256-"` and 16 hex digits naming the content; see {@linkcode modelVersion}. */
  version: string;
  /** Scores of the model on the data it was fitted to. */
  training: Scores;
}

/**
 * The canonical JSON of a model's content that its version hashes: the keys `featureNames`,
 * `weights` and `intercept` in that order, numbers as JavaScript prints them (the shortest text
 * that round-trips), no whitespace. Other keys of `content` are ignored.
 */
export function canonicalModelJson(content: ModelContent): string {
  return JSON.stringify({
    featureNames: content.featureNames,
    weights: content.weights,
    intercept: content.intercept,
  });
}

/**
 * Names a model's content: `"sha256-"` and the first 16 hex digits of the SHA-256 of
 * {@linkcode canonicalModelJson}. Equal content gives an equal version, and any change to a name,
 * a weight or the intercept gives another.
 *
 * @example
 * ```ts
 * await modelVersion({ featureNames: ["a"], weights: [1], intercept: 0 }); // "sha256-…"
 * ```
 */
export async function modelVersion(content: ModelContent): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalModelJson(content));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = Array.from(digest.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return `sha256-${hex}`;
}

/**
 * Fits ordinary least squares with an intercept to `ds`, and scores the fit on `ds`.
 *
 * @throws {Error} when `ds` has fewer rows than unknowns, or rows of the wrong length.
 */
export async function fit(ds: Dataset): Promise<ModelArtifact> {
  const features = ds.featureNames.length;
  if (ds.X.length !== ds.y.length) {
    throw new Error(
      `Cannot fit model as 'X' and 'y' must have the same length: current lengths are ${ds.X.length} and ${ds.y.length}`,
    );
  }
  // With fewer rows than unknowns the normal equations are singular and the weights arbitrary.
  if (ds.X.length < features + 1) {
    throw new Error(
      `Cannot fit model as it needs at least ${features + 1} rows: current count is ${ds.X.length}`,
    );
  }
  ds.X.forEach((row, i) => checkVector("fit model", `X[${i}]`, row, features));
  const mlr = new MLR(ds.X, ds.y.map((v) => [v]), { intercept: true, statistics: false });
  // The library puts one row per input, then the intercept row; one column per output.
  const content: ModelContent = {
    featureNames: [...ds.featureNames],
    weights: mlr.weights.slice(0, features).map((row) => row[0]),
    intercept: mlr.weights[features][0],
  };
  return {
    format: ARTIFACT_FORMAT,
    version: await modelVersion(content),
    featureNames: content.featureNames,
    weights: content.weights,
    intercept: content.intercept,
    training: scoreModel(content, ds),
  };
}

/**
 * Predicts the target of one feature vector: the intercept plus the dot product of the weights
 * with `x`, summed in the same order as `ml-regression-multivariate-linear` so both agree to the
 * last bit.
 *
 * @throws {Error} when `x` has the wrong length or a non-finite number, rather than returning NaN.
 */
export function predict(
  model: Pick<ModelContent, "weights" | "intercept">,
  x: readonly number[],
): number {
  const weights = model.weights;
  checkVector("predict", "x", x, weights.length);
  let sum = model.intercept;
  for (let i = 0; i < weights.length; i++) sum += weights[i] * x[i];
  return sum;
}

/**
 * Scores `model` on `ds` with MAE, RMSE and R². Like scikit-learn, R² is 1 for a perfect fit of
 * a constant target and 0 for an imperfect one, instead of dividing by zero.
 *
 * @throws {Error} when `ds` is empty or names other features than `model`.
 */
export function scoreModel(model: ModelContent, ds: Dataset): Scores {
  if (ds.featureNames.join(",") !== model.featureNames.join(",")) {
    throw new Error(
      `Cannot score model as the data set's features must be '${
        model.featureNames.join(",")
      }': current features are '${ds.featureNames.join(",")}'`,
    );
  }
  const rows = ds.X.length;
  if (rows === 0 || rows !== ds.y.length) {
    throw new Error(
      `Cannot score model as 'X' and 'y' must have the same non-zero length: current lengths are ${rows} and ${ds.y.length}`,
    );
  }
  return scorePredictions(ds.y, ds.X.map((x) => predict(model, x)));
}

/**
 * Scores predictions `predicted` of the targets `y` (same length, at least one) with MAE, RMSE
 * and R², as {@linkcode scoreModel} does: for a model, or for predictions as they were recorded.
 */
export function scorePredictions(y: readonly number[], predicted: readonly number[]): Scores {
  const rows = y.length;
  if (rows === 0 || rows !== predicted.length) {
    throw new Error(
      `Cannot score predictions as 'y' and 'predicted' must have the same non-zero length: current lengths are ${rows} and ${predicted.length}`,
    );
  }
  let mean = 0;
  for (const v of y) mean += v;
  mean /= rows;
  let absolute = 0;
  let squared = 0;
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const residual = y[i] - predicted[i];
    absolute += Math.abs(residual);
    squared += residual * residual;
    total += (y[i] - mean) ** 2;
  }
  const r2 = total !== 0 ? 1 - squared / total : squared === 0 ? 1 : 0;
  return { rows, mae: absolute / rows, rmse: Math.sqrt(squared / rows), r2 };
}

function checkVector(action: string, name: string, x: readonly number[], length: number): void {
  if (x.length !== length) {
    throw new Error(
      `Cannot ${action} as '${name}' must have ${length} numbers: current length is ${x.length}`,
    );
  }
  for (let i = 0; i < length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new Error(
        `Cannot ${action} as '${name}' must hold finite numbers: current value at ${i} is ${x[i]}`,
      );
    }
  }
}
