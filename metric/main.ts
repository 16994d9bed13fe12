/**
 * metric: consumes `y_true` and `y_pred`, logs every value with its queue,
 * pairs truth and prediction by sample id, and appends each pair's absolute
 * error to `metric_log.csv`. A pair's two messages are acked only after its
 * row is written, so a crash loses nothing; ids already written are
 * recognised on redelivery, so nothing is counted twice.
 *
 * @module
 */
import { Gauge } from "prom-client";
import { errorText } from "../stack/async.ts";
import { DeadLetter, type Delivery } from "../stack/broker.ts";
import {
  HEADERS,
  numberHeader,
  parseId,
  parseScalar,
  QUEUES,
  textHeader,
} from "../stack/contracts.ts";
import { runService } from "../stack/service.ts";
import { AppendLog } from "./append_log.ts";
import { metricSchema } from "./config.ts";
import { startDashboard } from "./dashboard.ts";
import { type Half, Pairer, type Side } from "./pairing.ts";
import { CSV_HEADER, formatRecord, pairRecord } from "./record.ts";
import { restoreCsv } from "./restore.ts";
import { ErrorStats } from "./stats.ts";

/** Recorded ids remembered for de-duplication (a few MB). */
const SEEN_CAPACITY = 100_000;

await runService({
  name: "metric",
  schema: metricSchema,
  async setup({ config, log, telemetry, broker }) {
    const stats = new ErrorStats();
    const pairer = new Pairer<Delivery>({
      ttlMs: config.unpairedTtlMs,
      seenCapacity: SEEN_CAPACITY,
    });
    await Deno.mkdir(config.logDir, { recursive: true });
    const csvPath = `${config.logDir}/metric_log.csv`;
    const restored = await restoreCsv(csvPath, (record) => {
      stats.add(record);
      pairer.markRecorded(record.id);
    });
    if (restored.movedTo) {
      log.warn("{path} had another header; moved it to {movedTo}", { path: csvPath, ...restored });
    }
    if (restored.truncatedBytes > 0) {
      log.warn("cut a torn last line ({bytes} bytes) from {path}", {
        bytes: restored.truncatedBytes,
        path: csvPath,
      });
    }
    log.info("restored {rows} rows from {path} (MAE {mae})", {
      rows: restored.rows,
      path: csvPath,
      mae: stats.mae,
    });
    const csv = await AppendLog.open(csvPath, CSV_HEADER);
    const labels = await AppendLog.open(`${config.logDir}/labels_log.txt`);

    new Gauge({
      name: "ml_metric_mae",
      help: "Mean absolute error over every recorded sample",
      registers: [telemetry.registry],
      collect() {
        this.set(stats.mae);
      },
    });
    new Gauge({
      name: "ml_metric_unpaired",
      help: "Truths and predictions waiting for their other half",
      registers: [telemetry.registry],
      collect() {
        this.set(pairer.pendingCount);
      },
    });

    const dashboard = startDashboard({
      stats,
      unpaired: () => pairer.pendingCount,
      telemetry,
      log,
      logDir: config.logDir,
      plotEveryMs: config.plotEveryMs,
    });

    async function ackQuietly(delivery: Delivery): Promise<void> {
      // A delivery whose channel died is redelivered by the broker and
      // recognised as recorded then; there is nothing to ack now.
      if (!delivery.live) return;
      await delivery.ack().catch((error) =>
        log.debug("ack failed: {error}", { error: errorText(error) })
      );
    }

    async function record(truth: Half<Delivery>, prediction: Half<Delivery>): Promise<void> {
      const predicted = prediction.token.properties.headers;
      const row = pairRecord({
        id: truth.id,
        yTrue: truth.value,
        yPred: prediction.value,
        modelVersion: textHeader(predicted, HEADERS.modelVersion, "unknown"),
        replica: textHeader(predicted, HEADERS.replica, "unknown"),
        sentAtMs: numberHeader(truth.token.properties.headers, HEADERS.sentAtMs) ??
          numberHeader(predicted, HEADERS.sentAtMs),
        pairedAtMs: performance.timeOrigin + performance.now(),
      });
      stats.add(row);
      try {
        await csv.append(formatRecord(row));
      } catch (error) {
        // Without the row the acks must not happen; exiting hands every
        // unacked message back to the broker for the restarted service.
        log.fatal("cannot write {path}: {error}; exiting so the broker redelivers", {
          path: csvPath,
          error: errorText(error),
        });
        Deno.exit(1);
      }
      await Promise.all([ackQuietly(truth.token), ackQuietly(prediction.token)]);
    }

    function handler(side: Side, idProperty: "messageId" | "correlationId") {
      return (delivery: Delivery): Promise<void> | undefined => {
        const id = parseId(delivery.properties[idProperty], idProperty);
        if (!id.ok) throw new DeadLetter(id.reason);
        const value = parseScalar(delivery.body, config.maxBodyBytes);
        if (!value.ok) throw new DeadLetter(value.reason);
        const line = `received ${value.value} from queue ${delivery.queue}`;
        log.info(line, {
          id: id.value,
          queue: delivery.queue,
          value: value.value,
          redelivered: delivery.redelivered,
        });
        void labels.append(line).catch((error) =>
          log.error("cannot write labels_log.txt: {error}", { error: errorText(error) })
        );
        const offer = pairer.offer({
          id: id.value,
          side,
          value: value.value,
          arrivedAt: performance.now(),
          token: delivery,
        });
        switch (offer.kind) {
          case "paired":
            return record(offer.truth, offer.prediction);
          case "recorded":
            log.debug("dropped duplicate {side} for {id}: already recorded", {
              side,
              id: id.value,
            });
            return ackQuietly(delivery);
          case "replaced":
            log.debug("dropped duplicate {side} for {id}: a copy was waiting", {
              side,
              id: id.value,
            });
            return ackQuietly(offer.replaced.token);
          case "pending":
            return;
        }
      };
    }

    broker.consume(QUEUES.yTrue, handler("y_true", "messageId"), { manualSettle: true });
    broker.consume(QUEUES.yPred, handler("y_pred", "correlationId"), { manualSettle: true });

    const expiry = setInterval(() => {
      for (const half of pairer.expire(performance.now())) {
        if (!half.token.live) continue;
        const other = half.side === "y_true" ? "y_pred" : "y_true";
        half.token.deadLetter(`unpaired: no ${other} for this id within ${config.unpairedTtlMs} ms`)
          .catch((error) =>
            log.error("could not dead-letter {id}: {error}", {
              id: half.id,
              error: errorText(error),
            })
          );
      }
    }, Math.min(1000, config.unpairedTtlMs / 2));
    let loggedCount = stats.count;
    const maeLog = config.maeLogEveryMs > 0
      ? setInterval(() => {
        if (stats.count === loggedCount) return;
        loggedCount = stats.count;
        log.info("running MAE {mae} over {count} samples", {
          mae: Number(stats.mae.toFixed(4)),
          count: stats.count,
        });
      }, config.maeLogEveryMs)
      : undefined;

    return {
      route: dashboard.route,
      onDisconnect() {
        const dropped = pairer.clearPending();
        if (dropped > 0) {
          log.info("forgot {dropped} waiting halves; the broker delivers them again", { dropped });
        }
      },
      async beforeClose() {
        clearInterval(expiry);
        clearInterval(maeLog);
        // Flush, not close: a late delivery may still append before exit.
        await csv.flush();
        await labels.flush();
        await dashboard.close();
        log.info("final MAE {mae} over {count} samples", { mae: stats.mae, count: stats.count });
      },
    };
  },
});
