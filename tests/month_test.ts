/**
 * A month in minutes: 30 days of the stack's default pace (5 samples/s, 12,960,000 samples)
 * (each row with its inputs) written through metric's own store (`metric/metric_log/store.ts`: the writers of
 * metric_log.csv and labels_log.txt with their default rotation and retention, the snapshots),
 * on a simulated clock. Then the real metric service starts on that volume, as it would after a
 * crash (the last snapshot a minute old): it must be ready within 3 s, use no more than 10 MiB
 * more memory than a start on an empty volume, leave the volume within its stated budget, and
 * hold the statistics of the whole month. Measured after 1,000,000 samples too, to show the
 * cost does not grow with the history. metric runs with the V8 sizing its container gives it.
 *
 * MONTH_SAMPLES sets another total (the default takes 2-3 minutes here).
 */
import assert from "node:assert/strict";
import { peakRssBytes } from "../bench/stats.ts";
import { stackMemoryLimits, v8FlagsFor } from "../bench/v8_sizing.ts";
import { metricSchema } from "../metric/config.ts";
import { listRotated } from "../metric/metric_log/files.ts";
import {
  formatRecord,
  metricLogPath,
  pairRecord,
  parseRecord,
} from "../metric/metric_log/format.ts";
import { readSnapshot, snapshotPath } from "../metric/metric_log/snapshot.ts";
import { openMetricStore, volumeBudgetBytes } from "../metric/metric_log/store.ts";
import { Pairer } from "../metric/pairing/pairer.ts";
import { ErrorStats } from "../metric/pairing/stats.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { waitReady } from "../ops/kit/process.ts";
import { loadConfig } from "../stack/config.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { Pipeline, sharedBroker, stopSharedBroker } from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const RATE_PER_S = 5;
const MONTH = Number(Deno.env.get("MONTH_SAMPLES") ?? 30 * 86_400 * RATE_PER_S);
const CHECKPOINT = Math.min(1_000_000, Math.floor(MONTH / 2));
/** Rows written after the last snapshot: one SNAPSHOT_EVERY_MS (60 s) at the rate. */
const TAIL = 60 * RATE_PER_S;
/** Snapshots while writing: one a simulated hour (the service takes one a minute). */
const SNAPSHOT_EVERY = 3_600 * RATE_PER_S;

/** V8 sized as the image's entrypoint sizes it for metric's limit in docker-stack.yml. */
const V8_FLAGS = v8FlagsFor(
  stackMemoryLimits(await Deno.readTextFile(new URL("../docker-stack.yml", import.meta.url)))
    .metric,
);

/** metric's settings with nothing set: the defaults the stack runs with. */
const DEFAULTS = loadConfig(metricSchema, () => undefined);

/** What one start of the real metric service showed. */
interface Start {
  readonly history: number;
  readonly readyMs: number;
  readonly peakBytes: number;
  readonly stats: ErrorStats;
  readonly restoredLine: string;
}

/** Starts each measured this many times: one start's peak varies by several MiB (GC timing). */
const STARTS = 5;

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * Starts metric on `pipeline`'s volume {@link STARTS} times, each as after a crash (the volume
 * as it was), and gives the median time to ready and peak memory.
 */
async function startMetric(pipeline: Pipeline, history: number): Promise<Start> {
  const snapshot = snapshotPath(pipeline.logDir);
  const before = await Deno.readFile(snapshot).catch(() => undefined);
  const starts: Start[] = [];
  for (let i = 0; i < STARTS; i++) {
    // Each start finds the snapshot the crash left, not the one the last start wrote at its stop.
    if (before) await Deno.writeFile(snapshot, before);
    else await Deno.remove(snapshot).catch(() => {});
    starts.push(await startOnce(pipeline, history));
  }
  console.log(
    `${history}: peaks ${starts.map((s) => (s.peakBytes / 1024 ** 2).toFixed(1)).join(" ")}`,
  );
  return {
    ...starts.at(-1)!,
    readyMs: median(starts.map((s) => s.readyMs)),
    peakBytes: median(starts.map((s) => s.peakBytes)),
  };
}

/** Starts metric on `pipeline`'s volume, measures it, stops it (SIGTERM: its final snapshot). */
async function startOnce(pipeline: Pipeline, history: number): Promise<Start> {
  const httpPort = freePort();
  const started = performance.now();
  const metric = pipeline.spawn("metric", { DENO_V8_FLAGS: V8_FLAGS }, { httpPort });
  await waitReady(metric, { timeoutMs: 30_000, intervalMs: 20 });
  const readyMs = performance.now() - started;
  // The peak so far, a moment after it is ready (what the restore cost is in by then).
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  // Through cat: Deno grants /proc only with --allow-all.
  const status = await new Deno.Command("cat", { args: [`/proc/${metric.pid}/status`] }).output();
  const peakBytes = peakRssBytes(new TextDecoder().decode(status.stdout)) ?? NaN;
  const stats = await (await fetch(`http://127.0.0.1:${httpPort}/api/stats`)).json();
  assert.equal(stats.count, history, "the dashboard counts the whole history");
  assert.equal((await metric.stop()).code, 0);
  const restoredLine = String(
    metric.logs().find((l) => String(l.message).startsWith("restored"))?.message,
  );
  const snapshot = await readSnapshot(snapshotPath(pipeline.logDir));
  assert.ok(snapshot.ok, "the service left a snapshot at shutdown");
  return {
    history,
    readyMs,
    peakBytes,
    stats: ErrorStats.fromState(snapshot.snapshot.stats),
    restoredLine,
  };
}

/** Bytes of every file in `dir`. */
async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) total += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return total;
}

Deno.test({
  name:
    "a month of samples: metric restarts within 3 s and 10 MiB of an empty start, within its disk budget, with the month's statistics",
  ...integration,
  async fn() {
    const broker = await sharedBroker();
    const empty = await Pipeline.create(broker, "month-empty");
    const month = await Pipeline.create(broker, "month");
    try {
      const starts: (Start & { expected: ReturnType<ErrorStats["state"]> })[] = [
        { ...await startMetric(empty, 0), expected: new ErrorStats().state() },
      ];

      // Each row carries its inputs, as the pipeline records them: the data set's rows in turn.
      const { X } = await loadDiabetes();
      // The service's own store on the month's volume, with a clock that runs 200 ms a row.
      let now = Date.now() - (MONTH / RATE_PER_S) * 1_000;
      const store = await openMetricStore({ ...DEFAULTS, logDir: month.logDir, now: () => now }, {
        info() {},
        warn() {},
        error(message, properties) {
          throw new Error(`${message} ${JSON.stringify(properties)}`);
        },
      });
      const { stats, csv, labels } = store;
      const pairer = new Pairer<null>({
        ttlMs: DEFAULTS.unpairedTtlMs,
        seenCapacity: store.window,
      });
      const snapshots = store.snapshots(() => pairer.recordedIds());
      let written = 0;
      const write = async (until: number) => {
        const pending: Promise<void>[] = [];
        for (; written < until; written++) {
          now += 1_000 / RATE_PER_S;
          const n = written;
          // As the recorder does: count, remember, write the row; and a label line per message.
          const record = pairRecord({
            id: crypto.randomUUID(),
            yTrue: 25 + (n * 37) % 322,
            yPred: 152 + Math.sin(n) * 60,
            // A rolling update a week, three replicas.
            modelVersion: `v${Math.floor(n / (7 * 86_400 * RATE_PER_S)) + 1}`,
            replica: `ml_model.${(n % 3) + 1}`,
            pairedAtMs: now,
            sentAtMs: now - 3.25,
            inputs: X[n % X.length],
          });
          stats.add(record);
          pairer.markRecorded(record.id);
          pending.push(csv.append(formatRecord(record)));
          labels.append(`received ${record.yTrue} from queue y_true`);
          labels.append(`received ${record.yPred} from queue y_pred`);
          if (pending.length === 2_000) await Promise.all(pending.splice(0));
          if ((n + 1) % SNAPSHOT_EVERY === 0 && until - n > TAIL) await snapshots.take();
        }
        await Promise.all(pending);
        await labels.flush();
      };
      const wrote = performance.now();
      for (const size of [CHECKPOINT, MONTH]) {
        // The last snapshot a minute before the end, as after a crash.
        await write(size - TAIL);
        await snapshots.take();
        await write(size);
        starts.push({ ...await startMetric(month, size), expected: stats.state() });
      }
      const writeSeconds = (performance.now() - wrote) / 1000;
      await csv.close();
      await labels.close();

      const budget = volumeBudgetBytes(DEFAULTS);
      const disk = await diskBytes(month.logDir);
      const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);
      console.log(`${MONTH} samples written in ${writeSeconds.toFixed(0)} s`);
      console.log(`history    | ready  | peak RSS   | restored (medians of ${STARTS} starts)`);
      for (const start of starts) {
        console.log(
          `${String(start.history).padStart(10)} | ${(start.readyMs / 1000).toFixed(2)} s | ${
            mib(start.peakBytes).padStart(6)
          } MiB | ${start.restoredLine}`,
        );
      }
      console.log(`disk: ${mib(disk)} MiB of a budget of ${mib(budget)} MiB`);
      // What retention kept: the history a retrain can reach back to.
      const oldest = listRotated(metricLogPath(month.logDir))[0];
      const firstRow = oldest && parseRecord((await Deno.readTextFile(oldest.path)).split("\n")[1]);
      if (firstRow) {
        const days = (now - firstRow.pairedAtMs) / 86_400_000;
        console.log(`metric_log.csv keeps the last ${days.toFixed(1)} days of rows`);
      }

      const [first] = starts;
      for (const start of starts) {
        assert.ok(
          start.readyMs < 3_000,
          `ready in ${start.readyMs} ms with ${start.history} samples`,
        );
        assert.ok(
          start.peakBytes - first.peakBytes <= 10 * 1024 ** 2,
          `peak ${mib(start.peakBytes)} MiB with ${start.history} samples, ${
            mib(first.peakBytes)
          } empty`,
        );
      }
      assert.ok(disk <= budget, `${disk} bytes on the volume, budget ${budget}`);
      // Read the snapshot and the rows after it, not the month.
      assert.match(
        starts.at(-1)!.restoredLine,
        new RegExp(`from .*metric_state\\.json.*\\(${TAIL} rows`),
      );
      for (const start of starts) {
        assert.deepEqual(start.stats.state(), start.expected, `statistics of ${start.history}`);
      }
    } finally {
      await month.dispose();
      await empty.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
