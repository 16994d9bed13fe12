/**
 * The retry policy for one message that must reach the broker: features'
 * samples, and model's predictions (a refused prediction would otherwise
 * dead-letter a good sample). Pure: publishing, sleeping and the jitter are
 * passed in.
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { backoffMs, errorText } from "./async.ts";

/** One message for one queue. */
export interface OutgoingMessage {
  readonly queue: string;
  readonly body: string;
  readonly properties: AMQPProperties;
}

/**
 * Why a publish was not confirmed:
 * - `refused`: the broker answered with a nack: a queue at its length limit
 *   (`overflow: reject-publish`, `stack/policies.ts`), or a quorum queue
 *   whose leader the broker cannot reach yet (a member just went down:
 *   RabbitMQ 3.10's `rabbit_fifo_client:enqueue` rejects a channel's first
 *   publish to it);
 * - `blocked`: the broker blocks publishers at its memory or disk limit;
 * - `failed`: anything else, mostly a connection lost before the confirm.
 */
export type RetryReason = typeof RETRY_REASONS[number];

/** Every {@link RetryReason}: the `reason` label's values, each counted from 0. */
export const RETRY_REASONS = ["refused", "blocked", "failed"] as const;

/** The {@link RetryReason} of a failed publish, from amqp-client's error. */
export function retryReason(error: unknown): RetryReason {
  const message = error instanceof Error ? error.message : String(error);
  if (message === "Message rejected") return "refused";
  if (message.startsWith("Connection blocked")) return "blocked";
  return "failed";
}

/** The log lines {@link publishUntilConfirmed} writes. */
export interface RetryLog {
  warn(message: string, properties: Record<string, unknown>): void;
}

/** Ports and settings of {@link publishUntilConfirmed}. */
export interface PublishUntilConfirmedOptions<M extends OutgoingMessage = OutgoingMessage> {
  /** Publishes and resolves once the broker confirmed; rejects otherwise. */
  publish(message: M): Promise<void>;
  /** Waits `ms` between attempts. */
  sleep(ms: number): Promise<void>;
  /** Asked after each failure, with its reason: true stops retrying and rethrows the failure. */
  giveUp(reason: RetryReason): boolean;
  log: RetryLog;
  /** The delay before the first retry, doubling up to `maxDelayMs`. Default 100. */
  initialDelayMs?: number;
  /** Default 5,000. */
  maxDelayMs?: number;
  /** Jitter source for the delays. Default `Math.random`. */
  random?: () => number;
  /** Hears of each retry and why (features counts them: `ml_features_publish_retries_total`). */
  onRetry?: (reason: RetryReason, message: M) => void;
}

/**
 * Publishes one message, retrying until the broker confirms it. A lost
 * confirm means the broker may hold it twice; the metric service drops the
 * duplicate by id. A full queue refuses it (a nack): then features waits,
 * longer each time up to `maxDelayMs`, and tries again, so a backlog slows
 * it down and nothing is dropped. Gives up only when `giveUp()` says so:
 * features passes "shutdown has started and the broker is gone", so a sample
 * is never half-sent while the broker is up; model passes "the input's
 * channel closed (it is redelivered), or the failure was not a refusal".
 */
export async function publishUntilConfirmed<M extends OutgoingMessage>(
  message: M,
  options: PublishUntilConfirmedOptions<M>,
): Promise<void> {
  const { initialDelayMs = 100, maxDelayMs = 5_000, random = Math.random } = options;
  for (let attempt = 0;; attempt++) {
    try {
      await options.publish(message);
      return;
    } catch (error) {
      const reason = retryReason(error);
      if (options.giveUp(reason)) throw error;
      options.onRetry?.(reason, message);
      const delay = backoffMs(attempt, initialDelayMs, maxDelayMs, random);
      options.log.warn(
        "publish of {id} to {queue} not confirmed: {error}; retrying in {delay} ms",
        {
          id: message.properties.messageId ?? "",
          queue: message.queue,
          error: errorText(error),
          delay,
        },
      );
      await options.sleep(delay);
    }
  }
}
