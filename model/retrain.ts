/**
 * Retraining from what the pipeline recorded, as pure functions: which rows
 * of `metric_log.csv` a window takes, which of them are held out, and how
 * the candidate and the serving model score on the same held-out rows.
 * `train.ts` reads the files and writes the artifact.
 *
 * The held-out split goes by a hash of the sample id, not by a random draw:
 * a sample is on the same side in every window and every run, so a held-out
 * row of one retrain is never a training row of the next, and a rerun on the
 * same records gives the same artifact, byte for byte.
 *
 * @module
 */

import type { PairRecord } from "../metric/metric_log/format.ts";
import { type Dataset, FEATURE_NAMES } from "../stack/dataset.ts";
import {
  fit,
  type ModelArtifact,
  type ModelContent,
  scoreModel,
  scorePredictions,
  type Scores,
} from "./linear.ts";

/** Which recorded samples a retrain learns from; both bounds may apply. */
export interface Window {
  /** Only the last this many samples that carry inputs. */
  readonly last?: number;
  /** Only samples paired at or after this wall-clock ms. */
  readonly sinceMs?: number;
}

/** A recorded sample a model can learn from. */
export interface RecordedSample {
  readonly id: string;
  readonly x: readonly number[];
  readonly y: number;
  /** What the pipeline predicted for it, and with which version. */
  readonly yPred: number;
  readonly modelVersion: string;
}

/** Takes recorded rows in log order and keeps those of the window, counting what it left out. */
export class WindowedSamples {
  readonly #window: Window;
  #samples: RecordedSample[] = [];
  /** Rows in the time window that had no inputs (recorded before model carried them). */
  withoutInputs = 0;
  /** Rows paired before `sinceMs`. */
  beforeWindow = 0;

  constructor(window: Window) {
    this.#window = window;
  }

  /** Offers the next row of the log. */
  add(record: PairRecord): void {
    if (this.#window.sinceMs !== undefined && record.pairedAtMs < this.#window.sinceMs) {
      this.beforeWindow++;
      return;
    }
    if (!record.inputs) {
      this.withoutInputs++;
      return;
    }
    this.#samples.push({
      id: record.id,
      x: record.inputs,
      y: record.yTrue,
      yPred: record.yPred,
      modelVersion: record.modelVersion,
    });
    // Keeps memory to twice the window at most, however long the log.
    const last = this.#window.last;
    if (last !== undefined && this.#samples.length >= 2 * last) {
      this.#samples = this.#samples.slice(-last);
    }
  }

  /** The samples of the window, oldest first. */
  get samples(): RecordedSample[] {
    const last = this.#window.last;
    return last === undefined ? [...this.#samples] : this.#samples.slice(-last);
  }
}

/**
 * Whether the sample `id` is held out, for a `fraction` of all ids: FNV-1a
 * (32-bit) of the id's UTF-16 code units, mixed by MurmurHash3's finaliser
 * (FNV alone leaves ids that differ in their last character close together),
 * scaled to [0, 1).
 */
export function isHeldOut(id: string, fraction: number): boolean {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32 < fraction;
}

/** The data set of `samples`, in the serving model's feature order. */
function dataset(samples: readonly RecordedSample[]): Dataset {
  return {
    featureNames: [...FEATURE_NAMES],
    X: samples.map((s) => [...s.x]),
    y: samples.map((s) => s.y),
  };
}

/** What {@link retrain} gives: the candidate and the comparison on held-out rows. */
export interface Retrained {
  /** Fitted on the training rows; its `training` scores are on those rows. */
  readonly candidate: ModelArtifact;
  readonly rows: { readonly train: number; readonly heldOut: number };
  /** On the same held-out rows: the candidate, the serving model, and the recorded predictions. */
  readonly heldOut: {
    readonly candidate: Scores;
    readonly serving: Scores;
    readonly recorded: Scores;
  };
  /** How many held-out rows each model version predicted, as recorded. */
  readonly recordedVersions: Readonly<Record<string, number>>;
}

/**
 * Fits a candidate to the samples not held out and scores it, the serving
 * model, and the predictions the pipeline recorded, on the held-out ones.
 *
 * @throws {Error} when there are too few rows on either side: a fit needs
 * one more row than there are features, a score needs one row.
 */
export async function retrain(
  samples: readonly RecordedSample[],
  options: { readonly holdout: number; readonly serving: ModelContent },
): Promise<Retrained> {
  const train: RecordedSample[] = [];
  const test: RecordedSample[] = [];
  for (const s of samples) (isHeldOut(s.id, options.holdout) ? test : train).push(s);
  const needed = FEATURE_NAMES.length + 1;
  if (train.length < needed || test.length === 0) {
    throw new Error(
      `Cannot retrain as it needs at least ${needed} training rows and 1 held-out row: ` +
        `the window gave ${train.length} and ${test.length} (holdout ${options.holdout})`,
    );
  }
  const candidate = await fit(dataset(train));
  const heldOut = dataset(test);
  const recordedVersions: Record<string, number> = {};
  for (const s of test) {
    recordedVersions[s.modelVersion] = (recordedVersions[s.modelVersion] ?? 0) + 1;
  }
  return {
    candidate,
    rows: { train: train.length, heldOut: test.length },
    heldOut: {
      candidate: scoreModel(candidate, heldOut),
      serving: scoreModel(options.serving, heldOut),
      recorded: scorePredictions(test.map((s) => s.y), test.map((s) => s.yPred)),
    },
    recordedVersions,
  };
}
