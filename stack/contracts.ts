/**
 * The message contract, in one place: queue names, header names, and the
 * parsers that turn a raw delivery into a typed value or a reason to
 * dead-letter it.
 *
 * Bodies stay plain JSON as in the original course (`302` on `y_true`, an
 * array of ten numbers on `features`), so `rabbitmqadmin get queue=y_true`
 * stays readable. Everything else travels in AMQP properties:
 *
 * | property        | features / y_true        | y_pred                          |
 * |-----------------|--------------------------|---------------------------------|
 * | `messageId`     | the sample id (shared)   | the sample id                   |
 * | `correlationId` | –                        | the sample id                   |
 * | `timestamp`     | publish time (seconds)   | publish time (seconds)          |
 * | `appId`         | `features`               | `model`                         |
 * | `contentType`   | `application/json`       | `application/json`              |
 * | headers         | `sent-at-ms`, `replica`  | `sent-at-ms` (copied), `model-version`, `replica` |
 * | more headers    | –                        | `received-at-ms`, `predicted-at-ms` (model's)  |
 * | `inputs`        | –                        | the feature vector predicted from, JSON text   |
 *
 * A candidate model in shadow reads `features_shadow` (the same messages as
 * `features`) and publishes to `y_pred_shadow` with exactly `y_pred`'s contract.
 *
 * @module
 */

/** The queues of the pipeline, declared in `stack/topology.ts`. */
export const QUEUES = {
  features: "features",
  yTrue: "y_true",
  yPred: "y_pred",
  deadLetter: "dead_letter",
  /**
   * A copy of every `features` message for a candidate model in shadow, bound to `features`'
   * exchange only while a candidate runs (`bindShadowCopy` in `stack/topology.ts`).
   */
  featuresShadow: "features_shadow",
  /** A candidate's predictions: paired by metric apart from `y_pred`, never in the stable MAE. */
  yPredShadow: "y_pred_shadow",
} as const;

/** Header names; lower-case and dashed like HTTP's, no `x-` prefix (RFC 6648). */
export const HEADERS = {
  /** Wall-clock ms (fractional) when features published the sample: end-to-end latency. */
  sentAtMs: "sent-at-ms",
  /** Wall-clock ms (fractional) when model's handler got the feature vector: per-hop latency. */
  receivedAtMs: "received-at-ms",
  /** Wall-clock ms (fractional) when model published the prediction: per-hop latency. */
  predictedAtMs: "predicted-at-ms",
  /**
   * The feature vector a prediction was made from, as compact JSON text: metric records it
   * beside the truth, so a retrain learns from what the pipeline saw. The truth never goes
   * to the model; the inputs come to metric with the prediction.
   */
  inputs: "inputs",
  /** The artifact version that made a prediction. */
  modelVersion: "model-version",
  /** The process that published the message. */
  replica: "replica",
  /** Why a message was dead-lettered: one of `REASON_CODES` (`dead_letter_reasons.ts`). */
  deadLetterCode: "dead-letter-code",
  /** Why a message was dead-lettered, in words: printable, at most 200 characters. */
  deadLetterReason: "dead-letter-reason",
  /** Wall-clock ms when a service dead-lettered the message. */
  deadLetteredAtMs: "dead-lettered-at-ms",
  /** The queue a dead-lettered message was consumed from. */
  deadLetterQueue: "dead-letter-queue",
  /**
   * The process that dead-lettered it. Apart from `replica`, which stays the
   * publisher's, so a replayed prediction is still credited to its model replica.
   */
  deadLetterReplica: "dead-letter-replica",
  /** Set when a dead-lettered body was cut to keep the dead-letter queue small: its size. */
  deadLetterTruncated: "dead-letter-truncated",
  /** Set when a dead-letter copy left out or shortened headers of the original: how many. */
  deadLetterHeadersCut: "dead-letter-headers-cut",
  /** Set on a minimal dead-letter envelope: why the full copy could not be published. */
  deadLetterMinimal: "dead-letter-minimal",
} as const;

// The data set owns the vector length; the contract repeats it for its readers.
export { FEATURE_COUNT } from "./dataset.ts";
import { FEATURE_COUNT } from "./dataset.ts";
import type { ReasonCode } from "./dead_letter_reasons.ts";
import { hasControlCharacter } from "./printable.ts";
/** Default bound on a body's size; a feature vector is about 220 bytes. */
export const DEFAULT_MAX_BODY_BYTES = 4096;
/** Longest accepted message id. */
export const MAX_ID_LENGTH = 128;

/*
 * Accepted numbers. JSON admits any double, but arithmetic on doubles near
 * the top of their range overflows: ten features of 1e307 times weights of
 * a few hundred make a prediction of Infinity, and the absolute error of
 * two finite numbers (1e308 and -1e308) is Infinity. So the contract bounds
 * every number far inside the range where the pipeline's arithmetic stays
 * finite and exact to well under one unit of the target:
 * - features: |x| ≤ 1e6. The diabetes features are standardized to about
 *   ±0.2; 1e6 is seven orders above anything real (a producer that forgot
 *   to standardize sends values in the hundreds) yet, with the trained
 *   weights (sum of |w| about 3,500), predictions stay below 4e9.
 * - y_true and y_pred: |y| ≤ 1e12. The target is 25..346; 1e12 admits every
 *   prediction an accepted feature vector can produce with weights up to
 *   1e5, and keeps an absolute error below 2e12, so the running sums of
 *   metric's statistics stay finite (and integral to 1 unit) for more than
 *   1e3 years of samples at 10,000 a second.
 * A number outside its range is dead-lettered with the range in the reason.
 * Outputs are held to the same bounds before they leave (model's infer()).
 */
/** Largest accepted magnitude of a feature; see the comment above. */
export const MAX_FEATURE_MAGNITUDE = 1e6;
/** Largest accepted magnitude of a target or prediction; see the comment above. */
export const MAX_TARGET_MAGNITUDE = 1e12;

/**
 * A parse result: the value, or why the message must be dead-lettered: a
 * {@link ReasonCode} and the detail (which may quote the message).
 */
export type Parsed<T> =
  | { ok: true; value: T }
  | { ok: false; code: ReasonCode; reason: string };

function fail<T>(code: ReasonCode, reason: string): Parsed<T> {
  return { ok: false, code, reason };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseJson(body: Uint8Array | null, maxBytes: number): Parsed<unknown> {
  const size = body?.byteLength ?? 0;
  if (size > maxBytes) return fail("too_large", `body too large: ${size} bytes, limit ${maxBytes}`);
  if (size === 0) return fail("empty_body", "empty body");
  let text: string;
  try {
    text = decoder.decode(body!);
  } catch {
    return fail("not_utf8", "body is not UTF-8");
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return fail("malformed_json", `body is not JSON: ${(error as SyntaxError).message}`);
  }
}

/**
 * The sample id of a message: `messageId`, or for predictions `correlationId`.
 * Ids are opaque text up to {@link MAX_ID_LENGTH} characters.
 */
export function parseId(raw: unknown, property: string): Parsed<string> {
  if (typeof raw !== "string" || raw.length === 0) return fail("missing_id", `missing ${property}`);
  // Ids land in CSV cells, log lines and terminals: no control characters (a newline would
  // split a row, ESC or C1 would drive the terminal, a bidi control would disguise the id).
  // Refused rather than escaped: an escaped id is another id, and features never sends one.
  if (hasControlCharacter(raw)) return fail("bad_id", `${property} contains a control character`);
  // A lone surrogate cannot be written as UTF-8: the CSV would hold another id than the one
  // de-duplicated, and a redelivery after a restart would be recorded twice.
  if (!raw.isWellFormed()) return fail("bad_id", `${property} contains a lone surrogate`);
  if (raw.length > MAX_ID_LENGTH) {
    return fail("bad_id", `${property} too long: ${raw.length} characters, limit ${MAX_ID_LENGTH}`);
  }
  return { ok: true, value: raw };
}

/** A `features` body: exactly {@link FEATURE_COUNT} finite numbers. */
export function parseFeatureVector(
  body: Uint8Array | null,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Parsed<number[]> {
  const json = parseJson(body, maxBytes);
  if (!json.ok) return json;
  const value = json.value;
  if (!Array.isArray(value)) {
    return fail("wrong_type", `expected an array of ${FEATURE_COUNT} numbers`);
  }
  if (value.length !== FEATURE_COUNT) {
    return fail("wrong_length", `expected ${FEATURE_COUNT} features, got ${value.length}`);
  }
  for (let i = 0; i < value.length; i++) {
    if (typeof value[i] !== "number" || !Number.isFinite(value[i])) {
      return fail("not_finite", `feature ${i} is not a finite number: ${JSON.stringify(value[i])}`);
    }
    if (Math.abs(value[i]) > MAX_FEATURE_MAGNITUDE) {
      return fail(
        "out_of_range",
        `feature ${i} out of range: ${value[i]}, limit ±${MAX_FEATURE_MAGNITUDE}`,
      );
    }
  }
  return { ok: true, value: value as number[] };
}

/** A `y_true` or `y_pred` body: one finite number. */
export function parseScalar(
  body: Uint8Array | null,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Parsed<number> {
  const json = parseJson(body, maxBytes);
  if (!json.ok) return json;
  if (typeof json.value !== "number" || !Number.isFinite(json.value)) {
    return fail(
      typeof json.value === "number" ? "not_finite" : "wrong_type",
      `expected one finite number, got ${JSON.stringify(json.value).slice(0, 40)}`,
    );
  }
  return checkTarget(json.value);
}

/**
 * A target or prediction within ±{@link MAX_TARGET_MAGNITUDE}, or why not.
 * Used on input (`parseScalar`) and on output (model's prediction).
 */
export function checkTarget(value: number): Parsed<number> {
  if (!Number.isFinite(value)) return fail("not_finite", `value is not a finite number: ${value}`);
  if (Math.abs(value) > MAX_TARGET_MAGNITUDE) {
    return fail("out_of_range", `value out of range: ${value}, limit ±${MAX_TARGET_MAGNITUDE}`);
  }
  return { ok: true, value };
}

/** A numeric header, or `undefined` when absent or not a finite number. */
export function numberHeader(
  headers: Record<string, unknown> | undefined,
  name: string,
): number | undefined {
  const raw = headers?.[name];
  // Number("") is 0: blank text must not pass for a time stamp of 1970.
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** A text header, or `fallback` when absent. */
export function textHeader(
  headers: Record<string, unknown> | undefined,
  name: string,
  fallback = "",
): string {
  const raw = headers?.[name];
  return typeof raw === "string" ? raw : fallback;
}

/** Encodes a body the way the contract says: compact JSON. */
export function encodeBody(value: number | readonly number[]): string {
  return JSON.stringify(value);
}
