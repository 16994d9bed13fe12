/**
 * The `ml_features_*` Prometheus series: what the features service adds to
 * the series every service exports (`stack/telemetry.ts`).
 *
 * @module
 */
import { Counter, type Registry } from "prom-client";
import { RETRY_REASONS, type RetryReason } from "../stack/publish_until_confirmed.ts";

/** What `sendSamples` reports; see {@link createSendMetrics}. */
export interface SendMetrics {
  /** One publish to `queue` was not confirmed and is retried, for `reason`. */
  retried(reason: RetryReason, queue: string): void;
}

/**
 * Registers `ml_features_publish_retries_total{queue, reason}` on
 * `registry`: publishes retried, by queue and why (`refused`: the queue is
 * full; `blocked`: the broker's memory or disk alarm; `failed`: a lost
 * connection). A full queue shows here first: features slows down and
 * waits, and the PublishesRefused alert fires.
 */
export function createSendMetrics(registry: Registry): SendMetrics {
  const retries = new Counter({
    name: "ml_features_publish_retries_total",
    help: "Publishes not confirmed and retried, by queue and reason (refused: queue full)",
    labelNames: ["queue", "reason"],
    registers: [registry],
  });
  // Every series from the start: `increase()` then sees the first retry, not a new series.
  for (const queue of ["features", "y_true"]) {
    for (const reason of RETRY_REASONS) retries.inc({ queue, reason }, 0);
  }
  return {
    retried(reason, queue) {
      retries.inc({ queue, reason });
    },
  };
}
