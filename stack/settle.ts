/**
 * How the broker door settles a delivery: the handler returned, so ack it;
 * the handler threw ({@link DeadLetter} for bad input, or any other error),
 * so dead-letter it down a ladder that always ends settled:
 *
 * 1. a copy to the dead-letter exchange with the reason code and its detail
 *    in headers (`dead_letter.ts`'s {@link deadLetterCopy}: defined
 *    properties, bounded headers), then ack;
 * 2. if that cannot be encoded or confirmed, a minimal envelope
 *    ({@link minimalEnvelope}), then ack;
 * 3. if even that fails, reject without requeue: the broker dead-letters it
 *    through the dead-letter exchange its policy names (`policies.ts`).
 *
 * A failure is not the message's fault when the channel it came on has
 * closed, or the publish channel has (the connection is being recycled): the
 * broker delivers it again, so it is left alone.
 *
 * The `reason` label of `ml_dead_lettered_total` is the {@link ReasonCode}
 * only: the detail may quote the message, and a label value made of message
 * content would add a series, kept for the life of the process, per distinct
 * message. The detail goes to the header and the log line, printable and cut
 * ({@link reasonDetail}), as does the message id, which is not parsed yet.
 *
 * Written against the small {@link MessageLike} and {@link PublisherLike}
 * (amqp-client's `AMQPMessage` and confirm-mode `AMQPChannel` fit), so tests
 * pass plain objects.
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { errorText, withTimeout } from "./async.ts";
import { QUEUES } from "./contracts.ts";
import {
  deadLetterCopy,
  type DeadLetterInput,
  minimalEnvelope,
  type Outgoing,
} from "./dead_letter.ts";
import { isReasonCode, type ReasonCode, reasonDetail } from "./dead_letter_reasons.ts";
import { printable } from "./printable.ts";
import type { Telemetry } from "./telemetry.ts";
import { DEAD_LETTER_EXCHANGE } from "./topology.ts";

/** Thrown by a handler to dead-letter its message with `code` and the detail `reason`. */
export class DeadLetter extends Error {
  readonly code: ReasonCode;
  readonly reason: string;
  constructor(code: ReasonCode, reason: string) {
    super(`${code}: ${reason}`);
    this.name = "DeadLetter";
    this.code = code;
    this.reason = reason;
  }
}

/** One message taken from a queue, with the two ways to settle it. */
export interface Delivery {
  readonly queue: string;
  readonly body: Uint8Array | null;
  readonly properties: AMQPProperties;
  /** True when the broker delivered this message before (to us or another consumer). */
  readonly redelivered: boolean;
  /** `performance.now()` when it arrived. */
  readonly receivedAt: number;
  /** False once the channel it came on has closed: the broker will deliver it again. */
  readonly live: boolean;
  /** Acknowledge: the broker forgets the message. */
  ack(): Promise<void>;
  /** Copy to the dead-letter queue with `code` and the detail `reason`, then acknowledge. */
  deadLetter(code: ReasonCode, reason: string): Promise<void>;
}

/** Called for each delivery. Returning acks it unless `manualSettle` is set. */
export type Handler = (delivery: Delivery) => Promise<void> | void;

/** What settling needs of a delivered message: amqp-client's `AMQPMessage` fits. */
export interface MessageLike {
  readonly body: Uint8Array | null;
  readonly properties: AMQPProperties;
  readonly redelivered: boolean;
  /** The channel it came on. */
  readonly channel: { readonly closed: boolean };
  ack(): Promise<void>;
  reject(requeue: boolean): Promise<void>;
}

/** The confirm-mode channel dead letters go out on: amqp-client's `AMQPChannel` fits. */
export interface PublisherLike {
  readonly closed: boolean;
  /** Resolves once the broker confirmed; may throw at once when it cannot encode the frames. */
  basicPublish(
    exchange: string,
    routingKey: string,
    body: Uint8Array | null,
    properties: AMQPProperties,
  ): Promise<unknown>;
}

/** The log lines settling writes. */
export interface SettleLog {
  info(message: string, properties: Record<string, unknown>): void;
  warn(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** What {@link createDelivery} and {@link settle} work with. */
export interface SettleContext {
  /** Stamped on dead letters. */
  readonly replica: string;
  readonly log: SettleLog;
  readonly telemetry: Pick<Telemetry, "handlerSeconds" | "deadLettered">;
  /** The publish channel of the connection in use, if there is one. */
  publisher(): PublisherLike | undefined;
  /** A dead-letter publish not confirmed within this is given up for the next rung. Default 10,000. */
  readonly deadLetterTimeoutMs?: number;
  /** Default `performance.now`. */
  readonly now?: () => number;
  /** Wall-clock ms stamped on dead letters. Default `Date.now`. */
  readonly wallClockMs?: () => number;
}

const DEAD_LETTER_TIMEOUT_MS = 10_000;

/** The publish channel is open (also while consumers attach, before the door counts as connected). */
function canPublish(context: SettleContext): boolean {
  return context.publisher()?.closed === false;
}

/** Wraps a message taken from `queue` as a {@link Delivery} that settles at most once. */
export function createDelivery(
  queue: string,
  message: MessageLike,
  context: SettleContext,
): Delivery {
  const { log, telemetry, replica } = context;
  const now = context.now ?? (() => performance.now());
  const timeoutMs = context.deadLetterTimeoutMs ?? DEAD_LETTER_TIMEOUT_MS;
  const receivedAt = now();
  let settled = false;
  const observe = () => telemetry.handlerSeconds.observe({ queue }, (now() - receivedAt) / 1000);
  const channel = message.channel;
  // Not parsed yet: anything a publisher sent, so only ever logged printable.
  const id = printable(String(message.properties.messageId ?? ""));
  const publishDeadLetter = async ({ body, properties }: Outgoing): Promise<void> => {
    const target = context.publisher();
    if (!target || target.closed) throw new Error("not connected");
    // basicPublish throws synchronously when it cannot encode the frames.
    await withTimeout(
      target.basicPublish(DEAD_LETTER_EXCHANGE, queue, body, properties),
      timeoutMs,
      `no confirm within ${timeoutMs} ms`,
    );
  };
  return {
    queue,
    body: message.body,
    properties: message.properties,
    redelivered: message.redelivered,
    receivedAt,
    get live() {
      return !channel.closed;
    },
    async ack() {
      if (settled) return;
      settled = true;
      await message.ack();
      observe();
    },
    async deadLetter(given: ReasonCode, reason: string) {
      if (settled) return;
      // The label must stay a closed set, also for a caller the type checker did not see.
      const code: ReasonCode = isReasonCode(given) ? given : "unknown";
      if (!canPublish(context)) {
        // Not this message's fault: the connection is being recycled and
        // the broker delivers the message again.
        throw new Error(`Cannot dead-letter message '${id}': not connected`);
      }
      settled = true;
      const detail = reasonDetail(reason);
      const input: DeadLetterInput = {
        body: message.body,
        properties: message.properties,
        queue,
        code,
        reason: detail,
        replica,
        atMs: (context.wallClockMs ?? Date.now)(),
      };
      let how = "a copy";
      try {
        await publishDeadLetter(deadLetterCopy(input));
      } catch (copyError) {
        log.error("could not dead-letter a copy of message {id} from queue {queue}: {error}", {
          id,
          queue,
          error: errorText(copyError),
        });
        try {
          how = "a minimal envelope";
          await publishDeadLetter(minimalEnvelope(input, errorText(copyError)));
        } catch (envelopeError) {
          log.error(
            "could not dead-letter a minimal envelope of message {id} from queue {queue}: {error}; rejecting it to the broker's dead-lettering",
            { id, queue, error: errorText(envelopeError) },
          );
          how = "the broker";
        }
      }
      // Settle either way: the message must not hold a prefetch slot. If
      // the consumer channel closed meanwhile, the broker delivers it again.
      if (how === "the broker") await message.reject(false);
      else await message.ack();
      observe();
      telemetry.deadLettered.inc({ queue, reason: code });
      log.warn(
        "dead-lettered message {id} from queue {queue} to {deadLetterQueue} as {how}: {code}: {reason}",
        { id, queue, deadLetterQueue: QUEUES.deadLetter, how, code, reason: detail },
      );
    },
  };
}

/**
 * Runs `handler` on `delivery` and settles it: ack when it returns (unless
 * `manualSettle`: the handler settles itself), dead-letter when it throws.
 * Never rejects.
 */
export async function settle(
  handler: Handler,
  delivery: Delivery,
  manualSettle: boolean,
  context: SettleContext,
): Promise<void> {
  try {
    await handler(delivery);
    if (!manualSettle) await delivery.ack();
  } catch (error) {
    await settleFailure(delivery, error, context);
  }
}

async function settleFailure(
  delivery: Delivery,
  error: unknown,
  context: SettleContext,
): Promise<void> {
  const { log } = context;
  if (!delivery.live || !canPublish(context)) {
    // The channel closed under the handler (broker restart, network), or
    // the publish channel did and the connection is being recycled: the
    // broker puts the message back; it is not the message's fault.
    log.info("left message {id} from queue {queue} to be redelivered: {error}", {
      id: printable(String(delivery.properties.messageId ?? "")),
      queue: delivery.queue,
      error: errorText(error),
    });
    return;
  }
  const [code, reason]: [ReasonCode, string] = error instanceof DeadLetter
    ? [error.code, error.reason]
    : ["handler_failed", `handler failed: ${errorText(error)}`];
  try {
    await delivery.deadLetter(code, reason);
  } catch (deadLetterError) {
    log.error("could not dead-letter message {id} from queue {queue}: {error}", {
      id: printable(String(delivery.properties.messageId ?? "")),
      queue: delivery.queue,
      error: errorText(deadLetterError),
    });
  }
}
