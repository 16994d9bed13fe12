/**
 * What the broker door publishes to the dead-letter queue: a copy of a bad
 * message that the broker will always accept and the client can always
 * encode, or, if even that fails, a minimal envelope. Pure: plain data in,
 * plain data out.
 *
 * The copy carries a defined set of properties, not the original's:
 * - kept: `messageId`, `correlationId` (to find the sample), `contentType`,
 *   `contentEncoding` (to read the body), `timestamp`, `appId`, `type` (who
 *   sent it, and when);
 * - always `deliveryMode` 2: the evidence survives a broker restart;
 * - dropped: `expiration` (the copy would vanish after the original's TTL;
 *   RabbitMQ's own dead-lettering drops it too), `userId` (the broker closes
 *   the channel with 406 PRECONDITION_FAILED unless it names the publishing
 *   user), `priority` (a scheduling hint for the original queue, not for
 *   `dead_letter`), `replyTo` (nobody should answer a dead letter).
 *
 * Headers are bounded in count and size ({@link DEAD_LETTER_LIMITS}), values
 * turned into plain text, numbers or booleans, and the copy says in
 * {@link HEADERS.deadLetterHeadersCut} what was cut.
 *
 * `dead_letter_headers.ts` reads these headers back (and strips them on
 * replay); its test fails when this file writes a header it does not know.
 *
 * @module
 */
import type { AMQPProperties, Field } from "@cloudamqp/amqp-client";
import { HEADERS, parseId } from "./contracts.ts";
import { type ReasonCode, reasonDetail } from "./dead_letter_reasons.ts";
import { printable } from "./printable.ts";

/** Bounds of a dead-letter copy. */
export interface DeadLetterLimits {
  /** Headers of the original kept at most. */
  readonly maxHeaders: number;
  /** UTF-8 bytes of kept names and values together (our own headers come on top). */
  readonly maxHeaderBytes: number;
  /** Characters of one kept text value (longer ones are cut). */
  readonly maxValueChars: number;
  /** Characters of a header name; longer names are dropped (AMQP allows 255 bytes). */
  readonly maxNameChars: number;
  /** Body bytes kept. */
  readonly maxBodyBytes: number;
}

/** The bounds the door uses. */
export const DEAD_LETTER_LIMITS: DeadLetterLimits = {
  maxHeaders: 64,
  maxHeaderBytes: 4096,
  maxValueChars: 256,
  maxNameChars: 64,
  maxBodyBytes: 64 * 1024,
};

/** Body bytes kept in a minimal envelope. */
export const MINIMAL_BODY_BYTES = 1024;

/** Why a minimal envelope was needed: an error of ours, cut to this many characters. */
const MAX_FAILURE_CHARS = 512;

/** A message about to be dead-lettered. */
export interface DeadLetterInput {
  readonly body: Uint8Array | null;
  readonly properties: AMQPProperties;
  /** The queue it was consumed from. */
  readonly queue: string;
  readonly code: ReasonCode;
  /** The detail of `code`; may quote the message, so made printable and cut here. */
  readonly reason: string;
  /** The process dead-lettering it. */
  readonly replica: string;
  /** Wall-clock ms when it is dead-lettered. */
  readonly atMs: number;
}

/** A message to publish to the dead-letter exchange. */
export interface Outgoing {
  readonly body: Uint8Array | null;
  readonly properties: AMQPProperties;
}

/** Headers after {@link boundHeaders}, and what it cut. */
export interface BoundedHeaders {
  readonly headers: Record<string, string | number | boolean | null>;
  /** Headers of the original. */
  readonly total: number;
  /** Headers left out (over the count or byte budget, or with too long a name). */
  readonly dropped: number;
  /** Kept headers whose value was cut or turned into text. */
  readonly truncated: number;
}

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

function cut(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = maxChars;
  // Do not leave half a surrogate pair behind.
  if (/[\ud800-\udbff]/.test(text[end - 1])) end--;
  return `${text.slice(0, end)}…`;
}

/** A header value as plain text, a number, a boolean or null, and whether it changed. */
function plainValue(
  value: unknown,
  maxChars: number,
): { value: string | number | boolean | null; changed: boolean } {
  switch (typeof value) {
    case "string": {
      const text = cut(value, maxChars);
      return { value: text, changed: text !== value };
    }
    case "number":
    case "boolean":
      return { value, changed: false };
    case "undefined":
      return { value: null, changed: false };
    case "bigint":
      return { value: cut(String(value), maxChars), changed: true };
  }
  if (value === null) return { value: null, changed: false };
  if (value instanceof Date) {
    return {
      value: Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString(),
      changed: true,
    };
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    return { value: `(${value.byteLength} bytes)`, changed: true };
  }
  let text: string;
  try {
    text = JSON.stringify(value, (_, v) => typeof v === "bigint" ? String(v) : v) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return { value: cut(text, maxChars), changed: true };
}

/**
 * Keeps the first headers, in their order, that fit `limits`: at most
 * `maxHeaders`, at most `maxHeaderBytes` of names and values, names up to
 * `maxNameChars`, each value plain and at most `maxValueChars` long.
 */
export function boundHeaders(
  headers: Record<string, unknown> | undefined,
  limits: DeadLetterLimits = DEAD_LETTER_LIMITS,
): BoundedHeaders {
  const kept: Record<string, string | number | boolean | null> = {};
  const entries = headers && typeof headers === "object" ? Object.entries(headers) : [];
  let count = 0;
  let bytes = 0;
  let truncated = 0;
  for (const [name, raw] of entries) {
    if (count >= limits.maxHeaders) break;
    if (name.length === 0 || name.length > limits.maxNameChars) continue;
    const { value, changed } = plainValue(raw, limits.maxValueChars);
    const size = utf8Length(name) + (typeof value === "string" ? utf8Length(value) : 8);
    if (bytes + size > limits.maxHeaderBytes) continue;
    kept[name] = value;
    bytes += size;
    count++;
    if (changed) truncated++;
  }
  return { headers: kept, total: entries.length, dropped: entries.length - count, truncated };
}

/** A short text property (AMQP shortstr, at most 255 bytes), or undefined. */
function shortText(value: unknown): string | undefined {
  return typeof value === "string" && utf8Length(value) <= 255 ? value : undefined;
}

function defined(properties: AMQPProperties): AMQPProperties {
  return Object.fromEntries(
    Object.entries(properties).filter(([, value]) => value !== undefined),
  ) as AMQPProperties;
}

/** The headers every dead letter carries, after the original's so they win. */
function ownHeaders(input: DeadLetterInput): Record<string, Field> {
  return {
    [HEADERS.deadLetterCode]: input.code,
    [HEADERS.deadLetterReason]: reasonDetail(input.reason),
    [HEADERS.deadLetteredAtMs]: input.atMs,
    [HEADERS.deadLetterQueue]: cut(input.queue, 255),
    [HEADERS.deadLetterReplica]: cut(input.replica, 255),
  };
}

/**
 * The dead-letter copy of a message: its body (cut to `maxBodyBytes`), the
 * defined properties of the module documentation and bounded headers, plus
 * the reason code and its detail, the time, the source queue and the replica. Says what was cut in
 * {@link HEADERS.deadLetterTruncated} (the original body size) and
 * {@link HEADERS.deadLetterHeadersCut}.
 */
export function deadLetterCopy(
  input: DeadLetterInput,
  limits: DeadLetterLimits = DEAD_LETTER_LIMITS,
): Outgoing {
  const { body, properties } = input;
  const bodyBytes = body?.byteLength ?? 0;
  const bodyCut = bodyBytes > limits.maxBodyBytes;
  const bounded = boundHeaders(properties.headers, limits);
  const timestamp = properties.timestamp instanceof Date &&
      !Number.isNaN(properties.timestamp.getTime())
    ? properties.timestamp
    : undefined;
  return {
    body: bodyCut ? body!.subarray(0, limits.maxBodyBytes) : body,
    properties: defined({
      messageId: shortText(properties.messageId),
      correlationId: shortText(properties.correlationId),
      contentType: shortText(properties.contentType),
      contentEncoding: shortText(properties.contentEncoding),
      timestamp,
      appId: shortText(properties.appId),
      type: shortText(properties.type),
      deliveryMode: 2,
      headers: {
        ...bounded.headers,
        ...ownHeaders(input),
        ...(bodyCut ? { [HEADERS.deadLetterTruncated]: bodyBytes } : {}),
        ...(bounded.dropped + bounded.truncated > 0
          ? {
            [HEADERS.deadLetterHeadersCut]:
              `dropped ${bounded.dropped} of ${bounded.total} headers, shortened ${bounded.truncated} values`,
          }
          : {}),
      },
    }),
  };
}

/**
 * The last resort when the copy could not be encoded or published: the
 * reason code and detail, the time, the source queue, the message id if it is a valid id, why the copy
 * failed ({@link HEADERS.deadLetterMinimal}), and the first
 * {@link MINIMAL_BODY_BYTES} of the body. Nothing else of the original.
 */
export function minimalEnvelope(input: DeadLetterInput, failure: string): Outgoing {
  const bodyBytes = input.body?.byteLength ?? 0;
  const bodyCut = bodyBytes > MINIMAL_BODY_BYTES;
  const id = parseId(input.properties.messageId, "messageId");
  return {
    body: bodyCut ? input.body!.subarray(0, MINIMAL_BODY_BYTES) : input.body,
    properties: defined({
      messageId: id.ok ? id.value : undefined,
      deliveryMode: 2,
      headers: {
        ...ownHeaders(input),
        [HEADERS.deadLetterMinimal]: cut(printable(failure), MAX_FAILURE_CHARS),
        ...(bodyCut ? { [HEADERS.deadLetterTruncated]: bodyBytes } : {}),
      },
    }),
  };
}
