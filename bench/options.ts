/**
 * What one `deno task bench` measures and how much: its command-line flags,
 * the sizes of each kind of run (full or `--quick`), and the fixed settings
 * and targets. Pure.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { featuresSchema } from "../features/config.ts";
import { metricSchema } from "../metric/config.ts";
import { modelSchema } from "../model/config.ts";

/** The command line of `deno task bench`. */
export interface BenchArgs {
  /** One run of each, fewer samples: a smoke test. */
  readonly quick: boolean;
  /** Runs per figure (default 3, or 1 with `--quick`). */
  readonly runs: number;
  /** Where benchmarks.md and benchmarks.json go (default docs/, or a temporary directory with `--quick`). */
  readonly out?: string;
  /** Every step on stderr. */
  readonly verbose: boolean;
  /** Only re-render benchmarks.md from `out`'s benchmarks.json. */
  readonly render: boolean;
  /** Keep each run's directory (metric_log.csv, services' output). */
  readonly keep: boolean;
  /**
   * Minutes of one soak run at {@link LATENCY_RATE} instead of the bench, its readings written to
   * `out` (default a temporary directory) as soak.md and soak.json.
   */
  readonly soak?: number;
  /**
   * Instead of the bench: what TLS costs a broker hop, clear against TLS on one throwaway broker
   * (`bench/tls_cost.ts`), written to `out` (default a temporary directory) as tls.md and tls.json.
   */
  readonly tls: boolean;
  /**
   * Instead of the bench: what a candidate in shadow costs the running pipeline, without against
   * with on one throwaway broker (`bench/rollout_cost.ts`), written to `out` (default a temporary
   * directory) as rollout.md and rollout.json.
   */
  readonly rollout: boolean;
}

/**
 * Reads the flags of `deno task bench`; throws on an unknown flag, a bad `--runs` or `--soak`, or
 * `--soak` with `--quick` or `--render`.
 */
export function parseBenchArgs(args: readonly string[]): BenchArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      quick: { type: "boolean", default: false },
      runs: { type: "string" },
      out: { type: "string" },
      verbose: { type: "boolean", default: false },
      render: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      soak: { type: "string" },
      tls: { type: "boolean", default: false },
      rollout: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs ?? (values.quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) {
    throw new RangeError(
      `Cannot run the bench as --runs must be a positive integer: current value is "${values.runs}"`,
    );
  }
  const soak = values.soak === undefined ? undefined : Number(values.soak);
  if (soak !== undefined && !(Number.isFinite(soak) && soak > 0 && values.soak!.trim() !== "")) {
    throw new RangeError(
      `Cannot run the soak as --soak must be a positive number of minutes: current value is "${values.soak}"`,
    );
  }
  if (values.rollout && (soak !== undefined || values.render || values.tls)) {
    const other = values.tls ? "tls" : values.render ? "render" : "soak";
    throw new RangeError(
      `Cannot measure a rollout's cost with --${other}: --rollout is a run of its own`,
    );
  }
  if (values.tls && (soak !== undefined || values.render)) {
    throw new RangeError(
      `Cannot measure TLS with --${values.render ? "render" : "soak"}: --tls is a run of its own`,
    );
  }
  if (soak !== undefined && (values.quick || values.render)) {
    throw new RangeError(
      `Cannot run the soak with --${values.quick ? "quick" : "render"}: --soak is a run of its own`,
    );
  }
  return {
    ...(soak === undefined ? {} : { soak }),
    quick: values.quick,
    runs,
    out: values.out,
    verbose: values.verbose,
    render: values.render,
    keep: values.keep,
    tls: values.tls,
    rollout: values.rollout,
  };
}

/** How many messages or samples each kind of run sends. */
export interface BenchSizes {
  readonly ceiling: number;
  readonly throughput: number;
  readonly latency: number;
  readonly scaling: number;
  readonly cpuScaling: number;
}

/** How much one bench measures. */
export interface BenchPlan {
  readonly quick: boolean;
  readonly runs: number;
  readonly sizes: BenchSizes;
  /**
   * Samples at the start of each latency run given apart as its cold start (its first seconds:
   * JIT warm-up of three fresh processes) and left out of the steady state's percentiles.
   */
  readonly latencyWarmup: number;
  /** How long a measurement waits for the machine to be quiet before it starts anyway. */
  readonly quietMaxWaitMs: number;
  /** Timed runs of each of metric's periodic jobs on a quiet loop (`periodic_work.ts`). */
  readonly periodicWorkRuns: number;
}

/**
 * The sizes of the full bench or of `--quick`. A full latency run lasts 65 s at 1,000 samples/s:
 * 5 s of cold start, then a minute of steady state in which every periodic job of metric runs
 * several times (the plot every 10 s, the MAE line every 5 s, the readings and the expiry every
 * second). The whole bench takes about a quarter of an hour.
 */
export function benchPlan(args: Pick<BenchArgs, "quick" | "runs">): BenchPlan {
  const { quick, runs } = args;
  return {
    quick,
    runs,
    sizes: quick
      ? { ceiling: 20_000, throughput: 6_000, latency: 3_000, scaling: 1_500, cpuScaling: 6_000 }
      : {
        ceiling: 60_000,
        throughput: 30_000,
        latency: 65_000,
        scaling: 4_000,
        cpuScaling: 20_000,
      },
    latencyWarmup: quick ? 500 : 5_000,
    quietMaxWaitMs: quick ? 3_000 : 120_000,
    periodicWorkRuns: quick ? 200 : 1_000,
  };
}

/** The offered rate of the latency runs. */
export const LATENCY_RATE = 1000;
/** Scaling with a slow model: 10 ms per prediction, 5 predictions at once per replica. */
export const SCALING_DELAY_MS = 10;
export const SCALING_PREFETCH = 5;
/** A measurement starts once other processes use less than this many cores (or after a while). */
export const QUIET_CORES = 0.3;
/** Every service's `LOG_LEVEL`: at `info` each message writes a log line. */
export const LOG_LEVEL = "warning";
/** Footprint targets (MiB): at full throughput and at the latency runs' 1,000 samples/s. */
export const PEAK_TARGET_MIB = 80;
export const PEAK_AT_RATE_TARGET_MIB = 64;
/** metric's own footprint target at full throughput (MiB): it also serves the dashboard. */
export const METRIC_PEAK_TARGET_MIB = 100;
/** Latency targets at 1,000 samples/s, every periodic job running (ms), and plot on ÷ plot off. */
export const P50_TARGET_MS = 2;
export const P99_TARGET_MS = 20;
export const PLOT_P99_RATIO_TARGET = 1.2;
/** The longest a run of a periodic job may hold metric's event loop by its own work (ms). */
export const PERIODIC_JOB_TARGET_MS = 1;
/**
 * Rounds of every periodic job run untimed before the timed ones (`periodic_work.ts`): the first
 * runs compile the code, as metric's first drawing of its plot at start does.
 */
export const PERIODIC_WORK_WARMUP = 10;
/** Pipeline throughput ÷ (the broker's ceiling ÷ 3), same round. */
export const OF_CEILING_TARGET = 0.85;
/** Each stack limit over the measured peak, at least. */
export const HEADROOM = 1.5;

/** The services' own defaults the bench runs with and reports. */
export const SERVICE_DEFAULTS = {
  modelPrefetch: modelSchema.prefetch.parse(undefined) as number,
  metricPrefetch: metricSchema.prefetch.parse(undefined) as number,
  maxInFlight: featuresSchema.maxInFlight.parse(undefined) as number,
} as const;
