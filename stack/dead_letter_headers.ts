/**
 * Reading a dead letter back: the inverse of `stack/dead_letter.ts`, which
 * writes the headers. Kept beside the writer so that a header added there is
 * read and stripped here too (`dead_letter_headers_test.ts` round-trips the
 * writer's output through this reader and fails on a header it does not know).
 *
 * Dead letters come in two kinds, both understood: those the services publish
 * (the `dead-letter-*` names of {@link HEADERS}) and those RabbitMQ makes
 * itself when a message is rejected without requeue, expires or exceeds a
 * quorum queue's delivery limit ({@link BROKER_DEAD_LETTER_HEADERS}).
 *
 * Pure: plain data in, plain data out.
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { HEADERS } from "./contracts.ts";
import { isReasonCode, type ReasonCode } from "./dead_letter_reasons.ts";

/**
 * The headers `stack/dead_letter.ts` sets on a dead letter: always the
 * reason code and detail, the time, queue and replica; the others when it
 * cut something or fell back to a minimal envelope.
 */
export const OWN_DEAD_LETTER_HEADERS: readonly string[] = [
  HEADERS.deadLetterCode,
  HEADERS.deadLetterReason,
  HEADERS.deadLetteredAtMs,
  HEADERS.deadLetterQueue,
  HEADERS.deadLetterTruncated,
  HEADERS.deadLetterHeadersCut,
  HEADERS.deadLetterMinimal,
  HEADERS.deadLetterReplica,
];

/** The headers RabbitMQ sets when it dead-letters a message itself, or counts its deliveries. */
export const BROKER_DEAD_LETTER_HEADERS = {
  /**
   * A quorum queue's count of deliveries. Kept in a copy the services made, so stripped on
   * replay: the copy starts anew.
   */
  deliveryCount: "x-delivery-count",
  death: "x-death",
  firstDeathQueue: "x-first-death-queue",
  /** `rejected`, `expired` or `delivery_limit`. */
  firstDeathReason: "x-first-death-reason",
  firstDeathExchange: "x-first-death-exchange",
  lastDeathQueue: "x-last-death-queue",
  lastDeathReason: "x-last-death-reason",
  lastDeathExchange: "x-last-death-exchange",
} as const;

/** Headers that say why and from where a message was dead-lettered, stripped on replay. */
export const DEAD_LETTER_HEADERS: readonly string[] = [
  ...OWN_DEAD_LETTER_HEADERS,
  ...Object.values(BROKER_DEAD_LETTER_HEADERS),
];

/** What a reader needs to know of one dead letter. */
export interface DeadLetterInfo {
  /** The queue it was consumed from; "" when no header says. */
  readonly source: string;
  /** Why it was dead-lettered, as a code; `unknown` when no header says. */
  readonly code: ReasonCode;
  /** Why it was dead-lettered, in words, as the headers say it: may hold anything. */
  readonly reason: string;
  /** Wall-clock ms when it was dead-lettered, if a header says. */
  readonly atMs?: number;
  /** True when the body was cut before dead-lettering: replaying it would send garbage. */
  readonly truncated: boolean;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** What the broker's own reasons (`x-first-death-reason`) mean, where the word is not enough. */
const BROKER_REASONS: Readonly<Record<string, string>> = {
  delivery_limit: "delivered more times than the queue's delivery-limit policy allows " +
    "(each time rejected with requeue, or held by a consumer that died)",
};

/** The broker's reasons that are codes; `maxlen` and the others it may add are not told apart. */
function brokerCode(reason: string | undefined): ReasonCode | undefined {
  return reason === undefined ? undefined : isReasonCode(reason) ? reason : "unknown";
}

function time(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  const ms = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof ms === "number" && Number.isFinite(ms) ? ms : undefined;
}

/** When the broker last dead-lettered it: the newest `x-death` entry comes first. */
function brokerTime(death: unknown): number | undefined {
  const newest = Array.isArray(death) ? death[0] : undefined;
  return newest && typeof newest === "object"
    ? time((newest as { time?: unknown }).time)
    : undefined;
}

/** Where a dead letter came from and why, from its headers (ours first, then the broker's). */
export function describeDeadLetter(
  headers: Record<string, unknown> | undefined,
): DeadLetterInfo {
  const h = headers ?? {};
  const brokerReason = text(h[BROKER_DEAD_LETTER_HEADERS.firstDeathReason]);
  const ownCode = h[HEADERS.deadLetterCode];
  const atMs = time(h[HEADERS.deadLetteredAtMs]) ?? brokerTime(h[BROKER_DEAD_LETTER_HEADERS.death]);
  return {
    source: text(h[HEADERS.deadLetterQueue]) ??
      text(h[BROKER_DEAD_LETTER_HEADERS.firstDeathQueue]) ?? "",
    code: isReasonCode(ownCode) ? ownCode : brokerCode(brokerReason) ?? "unknown",
    ...(atMs === undefined ? {} : { atMs }),
    reason: text(h[HEADERS.deadLetterReason]) ??
      (brokerReason
        ? `${brokerReason} by the broker${
          brokerReason in BROKER_REASONS ? `: ${BROKER_REASONS[brokerReason]}` : ""
        }`
        : "unknown"),
    truncated: h[HEADERS.deadLetterTruncated] !== undefined,
  };
}

/**
 * The properties of the copy sent back to its queue: the same, minus
 * {@link DEAD_LETTER_HEADERS}, and persistent.
 */
export function replayProperties(properties: AMQPProperties): AMQPProperties {
  const headers = { ...properties.headers };
  for (const name of DEAD_LETTER_HEADERS) delete headers[name];
  return { ...properties, headers, deliveryMode: 2 };
}
