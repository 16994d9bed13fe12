/**
 * metric: consumes `y_true` and `y_pred`, logs every value with its queue,
 * pairs truth and prediction by sample id, and appends each pair's absolute
 * error to `metric_log.csv`. A pair's two messages are acked only after its
 * row is written, so a crash loses nothing; ids already written are
 * recognised on redelivery, so nothing is counted twice. Its HTTP listener
 * also serves the dashboard and the last rows for a retrain (`/records`).
 *
 * @module
 */
import { errorText } from "../stack/async.ts";
import type { Delivery } from "../stack/broker.ts";
import { QUEUES } from "../stack/contracts.ts";
import { runService } from "../stack/service.ts";
import { metricSchema } from "./config.ts";
import { startDashboard } from "./dashboard/dashboard.ts";
import { openMetricStore } from "./metric_log/store.ts";
import { Pairer } from "./pairing/pairer.ts";
import { startPeriodic } from "./periodic.ts";
import { Recorder } from "./recorder.ts";
import { recordsRoute } from "./records_route.ts";
import { ShadowPairer } from "./shadow/shadow_pairer.ts";
import { createShadowMetrics, ShadowRecorder } from "./shadow/shadow_recorder.ts";
import {
  createPeriodicMetrics,
  createRecorderMetrics,
  registerPairingGauges,
} from "./telemetry.ts";

/**
 * Most stable outcomes metric keeps for a candidate's predictions (`shadow/shadow_pairer.ts`):
 * 20 s at 1,000 samples/s, the skew a candidate may have behind the stable model; about 3 MB.
 */
const SHADOW_OUTCOME_CAPACITY = 20_000;

await runService({
  name: "metric",
  schema: metricSchema,
  async setup({ config, log, telemetry, broker }) {
    // The snapshot and the rows after it (metric_log/): statistics, recent ids, rotating logs.
    const store = await openMetricStore(config, log);
    const { stats, csv, labels, csvPath } = store;
    const pairer = new Pairer<Delivery>({
      ttlMs: config.unpairedTtlMs,
      seenCapacity: store.window,
    });
    for (const id of store.seen) pairer.markRecorded(id);
    const snapshots = store.snapshots((last) => pairer.recordedIds(last));

    registerPairingGauges(telemetry.registry, { stats, unpaired: () => pairer.pendingCount });
    const metrics = createRecorderMetrics(telemetry.registry);
    const observe = createPeriodicMetrics(telemetry.registry);
    const onError = (job: string, error: unknown) =>
      log.error("periodic job {job} failed: {error}", { job, error: errorText(error) });

    const dashboard = startDashboard({
      stats,
      unpaired: () => pairer.pendingCount,
      telemetry,
      log,
      logDir: config.logDir,
      plotEveryMs: config.plotEveryMs,
      hops: metrics,
      observe,
      png: { idleMs: config.pngIdleMs },
    });

    // GET /records: the last rows of the log, for the controller's retrain.
    const records = recordsRoute({ csvPath, log });

    // A candidate in shadow (y_pred_shadow): paired apart, in shadow_log.csv (shadow/).
    const shadowLog = store.shadow;
    const shadowPairer = new ShadowPairer<Delivery>({
      ttlMs: config.unpairedTtlMs,
      seenCapacity: store.window,
      outcomeCapacity: SHADOW_OUTCOME_CAPACITY,
      // Restarted in the middle of a shadow (its last row is recent): pair the backlog too.
      ...(Date.now() - (shadowLog.lastPairedAtMs ?? -Infinity) <= config.unpairedTtlMs
        ? { shadowingSince: performance.now() }
        : {}),
    });
    for (const key of shadowLog.keys) shadowPairer.markRecorded(key);
    const shadow = new ShadowRecorder({
      pairer: shadowPairer,
      summaries: shadowLog.summaries,
      appendRow: (line) => shadowLog.writer.append(line),
      path: shadowLog.path,
      exit: (code) => Deno.exit(code),
      log,
      metrics: createShadowMetrics(telemetry.registry, shadowLog.summaries),
      now: () => performance.now(),
      wallClockMs: () => performance.timeOrigin + performance.now(),
      maxBodyBytes: config.maxBodyBytes,
    });

    const recorder = new Recorder({
      pairer,
      stats,
      metrics,
      appendRow: (line) => csv.append(line),
      appendLabel: (line) => labels.append(line),
      csvPath,
      exit: (code) => Deno.exit(code),
      log,
      now: () => performance.now(),
      wallClockMs: () => performance.timeOrigin + performance.now(),
      maxBodyBytes: config.maxBodyBytes,
      unpairedTtlMs: config.unpairedTtlMs,
      onRecorded: (row) => shadow.noteStable(row),
    });
    broker.consume(QUEUES.yTrue, recorder.handler("y_true"), { manualSettle: true });
    broker.consume(QUEUES.yPred, recorder.handler("y_pred"), { manualSettle: true });
    broker.consume(QUEUES.yPredShadow, shadow.handler(), { manualSettle: true });
    const expiry = startPeriodic({
      name: "expiry",
      everyMs: Math.min(1000, config.unpairedTtlMs / 2),
      run: () => {
        recorder.expire();
        shadow.expire();
      },
      observe,
      onError,
    });
    const snapshot = startPeriodic({
      name: "snapshot",
      everyMs: config.snapshotEveryMs,
      run: (step) => snapshots.take(step),
      observe,
      onError,
    });
    let loggedCount = stats.count;
    const maeLog = startPeriodic({
      name: "mae_log",
      everyMs: config.maeLogEveryMs,
      run() {
        if (stats.count === loggedCount) return;
        loggedCount = stats.count;
        log.info("running MAE {mae} over {count} samples", {
          mae: Number(stats.mae.toFixed(4)),
          count: stats.count,
        });
      },
      observe,
      onError,
    });

    return {
      route: (request, url) => records(request, url) ?? dashboard.route(request, url),
      onDisconnect: () => {
        recorder.forgetPending();
        shadow.forgetPending();
      },
      async beforeClose() {
        expiry.stop();
        maeLog.stop();
        snapshot.stop();
        // Flush, not close: a late delivery may still append before exit.
        await csv.flush();
        await labels.flush();
        await shadowLog.writer.flush();
        // The next start reads nothing but the snapshot (and rows a late delivery adds).
        await snapshots.take().catch((error) => onError("snapshot", error));
        await dashboard.close();
        log.info("final MAE {mae} over {count} samples", { mae: stats.mae, count: stats.count });
      },
    };
  },
});
