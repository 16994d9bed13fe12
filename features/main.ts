/**
 * features: publishes random rows of the diabetes data set, the feature
 * vector to `features` and the true target to `y_true`, on a steady
 * interval. A sample counts as sent when the broker confirmed both halves.
 *
 * @module
 */
import { backoffMs, errorText, sleep } from "../stack/async.ts";
import type { Broker } from "../stack/broker.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import type { Logger } from "../stack/log.ts";
import { runService } from "../stack/service.ts";
import { featuresSchema } from "./config.ts";
import { type OutgoingMessage, pickSample, sampleMessages, seededRandom } from "./sampler.ts";

await runService({
  name: "features",
  schema: featuresSchema,
  async setup({ config, log, broker, replica }) {
    const dataset = await loadDiabetes(config.dataPath);
    const seed = config.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    const random = seededRandom(seed);
    // RATE_PER_SEC, when set, gives a fractional interval: timers fire in
    // whole ms, so 1,000/s cannot be had from INTERVAL_MS=1 alone.
    const intervalMs = config.ratePerSec > 0 ? 1000 / config.ratePerSec : config.intervalMs;
    // How far behind schedule sending may fall and still catch up by sending
    // what fell due on one tick; after a longer stall (an outage) the
    // schedule restarts from now instead of bursting.
    const catchUpMs = Math.max(intervalMs, 100);
    log.info("loaded {rows} rows; seed {seed}, interval {interval} ms, count {count}", {
      rows: dataset.y.length,
      seed,
      interval: intervalMs,
      count: config.count || "unlimited",
    });
    return {
      async run(signal) {
        // Samples published but not yet confirmed, and a way to wait for one
        // to finish: Promise.race over the whole set would attach a reaction
        // to every pending sample on every turn.
        let inFlight = 0;
        let freed: PromiseWithResolvers<void> | undefined;
        const release = () => {
          inFlight--;
          freed?.resolve();
        };
        const started = performance.now();
        let sent = 0;
        let due = performance.now();
        let lastProgress = started;
        for (let n = 0; config.count === 0 || n < config.count; n++) {
          if (intervalMs > 0) {
            const wait = due - performance.now();
            if (wait > 0) await sleep(Math.ceil(wait), signal);
            const now = performance.now();
            due = due + intervalMs < now - catchUpMs ? now : due + intervalMs;
          }
          while (inFlight >= config.maxInFlight) {
            freed = Promise.withResolvers<void>();
            await freed.promise;
          }
          if (signal.aborted) break;
          const sample = pickSample(dataset, random);
          const id = crypto.randomUUID();
          const messages = sampleMessages(sample, {
            id,
            sentAtMs: performance.timeOrigin + performance.now(),
            replica,
          });
          const sending = Promise.all(
            messages.map((m) => publishUntilConfirmed(broker, m, log, signal)),
          )
            .then(() => {
              sent++;
              log.info("sent sample {id}: row {row}, y_true {target}", {
                id,
                row: sample.row,
                target: sample.target,
              });
            });
          inFlight++;
          sending.finally(release);
          const now = performance.now();
          if (config.progressEveryMs > 0 && now - lastProgress >= config.progressEveryMs) {
            lastProgress = now;
            log.info("progress: {sent} samples sent, {rate} per second", {
              sent,
              rate: Math.round(sent / ((now - started) / 1000)),
            });
          }
        }
        while (inFlight > 0) {
          freed = Promise.withResolvers<void>();
          await freed.promise;
        }
        const seconds = (performance.now() - started) / 1000;
        log.info("sent {sent} samples in {seconds} s", {
          sent,
          seconds: Number(seconds.toFixed(3)),
        });
      },
    };
  },
});

/**
 * Publishes one message, retrying until the broker confirms it. A lost
 * confirm means the broker may hold it twice; the metric service drops the
 * duplicate by id. Gives up only when shutdown has started and the broker
 * is gone, so a sample is never half-sent while the broker is up.
 */
async function publishUntilConfirmed(
  broker: Broker,
  message: OutgoingMessage,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await broker.publish(message.queue, message.body, message.properties);
      return;
    } catch (error) {
      if (signal.aborted && !broker.connected) throw error;
      const delay = backoffMs(attempt, 100, 5_000);
      log.warn("publish of {id} to {queue} not confirmed: {error}; retrying in {delay} ms", {
        id: message.properties.messageId ?? "",
        queue: message.queue,
        error: errorText(error),
        delay,
      });
      await sleep(delay);
    }
  }
}
