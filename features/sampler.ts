/**
 * The features service's pure core: which row comes next, and the two
 * messages (`y_true`, `features`) that carry one sample.
 *
 * @module
 */
import { encodeBody, HEADERS } from "../stack/contracts.ts";
import type { Dataset } from "../stack/dataset.ts";
import type { OutgoingMessage as Outgoing } from "../stack/publish_until_confirmed.ts";

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * A small, fast, seedable generator (mulberry32): the same seed gives the
 * same sequence of rows on every machine, which makes a run reproducible.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One row of the data set, picked for sending. */
export interface Sample {
  readonly row: number;
  readonly features: readonly number[];
  readonly target: number;
}

/** Picks a uniformly random row. */
export function pickSample(dataset: Dataset, random: Random): Sample {
  const row = Math.floor(random() * dataset.y.length);
  return { row, features: dataset.X[row], target: dataset.y[row] };
}

/** A message ready to publish, to one of the two queues a sample goes to. */
export interface OutgoingMessage extends Outgoing {
  readonly queue: "y_true" | "features";
}

/**
 * The two messages of one sample. They share `messageId`, the id the metric
 * service pairs truth and prediction by, and the send time in ms (fractional,
 * wall clock) for end-to-end latency.
 */
export function sampleMessages(
  sample: Sample,
  context: { id: string; sentAtMs: number; replica: string },
): [OutgoingMessage, OutgoingMessage] {
  const properties = {
    messageId: context.id,
    contentType: "application/json",
    appId: "features",
    timestamp: new Date(Math.floor(context.sentAtMs)),
    headers: { [HEADERS.sentAtMs]: context.sentAtMs, [HEADERS.replica]: context.replica },
  };
  return [
    { queue: "y_true", body: encodeBody(sample.target), properties },
    { queue: "features", body: encodeBody(sample.features), properties },
  ];
}
