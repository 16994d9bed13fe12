/**
 * The metric service's pure core on the way in: one `y_true` or `y_pred`
 * delivery to the half of a sample it carries, or the reason to dead-letter
 * it. The twin of model's `infer()`.
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { parseId, parseScalar } from "../../stack/contracts.ts";
import type { ReasonCode } from "../../stack/dead_letter_reasons.ts";
import type { Side } from "./pairer.ts";

/** A half of a sample, or why its message must be dead-lettered. */
export type ParsedHalf =
  | { readonly ok: true; readonly id: string; readonly side: Side; readonly value: number }
  | { readonly ok: false; readonly code: ReasonCode; readonly reason: string };

/** Where each side carries the sample id: truths their own, predictions the one they answer. */
const ID_PROPERTY = { y_true: "messageId", y_pred: "correlationId" } as const;

/**
 * Validates a message from the `side` queue: the sample id (`messageId` on
 * `y_true`, `correlationId` on `y_pred`) and a body of one finite number no
 * longer than `maxBodyBytes`.
 */
export function parseHalf(
  side: Side,
  body: Uint8Array | null,
  properties: AMQPProperties,
  maxBodyBytes: number,
): ParsedHalf {
  const property = ID_PROPERTY[side];
  const id = parseId(properties[property], property);
  if (!id.ok) return id;
  const value = parseScalar(body, maxBodyBytes);
  if (!value.ok) return value;
  return { ok: true, id: id.value, side, value: value.value };
}
