/**
 * Why a message was dead-lettered, as one of a closed set of codes. The code
 * is what varies little: it is the `reason` label of `ml_dead_lettered_total`
 * (a label value lives as long as the process, so one made of message
 * content, say the length of a vector or a string sent as `y_true`, would
 * grow a series per distinct message), the `dead-letter-code` header, and
 * what `deno task dlq list` groups by. The detail, which may quote the
 * message, goes in the `dead-letter-reason` header and the log line, made
 * printable and cut by {@link reasonDetail}. Pure.
 *
 * @module
 */
import { printable } from "./printable.ts";

/**
 * Every reason code, the services' first, then those RabbitMQ gives when it
 * dead-letters a message itself (`x-first-death-reason`), then `unknown`.
 */
export const REASON_CODES = [
  /** The body is larger than `MAX_BODY_BYTES`. */
  "too_large",
  /** No body at all. */
  "empty_body",
  /** The body is not UTF-8. */
  "not_utf8",
  /** The body is not JSON. */
  "malformed_json",
  /** JSON, but not what the queue carries (an array on `features`, a number on `y_true`). */
  "wrong_type",
  /** A feature vector of the wrong length. */
  "wrong_length",
  /** A number that is not finite. */
  "not_finite",
  /** A number outside the contract's range. */
  "out_of_range",
  /** No sample id (`messageId`, or `correlationId` on `y_pred`). */
  "missing_id",
  /** A sample id too long or holding a control character. */
  "bad_id",
  /** model's prediction for the vector is not finite or out of range. */
  "prediction_out_of_range",
  /** A truth and a prediction whose absolute error is not finite. */
  "not_pairable",
  /** One half of a sample waited for the other longer than `UNPAIRED_TTL_MS`. */
  "unpaired",
  /** The handler threw something else: a bug, or a fault of the service. */
  "handler_failed",
  /** RabbitMQ: rejected without requeue. */
  "rejected",
  /** RabbitMQ: past its TTL. */
  "expired",
  /** RabbitMQ: delivered more often than the quorum queue's delivery limit. */
  "delivery_limit",
  /** RabbitMQ: pushed out of a full queue (`overflow: drop-head`). */
  "maxlen",
  /** No code in the headers (a dead letter from before codes, or from elsewhere). */
  "unknown",
] as const;

/** One of {@link REASON_CODES}. */
export type ReasonCode = typeof REASON_CODES[number];

/** Characters of a detail kept in the header and the log; a longer one is cut. */
export const MAX_DETAIL_CHARS = 200;

/** True when `value` is one of {@link REASON_CODES}. */
export function isReasonCode(value: unknown): value is ReasonCode {
  return typeof value === "string" && (REASON_CODES as readonly string[]).includes(value);
}

/**
 * A detail as the header and the log keep it: {@link printable}, and cut to
 * {@link MAX_DETAIL_CHARS} with an ellipsis. Cut after escaping, so the
 * cut bounds what is stored and shown; a second call changes nothing.
 */
export function reasonDetail(detail: string): string {
  const shown = printable(detail);
  if (shown.length <= MAX_DETAIL_CHARS) return shown;
  let end = MAX_DETAIL_CHARS - 1;
  // Do not leave half a surrogate pair behind.
  if (/[\ud800-\udbff]/.test(shown[end - 1])) end--;
  return `${shown.slice(0, end)}…`;
}
