/**
 * What each of metric's periodic jobs holds its event loop for by itself: the synchronous code of
 * each job's run (`metric/main.ts`, `metric/dashboard/dashboard.ts`), timed in the bench's own
 * process on a quiet event loop before the pipeline runs, over state like a long run's at
 * metric's defaults. In the pipeline, `ml_metric_periodic_job_seconds` also counts whatever time
 * the kernel gave metric's core to another process in the middle of a stretch (the broker and two
 * other services share the cores); this is the job's own part, the figure its target judges.
 *
 * The jobs run in turn, one run of each per round, so each run follows the others' work as it
 * does in metric, not a hundred runs of itself; the first rounds are a warm-up, as metric draws
 * its plot once at start. Pure but for the work itself: the clock comes in as a port.
 *
 * @module
 */
import { getJsonLinesFormatter, type LogRecord } from "@logtape/logtape";
import type { Delivery } from "../stack/broker.ts";
import { metricSchema } from "../metric/config.ts";
import { fakeDelivery } from "../metric/fake_delivery.ts";
import { DashboardHistory, HISTORY_SECONDS, readingOf } from "../metric/dashboard/history.ts";
import { plotSvg } from "../metric/dashboard/plot_writer.ts";
import { dedupWindow } from "../metric/metric_log/dedup_window.ts";
import { snapshotPieces, snapshotState } from "../metric/metric_log/snapshot.ts";
import { Pairer } from "../metric/pairing/pairer.ts";
import { ErrorStats } from "../metric/pairing/stats.ts";
import { Recorder, type RecorderLog } from "../metric/recorder.ts";
import { ShadowPairer } from "../metric/shadow/shadow_pairer.ts";
import { ShadowRecorder } from "../metric/shadow/shadow_recorder.ts";
import { ShadowSummaries } from "../metric/shadow/shadow_log.ts";
import type { OwnWorkFigures, PeriodicWorkFigures } from "./results.ts";
import { percentile } from "./stats.ts";

/** metric's periodic jobs, by the name `ml_metric_periodic_job_seconds` gives them. */
export const PERIODIC_JOBS = ["expiry", "mae_log", "plot", "snapshot", "stats_reading"] as const;

/** One of {@link PERIODIC_JOBS}. */
export type PeriodicJob = typeof PERIODIC_JOBS[number];

/** How much state the jobs run over. */
export interface LongRunState {
  /** Errors recorded in the statistics, spread over every bin of the histogram. */
  readonly errors: number;
  readonly modelVersions: number;
  readonly replicas: number;
  /** metric's PREFETCH: sizes the de-duplication window, full, and the snapshot's ids. */
  readonly prefetch: number;
  /** Halves waiting for their other half, none due to expire. */
  readonly pendingHalves: number;
  /** Readings in the dashboard's history (one a second). */
  readonly readings: number;
}

/** The state of metric after a long run at its defaults: a million errors, every window full. */
export const LONG_RUN: LongRunState = {
  errors: 1_000_000,
  modelVersions: 3,
  replicas: 3,
  prefetch: metricSchema.prefetch.parse(undefined) as number,
  // As many as metric's prefetch lets one queue hold unacknowledged, waiting for the other side.
  pendingHalves: metricSchema.prefetch.parse(undefined) as number,
  readings: HISTORY_SECONDS,
};

const UNPAIRED_TTL_MS = metricSchema.unpairedTtlMs.parse(undefined) as number;
const MAX_BODY_BYTES = metricSchema.maxBodyBytes.parse(undefined) as number;

/** The `i`-th sample id: as long as a UUID, as features sends them, and the same every time. */
function sampleId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

/** A log that writes nothing: no run here logs (nothing expires). */
const SILENT: RecorderLog = { debug() {}, info() {}, error() {}, fatal() {} };

/**
 * One run of each job, as metric runs it, over state as `state` describes: a function per job
 * that does exactly the synchronous work of one run of it.
 */
export function periodicWork(state: LongRunState): Record<PeriodicJob, () => unknown> {
  // Wall clock of the last pair (the rows' `paired_at`), then one ms per pair before it.
  const wallMs = Date.UTC(2025, 0, 1);
  const versions = Array.from(
    { length: state.modelVersions },
    (_, i) => `sha256-${(0x07e481bfe459c331n + BigInt(i)).toString(16).padStart(16, "0")}`,
  );
  const replicas = Array.from(
    { length: state.replicas },
    (_, i) => (0x3f2a9c1b7d4e + i).toString(16),
  );
  const stats = new ErrorStats();
  // A deterministic spread, as `plot_svg_bench.ts`: most errors small, a long tail, a few past
  // the histogram's limit.
  for (let i = 0; i < state.errors; i++) {
    const u = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
    stats.add({
      absoluteError: -60 * Math.log(1 - u),
      modelVersion: versions[i % versions.length],
      replica: replicas[Math.floor(i / versions.length) % replicas.length],
      pairedAtMs: wallMs - state.errors + i,
    });
  }

  // The pairer: its de-duplication window full, halves waiting for predictions.
  const window = dedupWindow(state.prefetch);
  const pairer = new Pairer<Delivery>({ ttlMs: UNPAIRED_TTL_MS, seenCapacity: window });
  for (let i = 0; i < window; i++) pairer.markRecorded(sampleId(i));
  // A monotonic clock, as `performance.now`: the halves came in the last second.
  let monotonicMs = 3_600_000;
  const token = fakeDelivery("y_true", "151", {});
  for (let i = 0; i < state.pendingHalves; i++) {
    pairer.offer({
      id: sampleId(window + i),
      side: "y_true",
      value: 151,
      arrivedAt: monotonicMs - 1000 + i * (1000 / state.pendingHalves),
      token,
    });
  }
  // What the recorder and the shadow's take alike, as metric/main.ts gives them.
  const alike = {
    exit: (): never => {
      throw new Error("Cannot exit from the bench's periodic work");
    },
    log: SILENT,
    now: () => monotonicMs,
    wallClockMs: () => wallMs,
    maxBodyBytes: MAX_BODY_BYTES,
  };
  const recorder = new Recorder({
    ...alike,
    pairer,
    stats,
    appendRow: () => Promise.resolve(),
    appendLabel: () => Promise.resolve(),
    csvPath: "metric_log.csv",
    unpairedTtlMs: UNPAIRED_TTL_MS,
  });
  // No candidate in shadow, as in the bench's runs.
  const shadow = new ShadowRecorder({
    pairer: new ShadowPairer<Delivery>({
      ttlMs: UNPAIRED_TTL_MS,
      seenCapacity: window,
      outcomeCapacity: 20_000,
    }),
    ...alike,
    summaries: new ShadowSummaries(),
    appendRow: () => Promise.resolve(),
    path: "shadow_log.csv",
  });

  // The dashboard's history, full: a reading a second.
  const history = new DashboardHistory();
  let readingAtMs = wallMs - state.readings * 1000;
  for (let i = 0; i < state.readings; i++) {
    history.record(readingOf(stats.snapshot(), readingAtMs += 1000));
  }

  // The MAE line as metric logs it in a container: JSON, LogTape's formatter, encoded by the sink.
  const formatLine = getJsonLinesFormatter({ properties: "flatten" });
  const encoder = new TextEncoder();
  const log = { seq: 42, offset: 123_456_789 };
  const pieces: (() => Uint8Array)[] = [];
  return {
    expiry() {
      // Wall time goes on between runs; none of the halves is due (UNPAIRED_TTL_MS is minutes).
      monotonicMs += 1;
      recorder.expire();
      shadow.expire();
    },
    mae_log() {
      const mae = Number(stats.mae.toFixed(4));
      const count = stats.count;
      return encoder.encode(formatLine(maeRecord(mae, count, wallMs)));
    },
    // PlotWriter's part before its first await: the SVG, and Deno.writeTextFile encoding it.
    plot: () => encoder.encode(plotSvg(stats)),
    // A stretch a run, as SnapshotTaker takes them: the state read (a copy), then each piece.
    snapshot: () => {
      const piece = pieces.shift();
      if (piece) return piece();
      const read = snapshotState(stats, (last) => pairer.recordedIds(last), state.prefetch);
      pieces.push(...snapshotPieces(log, { stats: read.stats, seen: [...read.seen] }, wallMs));
      return read;
    },
    stats_reading: () => history.record(readingOf(stats.snapshot(), readingAtMs += 1000)),
  };
}

/** The record `log.info("running MAE {mae} over {count} samples", …)` hands its sink. */
function maeRecord(mae: number, count: number, atMs: number): LogRecord {
  return {
    category: ["metric"],
    level: "info",
    message: ["running MAE ", mae, " over ", count, " samples"],
    rawMessage: "running MAE {mae} over {count} samples",
    timestamp: atMs,
    properties: { service: "metric", replica: "3f2a9c1b7d50", mae, count },
  };
}

/** Settings of {@link timeJobs}. */
export interface TimingOptions {
  /** Runs of each job timed. */
  readonly runs: number;
  /** Rounds run first and not timed. */
  readonly warmup: number;
  /** A monotonic clock in ms (default `performance.now`). */
  readonly now?: () => number;
}

/**
 * Runs every job of `jobs` once a round, in turn, `options.warmup` rounds and then
 * `options.runs` timed ones; gives each job's durations (ms), in run order.
 */
export function timeJobs<K extends string>(
  jobs: Readonly<Record<K, () => unknown>>,
  options: TimingOptions,
): Record<K, number[]> {
  const { runs, warmup } = options;
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new RangeError(
      `Cannot time the periodic jobs as 'runs' must be a positive integer: current value is ${runs}`,
    );
  }
  if (!Number.isSafeInteger(warmup) || warmup < 0) {
    throw new RangeError(
      `Cannot time the periodic jobs as 'warmup' must be a whole number: current value is ${warmup}`,
    );
  }
  const now = options.now ?? (() => performance.now());
  const names = Object.keys(jobs) as K[];
  const durations = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    K,
    number[]
  >;
  let sink: unknown;
  for (let round = 0; round < warmup + runs; round++) {
    for (const name of names) {
      const started = now();
      sink = jobs[name]();
      const ms = now() - started;
      if (round >= warmup) durations[name].push(ms);
    }
  }
  // Keep the last results alive so that no run's work can be skipped as unused.
  void sink;
  return durations;
}

/** p50, p99 and max (ms) of one job's durations. */
export function ownWorkFigures(durationsMs: readonly number[]): OwnWorkFigures {
  const sorted = [...durationsMs].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1],
  };
}

/** The job with the largest p99, and that p99 (ms); undefined with no job. */
export function largestOwnWork(
  work: Pick<PeriodicWorkFigures, "jobs">,
): { job: string; p99Ms: number } | undefined {
  let largest: { job: string; p99Ms: number } | undefined;
  for (const [job, figures] of Object.entries(work.jobs)) {
    if (!largest || figures.p99Ms > largest.p99Ms) largest = { job, p99Ms: figures.p99Ms };
  }
  return largest;
}

/**
 * The smallest step `now` moves by, over `tries` changes of its value (ms): the resolution of
 * the durations {@link timeJobs} gives.
 */
export function clockStepMs(now: () => number = () => performance.now(), tries = 100): number {
  let step = Number.POSITIVE_INFINITY;
  for (let i = 0; i < tries; i++) {
    const from = now();
    let to = now();
    while (to === from) to = now();
    step = Math.min(step, to - from);
  }
  return step;
}

/** Settings of {@link measurePeriodicWork}. */
export interface PeriodicWorkOptions extends TimingOptions {
  /** Default {@link LONG_RUN}. */
  readonly state?: LongRunState;
}

/** Builds the state, times each job's runs and summarises them; see the module documentation. */
export function measurePeriodicWork(
  options: PeriodicWorkOptions,
): Omit<PeriodicWorkFigures, "otherCores"> {
  const state = options.state ?? LONG_RUN;
  const durations = timeJobs(periodicWork(state), options);
  return {
    runs: options.runs,
    warmupRuns: options.warmup,
    clockStepMs: clockStepMs(options.now),
    state: {
      errors: state.errors,
      modelVersions: state.modelVersions,
      replicas: state.replicas,
      recordedIds: dedupWindow(state.prefetch),
      pendingHalves: state.pendingHalves,
      readings: state.readings,
    },
    jobs: Object.fromEntries(
      PERIODIC_JOBS.map((job) => [job, ownWorkFigures(durations[job])]),
    ) as Record<PeriodicJob, OwnWorkFigures>,
  };
}
