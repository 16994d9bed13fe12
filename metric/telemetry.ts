/**
 * Every `ml_metric_*` Prometheus series the metric service exports, defined
 * here and registered by the modules that own the numbers:
 *
 * - {@link createRecorderMetrics}: observed once per recorded pair (see
 *   `recorder.ts`), in forms PromQL can window: counters for totals and
 *   histograms for errors and latency, so that e.g. the MAE of a version over
 *   the last 5 minutes is
 *   `rate(ml_metric_absolute_error_sum[5m]) / rate(ml_metric_absolute_error_count[5m])`.
 * - {@link registerPairingGauges}: the running MAE and the halves waiting
 *   for their other half, read at scrape time (`main.ts`).
 * - {@link registerDashboardGauges}: the dashboard's other statistics and its
 *   throughput, read at scrape time (`dashboard/dashboard.ts`).
 * - {@link createPeriodicMetrics} and {@link createPlotMetrics}: how long each timer's run held
 *   the event loop (`periodic.ts`), and the PNG worker's renders, restarts and lifetime
 *   (`dashboard/png_worker_host.ts`).
 *
 * Labels stay few and bounded: the model version (one per trained model) and
 * the queue a duplicate came from. Per-replica counts come from model's own
 * `ml_messages_out_total`, which carries its `replica` label.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { MILLISECOND_BUCKETS } from "../stack/telemetry.ts";
import { type Hop, type HopDurations, type HopHistogram, HOPS } from "./hops.ts";
import type { PairRecord } from "./metric_log/format.ts";
import { LabelCap, MAX_MODEL_VERSIONS } from "./pairing/label_cap.ts";
import type { ErrorStats } from "./pairing/stats.ts";

/**
 * Upper bounds of the absolute-error buckets: the diabetes target runs from
 * 25 to 346, the trained model's MAE is about 43, so the buckets are fine
 * around it and coarse towards the worst possible error.
 */
export const ABSOLUTE_ERROR_BUCKETS: readonly number[] = [
  5,
  10,
  20,
  30,
  40,
  50,
  60,
  80,
  100,
  150,
  200,
  300,
];

/** Upper bounds of the latency buckets, in seconds: loopback milliseconds up to a backlog's minute. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.002,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** What {@link Recorder} reports; tests pass plain objects. */
export interface RecorderMetrics {
  /** One pair recorded (its row written). */
  recorded(record: PairRecord): void;
  /** A copy of a half already recorded or already waiting was dropped. */
  duplicate(queue: "y_true" | "y_pred"): void;
  /** Where one recorded pair's time went (its row written and both halves acked). */
  hops?(durations: HopDurations): void;
}

/** The per-hop histograms, read back (the dashboard's "where the time goes"). */
export interface HopSource {
  /** Each hop's cumulative buckets and sum since the process started, in ms. */
  hopHistograms(): Promise<Readonly<Record<Hop, HopHistogram>>>;
}

/** Registers the metric service's counters and histograms on `registry`. */
export function createRecorderMetrics(registry: Registry): RecorderMetrics & HopSource {
  const registers = [registry];
  const samples = new Counter({
    name: "ml_metric_samples_total",
    help: "Pairs of truth and prediction recorded since this process started",
    labelNames: ["model_version"],
    registers,
  });
  const absoluteError = new Histogram({
    name: "ml_metric_absolute_error",
    help: "Absolute error of each recorded prediction, by the model version that predicted",
    labelNames: ["model_version"],
    buckets: [...ABSOLUTE_ERROR_BUCKETS],
    registers,
  });
  const latency = new Histogram({
    name: "ml_metric_latency_seconds",
    help: "From features' publish to the pair's row written (end to end)",
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const duplicates = new Counter({
    name: "ml_metric_duplicates_dropped_total",
    help: "Redelivered or replayed halves dropped because their sample was already seen",
    labelNames: ["queue"],
    registers,
  });
  // Both series from the start: `increase()` then sees the first duplicate, not a new series.
  for (const queue of ["y_true", "y_pred"]) duplicates.inc({ queue }, 0);
  const hopSeconds = new Histogram({
    name: "ml_metric_hop_seconds",
    help: "Each hop of a recorded sample: features publish to model receipt, model handling, " +
      "model publish to metric pairing, metric's write and ack (see metric/hops.ts)",
    labelNames: ["hop"],
    buckets: [...MILLISECOND_BUCKETS],
    registers,
  });
  const skewed = new Counter({
    name: "ml_metric_hop_negative_total",
    help: "Hop times that came out negative and were not observed: the clocks of the two " +
      "hosts disagree by more than the hop took",
    labelNames: ["hop"],
    registers,
  });
  for (const hop of HOPS) {
    hopSeconds.zero({ hop });
    skewed.inc({ hop }, 0);
  }
  const versions = new LabelCap(MAX_MODEL_VERSIONS);
  return {
    hops(durations) {
      for (const hop of HOPS) {
        const ms = durations[hop];
        if (ms >= 0) hopSeconds.observe({ hop }, ms / 1000);
        else if (ms < 0) skewed.inc({ hop });
      }
    },
    async hopHistograms() {
      const { values } = await hopSeconds.get();
      const boundsS = [...MILLISECOND_BUCKETS, Number.POSITIVE_INFINITY];
      const histograms = {} as Record<Hop, HopHistogram>;
      for (const hop of HOPS) {
        const cumulative = boundsS.map(() => 0);
        let sumMs = 0;
        for (const { labels, value, metricName } of values) {
          const { hop: of, le } = labels as Partial<Record<"hop" | "le", string | number>>;
          if (of !== hop) continue;
          if (metricName === "ml_metric_hop_seconds_sum") sumMs = value * 1000;
          if (metricName !== "ml_metric_hop_seconds_bucket") continue;
          const at = boundsS.indexOf(le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le));
          if (at >= 0) cumulative[at] = value;
        }
        histograms[hop] = { bounds: boundsS.map((bound) => bound * 1000), cumulative, sumMs };
      }
      return histograms;
    },
    recorded(record) {
      const labels = { model_version: versions.of(record.modelVersion) };
      samples.inc(labels);
      absoluteError.observe(labels, record.absoluteError);
      // NaN: no send time. Negative: clocks of two hosts disagree; not a latency.
      if (record.latencyMs >= 0) latency.observe(record.latencyMs / 1000);
    },
    duplicate(queue) {
      duplicates.inc({ queue });
    },
  };
}

/** What {@link registerPairingGauges} reads at each scrape. */
export interface PairingGaugeSources {
  /** The running statistics (`ErrorStats`). */
  readonly stats: Pick<ErrorStats, "mae">;
  /** Truths and predictions waiting for their other half (`pairer.pendingCount`). */
  unpaired(): number;
}

/** Registers `ml_metric_mae` and `ml_metric_unpaired` on `registry`. */
export function registerPairingGauges(registry: Registry, sources: PairingGaugeSources): void {
  const { stats } = sources;
  new Gauge({
    name: "ml_metric_mae",
    help: "Mean absolute error over every recorded sample",
    registers: [registry],
    collect() {
      this.set(stats.mae);
    },
  });
  new Gauge({
    name: "ml_metric_unpaired",
    help: "Truths and predictions waiting for their other half",
    registers: [registry],
    collect() {
      this.set(sources.unpaired());
    },
  });
}

/** What {@link registerDashboardGauges} reads at each scrape. */
export interface DashboardGaugeSources {
  /** The running statistics (`ErrorStats`). */
  readonly stats: Pick<ErrorStats, "rmse" | "median" | "snapshot">;
  /** The dashboard's readings (`DashboardHistory`): recent throughput and its window. */
  readonly history: { readonly windowSeconds: number; samplesPerSecond(): number | null };
}

/**
 * Registers the dashboard's numbers on `registry`: `ml_metric_rmse`,
 * `ml_metric_median_absolute_error`, `ml_metric_samples_per_second` and
 * `ml_metric_mae_by_version`.
 */
export function registerDashboardGauges(registry: Registry, sources: DashboardGaugeSources): void {
  const { stats, history } = sources;
  const registers = [registry];
  new Gauge({
    name: "ml_metric_rmse",
    help: "Root mean squared error over every recorded sample",
    registers,
    collect() {
      this.set(stats.rmse);
    },
  });
  new Gauge({
    name: "ml_metric_median_absolute_error",
    help: "Median absolute error over every recorded sample (within one unit)",
    registers,
    collect() {
      this.set(stats.median);
    },
  });
  new Gauge({
    name: "ml_metric_samples_per_second",
    help: `Samples recorded per second over the last ${history.windowSeconds} s`,
    registers,
    collect() {
      this.set(history.samplesPerSecond() ?? 0);
    },
  });
  new Gauge({
    name: "ml_metric_mae_by_version",
    help: "Mean absolute error by the model version that predicted",
    labelNames: ["model_version"],
    registers,
    collect() {
      // Reset first so a label set is never reported from a stale collect.
      this.reset();
      for (const [version, { mae }] of Object.entries(stats.snapshot().byVersion)) {
        this.set({ model_version: version }, mae);
      }
    },
  });
}

/** How long each run of a periodic job held the event loop: seconds, finely below a millisecond. */
export const PERIODIC_JOB_BUCKETS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.002,
  0.005,
  0.01,
  0.025,
  0.1,
  1,
];

/**
 * Registers `ml_metric_periodic_job_seconds` and `ml_metric_periodic_job_cpu_seconds`; returns
 * `periodic.ts`'s `observe`.
 */
export function createPeriodicMetrics(
  registry: Registry,
): (job: string, seconds: number, cpuSeconds?: number) => void {
  const runs = new Histogram({
    name: "ml_metric_periodic_job_seconds",
    help: "Event-loop time of each stretch of a periodic job (a run's synchronous part, and each " +
      "part after an await it times): what it held up pairing and acknowledging",
    labelNames: ["job"],
    buckets: [...PERIODIC_JOB_BUCKETS],
    registers: [registry],
  });
  const cpu = new Histogram({
    name: "ml_metric_periodic_job_cpu_seconds",
    help: "CPU time the process used during each stretch of a periodic job: the job's own work " +
      "at most; the rest of its event-loop time the core was given to others",
    labelNames: ["job"],
    buckets: [...PERIODIC_JOB_BUCKETS],
    registers: [registry],
  });
  return (job, seconds, cpuSeconds) => {
    runs.observe({ job }, seconds);
    if (cpuSeconds !== undefined && cpuSeconds >= 0) cpu.observe({ job }, cpuSeconds);
  };
}

/** What the PNG worker reports (`PngWorkerEvents` of `dashboard/png_worker_host.ts`). */
export interface PlotMetrics {
  rendered(ms: number): void;
  restarted(): void;
  running(running: boolean): void;
}

/**
 * Registers `ml_metric_plot_render_seconds`, `ml_metric_plot_worker_restarts_total` and
 * `ml_metric_plot_worker_running` (1 while a worker, and its memory, is alive).
 */
export function createPlotMetrics(registry: Registry): PlotMetrics {
  const registers = [registry];
  const renders = new Histogram({
    name: "ml_metric_plot_render_seconds",
    help: "Time of each PNG render on the PNG worker's thread (off the event loop)",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  });
  const restarts = new Counter({
    name: "ml_metric_plot_worker_restarts_total",
    help: "PNG workers started again after one died or hung",
    registers,
  });
  restarts.inc(0);
  const alive = new Gauge({
    name: "ml_metric_plot_worker_running",
    help: "1 while the PNG worker is alive: started by a request for the PNG, stopped when idle",
    registers,
  });
  alive.set(0);
  return {
    rendered: (ms) => renders.observe(ms / 1000),
    restarted: () => restarts.inc(),
    running: (running) => alive.set(running ? 1 : 0),
  };
}
