/**
 * The shape of `docs/benchmarks.json`: every run's raw figures, their
 * summaries, and the targets. Written by `bench/main.ts`, rendered to
 * markdown by `bench/report.ts`.
 *
 * @module
 */
import type { Machine } from "./machine.ts";
import type { HistogramFigures } from "./prometheus.ts";
import type { SlowRuns, Summary } from "./stats.ts";
import type { QueueTypeFigures } from "./queue_types.ts";

/** One pipeline run's figures. */
export interface PipelineFigures {
  readonly samples: number;
  readonly samplesPerSecond: number;
  readonly latencyMs: { p50: number; p95: number; p99: number; max: number };
  /** Samples over 10 ms (after warm-up) and how they group into pauses. */
  readonly over10ms: SlowRuns;
  /** CPU µs per sample of each process (features, model-N, metric, broker). */
  readonly cpuUsPerSample: Readonly<Record<string, number>>;
  /** Peak RSS (MiB) of each service process. */
  readonly peakRssMiB: Readonly<Record<string, number>>;
  /** Largest private resident memory (RssAnon, MiB) polled from each service process. */
  readonly peakAnonMiB?: Readonly<Record<string, number>>;
  /** Cores other processes on the machine used during the run. */
  readonly otherCores: number;
  readonly deadLettered: number;
  /** Pairs predicted by each model replica. */
  readonly byReplica: Readonly<Record<string, number>>;
  /** Latency of the samples left out of `latencyMs` (the cold start), when a run had them. */
  readonly coldLatencyMs?: { p50: number; p99: number; max: number };
  /** Each hop after the cold start, from metric's `/metrics` (`ml_metric_hop_seconds`). */
  readonly hopsMs?: Readonly<Record<string, HistogramFigures>>;
  /** Each hop during the cold start. */
  readonly coldHopsMs?: Readonly<Record<string, HistogramFigures>>;
  /** Each periodic job's runs on metric's event loop after the cold start. */
  readonly periodicJobsMs?: Readonly<Record<string, HistogramFigures>>;
  /** The CPU time metric's process used during those runs (`ml_metric_periodic_job_cpu_seconds`). */
  readonly periodicJobsCpuMs?: Readonly<Record<string, HistogramFigures>>;
  /** PNG renders on metric's PNG worker after the cold start (only on a request for the PNG). */
  readonly plotRendersMs?: HistogramFigures;
}

/** A hop's or a job's figures over the runs. */
export interface HistogramSummaries {
  readonly count: Summary;
  readonly mean: Summary;
  readonly p50: Summary;
  readonly p99: Summary;
  /** Upper bound of the highest bucket anything fell in. */
  readonly maxBound: Summary;
}

/** The latency runs with metric's plot off (`PLOT_EVERY_MS=0`), one per round. */
export interface PlotOffFigures {
  readonly runs: readonly PipelineFigures[];
  readonly p50: Summary;
  readonly p95: Summary;
  readonly p99: Summary;
  readonly max: Summary;
}

/** One ceiling run's figures. */
export interface CeilingFigures {
  readonly messagesPerSecond: number;
  readonly brokerCpuUsPerMessage: number;
  readonly clientCpuUsPerMessage: number;
  readonly otherCores: number;
}

/** A target and whether the median met it. */
export interface Target {
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  /** Absent for a figure reported beside the targets and judged by none. */
  readonly met?: boolean;
}

/** One periodic job's own work on a quiet event loop, ms (`periodic_work.ts`). */
export interface OwnWorkFigures {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * What each of metric's periodic jobs holds its event loop for by itself: its synchronous code,
 * timed in the bench's process before the pipeline runs, over state like a long run's.
 */
export interface PeriodicWorkFigures {
  /** Runs of each job timed. */
  readonly runs: number;
  /** Rounds of every job run first, untimed. */
  readonly warmupRuns: number;
  /** The smallest step of `performance.now()` seen, ms: the durations' resolution. */
  readonly clockStepMs: number;
  /** Cores other processes on the machine used meanwhile. */
  readonly otherCores: number;
  /** The state the jobs ran over. */
  readonly state: {
    readonly errors: number;
    readonly modelVersions: number;
    readonly replicas: number;
    /** Ids in the pairer's de-duplication window, full. */
    readonly recordedIds: number;
    /** Halves waiting for their other half, none due. */
    readonly pendingHalves: number;
    /** Readings in the dashboard's history. */
    readonly readings: number;
  };
  readonly jobs: Readonly<Record<string, OwnWorkFigures>>;
}

/** Everything one `deno task bench` measured. */
export interface BenchResults {
  readonly generatedAt: string;
  readonly quick: boolean;
  readonly runsPerFigure: number;
  readonly durationSeconds: number;
  readonly machine: Machine;
  /** "a throwaway local RabbitMQ" or "AMQP_URL". */
  readonly broker: string;
  readonly settings: {
    readonly logLevel: string;
    readonly bodyBytes: number;
    readonly prefetch: { model: number; metric: number };
    readonly maxInFlightSamples: number;
    readonly ceilingWindowMessages: number;
    readonly ceilingMessages: number;
    readonly throughputSamples: number;
    readonly latencySamples: number;
    readonly latencyRatePerSec: number;
    readonly latencyWarmupSamples: number;
    readonly scalingDelayMs: number;
    readonly scalingPrefetch: number;
    readonly scalingSamples: number;
    readonly cpuScalingSamples: number;
    readonly quietThresholdCores: number;
  };
  readonly ceiling: {
    readonly runs: readonly CeilingFigures[];
    readonly messagesPerSecond: Summary;
    /** Ceiling ÷ 3: a sample costs 3 publishes and 3 deliveries. */
    readonly samplesPerSecond: Summary;
  };
  readonly throughput: {
    readonly runs: readonly PipelineFigures[];
    readonly samplesPerSecond: Summary;
    /** Each round's pipeline throughput ÷ (that round's ceiling ÷ 3). */
    readonly ofCeiling: Summary;
    readonly cpuUsPerSample: Readonly<Record<string, Summary>>;
  };
  readonly latency: {
    readonly runs: readonly PipelineFigures[];
    readonly offeredPerSecond: Summary;
    readonly p50: Summary;
    readonly p95: Summary;
    readonly p99: Summary;
    readonly max: Summary;
    readonly cpuUsPerSample: Readonly<Record<string, Summary>>;
    /** The same rounds with the plot off (absent from results made before the comparison). */
    readonly plotOff?: PlotOffFigures;
    /** Each round's p99 (plot on, the default) ÷ the same round's p99 with the plot off. */
    readonly p99OverPlotOff?: Summary;
    /** The cold start of the runs with the plot on: their first `latencyWarmupSamples`. */
    readonly cold?: { readonly p50: Summary; readonly p99: Summary; readonly max: Summary };
    /** Each hop after the cold start, plot on and plot off. */
    readonly hops?: {
      readonly on: Readonly<Record<string, HistogramSummaries>>;
      readonly off: Readonly<Record<string, HistogramSummaries>>;
      readonly cold: Readonly<Record<string, HistogramSummaries>>;
    };
    /** Each periodic job's runs on metric's event loop after the cold start, plot on. */
    readonly periodicJobs?: Readonly<Record<string, HistogramSummaries>>;
    /** The CPU time used during those runs, plot on. */
    readonly periodicJobsCpu?: Readonly<Record<string, HistogramSummaries>>;
    /** PNG renders on the worker after the cold start, plot on. */
    readonly plotRenders?: HistogramSummaries;
  };
  readonly scaling: {
    /** INFERENCE_DELAY_MS = scalingDelayMs, PREFETCH = scalingPrefetch. */
    readonly delayed: ScalingFigures;
    /** No delay, default prefetch: bounded by the broker. */
    readonly cpuBound: ScalingFigures;
  };
  readonly footprint: {
    /** Peak RSS (MiB) under load, throughput runs. */
    readonly peakMiB: Readonly<Record<string, Summary>>;
    /** RSS (MiB) of model and metric once ready, before any load. */
    readonly idleMiB: Readonly<Record<string, Summary>>;
    /** Largest private resident memory (RssAnon, MiB) during the throughput runs. */
    readonly peakAnonMiB: Readonly<Record<string, Summary>>;
    /** Peak RSS (MiB) at the latency runs' steady rate. */
    readonly atRateMiB: Readonly<Record<string, Summary>>;
    /** docker-stack.yml's memory limit of each service, MiB. */
    readonly limitsMiB: Readonly<Record<string, number>>;
    /** `DENO_V8_FLAGS` every run gave each service (what the images' entrypoint derives). */
    readonly v8Flags: Readonly<Record<string, string>>;
    readonly targetsMiB: {
      readonly peak: number;
      /** metric's own target at full throughput (absent from older results). */
      readonly metricPeak?: number;
      readonly atRate: number;
      readonly headroom: number;
    };
    /** The same throughput runs with V8's own sizing (no `DENO_V8_FLAGS`). */
    readonly unsized: {
      readonly runs: readonly PipelineFigures[];
      readonly peakMiB: Readonly<Record<string, Summary>>;
      readonly samplesPerSecond: Summary;
      readonly cpuUsPerSample: Readonly<Record<string, Summary>>;
    };
  };
  readonly targets: readonly Target[];
  /** Classic vs quorum work queues (absent from results made before the comparison existed). */
  readonly queueTypes?: QueueTypeFigures;
  /** metric's periodic jobs' own work, quiet loop (absent from results made before it). */
  readonly periodicWork?: PeriodicWorkFigures;
}

/** Throughput with 1, 2 and 3 model replicas. */
export interface ScalingFigures {
  readonly runs: Readonly<Record<string, readonly PipelineFigures[]>>;
  /** Samples per second by replica count. */
  readonly samplesPerSecond: Readonly<Record<string, Summary>>;
  /** Each round's throughput ÷ that round's one-replica throughput. */
  readonly speedup: Readonly<Record<string, Summary>>;
}
