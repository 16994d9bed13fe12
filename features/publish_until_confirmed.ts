/**
 * The features service's retry policy for one message. Pure: publishing,
 * sleeping and the jitter are passed in.
 *
 * @module
 */
import { backoffMs, errorText } from "../stack/async.ts";
import type { OutgoingMessage } from "./sampler.ts";

/**
 * Why a publish was not confirmed:
 * - `refused`: the broker answered with a nack; here, a queue at its length limit
 *   (`overflow: reject-publish`, `stack/policies.ts`);
 * - `blocked`: the broker blocks publishers at its memory or disk limit;
 * - `failed`: anything else, mostly a connection lost before the confirm.
 */
export type RetryReason = "refused" | "blocked" | "failed";

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
export interface PublishUntilConfirmedOptions {
  /** Publishes and resolves once the broker confirmed; rejects otherwise. */
  publish(message: OutgoingMessage): Promise<void>;
  /** Waits `ms` between attempts. */
  sleep(ms: number): Promise<void>;
  /** Asked after a failure: true stops retrying and rethrows the failure. */
  giveUp(): boolean;
  log: RetryLog;
  /** The delay before the first retry, doubling up to `maxDelayMs`. Default 100. */
  initialDelayMs?: number;
  /** Default 5,000. */
  maxDelayMs?: number;
  /** Jitter source for the delays. Default `Math.random`. */
  random?: () => number;
  /** Hears of each retry and why (features counts them: `ml_features_publish_retries_total`). */
  onRetry?: (reason: RetryReason, message: OutgoingMessage) => void;
}

/**
 * Publishes one message, retrying until the broker confirms it. A lost
 * confirm means the broker may hold it twice; the metric service drops the
 * duplicate by id. A full queue refuses it (a nack): then features waits,
 * longer each time up to `maxDelayMs`, and tries again, so a backlog slows
 * it down and nothing is dropped. Gives up only when `giveUp()` says so (the service passes
 * "shutdown has started and the broker is gone"), so a sample is never
 * half-sent while the broker is up.
 */
export async function publishUntilConfirmed(
  message: OutgoingMessage,
  options: PublishUntilConfirmedOptions,
): Promise<void> {
  const { initialDelayMs = 100, maxDelayMs = 5_000, random = Math.random } = options;
  for (let attempt = 0;; attempt++) {
    try {
      await options.publish(message);
      return;
    } catch (error) {
      if (options.giveUp()) throw error;
      options.onRetry?.(retryReason(error), message);
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
