/**
 * metric: consumes `y_true` and `y_pred`, logs every value with its queue,
 * pairs truth and prediction by sample id, and appends each pair's absolute
 * error to `metric_log.csv`. A pair's two messages are acked only after its
 * row is written, so a crash loses nothing; ids already written are
 * recognised on redelivery, so nothing is counted twice.
 *
 * @module
 */
import type { Delivery } from "../stack/broker.ts";
import { QUEUES } from "../stack/contracts.ts";
import { runService } from "../stack/service.ts";
import { metricSchema } from "./config.ts";
import { startDashboard } from "./dashboard/dashboard.ts";
import { CSV_HEADER, metricLogPath } from "./metric_log/format.ts";
import { restoreMetricLog } from "./metric_log/restore.ts";
import { LogWriter } from "./metric_log/writer.ts";
import { Pairer } from "./pairing/pairer.ts";
import { ErrorStats } from "./pairing/stats.ts";
import { Recorder } from "./recorder.ts";
import { createRecorderMetrics, registerPairingGauges } from "./telemetry.ts";

/**
 * Recorded ids remembered for de-duplication: ~1.7 MiB of heap (100,000 took 8.6 MiB of a
 * 40 MiB old space). Duplicates arrive soon after their first copy (a redelivery after a crash
 * holds at most 2 x prefetch; a replica's redelivered prediction, or features' republished sample,
 * follows within the in-flight window). A lone half older than the ring waits unpaired and is
 * dead-lettered, not counted.
 */
const SEEN_CAPACITY = 20_000;

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
    const csvPath = metricLogPath(config.logDir);
    const restored = await restoreMetricLog(csvPath, (record) => {
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
    const csv = await LogWriter.open(csvPath, CSV_HEADER);
    const labels = await LogWriter.open(`${config.logDir}/labels_log.txt`);

    registerPairingGauges(telemetry.registry, { stats, unpaired: () => pairer.pendingCount });

    const dashboard = startDashboard({
      stats,
      unpaired: () => pairer.pendingCount,
      telemetry,
      log,
      logDir: config.logDir,
      plotEveryMs: config.plotEveryMs,
    });

    const recorder = new Recorder({
      pairer,
      stats,
      metrics: createRecorderMetrics(telemetry.registry),
      appendRow: (line) => csv.append(line),
      appendLabel: (line) => labels.append(line),
      csvPath,
      exit: (code) => Deno.exit(code),
      log,
      now: () => performance.now(),
      wallClockMs: () => performance.timeOrigin + performance.now(),
      maxBodyBytes: config.maxBodyBytes,
      unpairedTtlMs: config.unpairedTtlMs,
    });
    broker.consume(QUEUES.yTrue, recorder.handler("y_true"), { manualSettle: true });
    broker.consume(QUEUES.yPred, recorder.handler("y_pred"), { manualSettle: true });
    const expiry = setInterval(() => recorder.expire(), Math.min(1000, config.unpairedTtlMs / 2));
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
      onDisconnect: () => recorder.forgetPending(),
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
