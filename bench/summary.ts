/**
 * Everything one bench measured, summarised into `docs/benchmarks.json`'s
 * shape ({@link BenchResults}): medians over the runs, the footprint against
 * the stack's memory limits, the settings a reader needs to compare two
 * benches, and each target met or missed. Pure: the clock and the machine
 * come in as values.
 *
 * @module
 */
import type { ServiceName } from "../ops/launch.ts";
import { cpuSummaries } from "./figures.ts";
import { latencyResults, longestPeriodicJobMs } from "./latency_summary.ts";
import {
  type BenchPlan,
  HEADROOM,
  LATENCY_RATE,
  LOG_LEVEL,
  METRIC_PEAK_TARGET_MIB,
  OF_CEILING_TARGET,
  P50_TARGET_MS,
  P99_TARGET_MS,
  PEAK_AT_RATE_TARGET_MIB,
  PEAK_TARGET_MIB,
  PERIODIC_JOB_TARGET_MS,
  PLOT_P99_RATIO_TARGET,
  QUIET_CORES,
  SCALING_DELAY_MS,
  SCALING_PREFETCH,
  SERVICE_DEFAULTS,
} from "./options.ts";
import type { QueueTypeFigures } from "./queue_types.ts";
import { largestOwnWork } from "./periodic_work.ts";
import type { BenchResults, PeriodicWorkFigures, Target } from "./results.ts";
import type { LatencyRounds, ThroughputRounds } from "./rounds.ts";
import { formatNumber, formatPercent, formatSummary, summarize, type Summary } from "./stats.ts";

const MiB = 2 ** 20;

/** The headline figures the targets are checked against. */
export interface Headline {
  readonly throughput: Summary;
  readonly ofCeiling: Summary;
  /** At 1,000 samples/s with every periodic job running (metric's defaults). */
  readonly p50: Summary;
  readonly p99: Summary;
  /** Each round's p99 ÷ the same round's with metric's plot off. */
  readonly p99OverPlotOff: Summary;
  /** Each run's longest run of a periodic job on metric's event loop (a bucket's bound), ms. */
  readonly longestPeriodicJobMs: Summary;
  /** The same runs' most CPU time used by the process during one (a bucket's bound), ms. */
  readonly longestPeriodicJobCpuMs?: Summary;
  /**
   * The periodic job whose own work on a quiet loop has the largest p99, that p99 (ms) and the
   * runs it is of (`periodic_work.ts`); absent from results made before it was measured.
   */
  readonly ownWork?: { readonly job: string; readonly p99Ms: number; readonly runs: number };
  readonly threeReplicas: Summary;
  /** The largest peak of features and model at full throughput. */
  readonly worstPeakMiB: number;
  readonly metricPeakMiB: number;
  readonly worstPeakAtRateMiB: number;
  /** The smallest stack limit ÷ peak over the services. */
  readonly leastHeadroom: number;
  /** Each round's throughput with the containers' V8 sizing ÷ the same round's with V8's own. */
  readonly sizedVsUnsized: Summary;
}

/** `median (min–max)` of a ratio summary as percentages. */
function percentSummary(summary: Summary): string {
  return summary.runs.length > 1
    ? `${formatPercent(summary.median)} (${formatPercent(summary.min)}–${
      formatPercent(summary.max)
    })`
    : formatPercent(summary.median);
}

/** The bench's targets, each met or missed. */
export function targetsOf(h: Headline): Target[] {
  const rate = formatNumber(LATENCY_RATE);
  return [
    {
      what: "pipeline throughput",
      target: "≥ 3,000 samples/s",
      measured: `${formatSummary(h.throughput)} samples/s`,
      met: h.throughput.median >= 3000,
    },
    {
      what: "throughput ÷ (ceiling ÷ 3), same run",
      target: `≥ ${formatPercent(OF_CEILING_TARGET)}`,
      measured: percentSummary(h.ofCeiling),
      met: h.ofCeiling.median >= OF_CEILING_TARGET,
    },
    {
      what: `latency p50 at ${rate} samples/s`,
      target: `≤ ${P50_TARGET_MS} ms`,
      measured: `${formatSummary(h.p50, 2)} ms`,
      met: h.p50.median <= P50_TARGET_MS,
    },
    {
      what: `latency p99 at ${rate} samples/s, every periodic job running`,
      target: `≤ ${P99_TARGET_MS} ms`,
      measured: `${formatSummary(h.p99, 2)} ms`,
      met: h.p99.median <= P99_TARGET_MS,
    },
    {
      what: "latency p99 as shipped ÷ p99 with metric's plot off, same round",
      target: `≤ ${formatNumber(PLOT_P99_RATIO_TARGET, 1)}`,
      measured: formatSummary(h.p99OverPlotOff, 2),
      met: h.p99OverPlotOff.median <= PLOT_P99_RATIO_TARGET,
    },
    ...periodicJobTargets(h),
    {
      what: `3 model replicas vs 1 (${SCALING_DELAY_MS} ms per prediction)`,
      target: "≥ 2.8×",
      measured: `${formatSummary(h.threeReplicas, 2)}×`,
      met: h.threeReplicas.median >= 2.8,
    },
    {
      what: "peak RSS of features and model at full throughput",
      target: `≤ ${PEAK_TARGET_MIB} MiB`,
      measured: `${formatNumber(h.worstPeakMiB)} MiB (largest)`,
      met: h.worstPeakMiB <= PEAK_TARGET_MIB,
    },
    {
      what: "peak RSS of metric at full throughput",
      target: `≤ ${METRIC_PEAK_TARGET_MIB} MiB`,
      measured: `${formatNumber(h.metricPeakMiB)} MiB`,
      met: h.metricPeakMiB <= METRIC_PEAK_TARGET_MIB,
    },
    {
      what: `peak RSS of each service at ${rate} samples/s`,
      target: `≤ ${PEAK_AT_RATE_TARGET_MIB} MiB`,
      measured: `${formatNumber(h.worstPeakAtRateMiB)} MiB (largest)`,
      met: h.worstPeakAtRateMiB <= PEAK_AT_RATE_TARGET_MIB,
    },
    {
      what: "throughput with the containers' V8 sizing ÷ V8's own sizing, same round",
      target: "≥ 95%",
      measured: formatPercent(h.sizedVsUnsized.median),
      met: h.sizedVsUnsized.median >= 0.95,
    },
    {
      what: "docker-stack.yml memory limit ÷ peak at full throughput",
      target: `≥ ${formatNumber(HEADROOM, 1)}×`,
      measured: `${formatNumber(h.leastHeadroom, 2)}× (smallest)`,
      met: h.leastHeadroom >= HEADROOM,
    },
  ];
}

/**
 * The periodic jobs' row: their own work judged against the target, the longest stretch in the
 * pipeline reported beside it (it also holds the time the kernel gave metric's core to another
 * process). Results made before the own work was measured judge the stretch, as they did.
 */
function periodicJobTargets(h: Headline): Target[] {
  const inSitu = `≤ ${formatSummary(h.longestPeriodicJobMs, 2)} ms` +
    (h.longestPeriodicJobCpuMs && Number.isFinite(h.longestPeriodicJobCpuMs.median)
      ? `, of CPU ≤ ${formatSummary(h.longestPeriodicJobCpuMs, 2)} ms`
      : "");
  if (!h.ownWork) {
    return [{
      what: "longest run of a periodic job on metric's event loop",
      target: `≤ ${PERIODIC_JOB_TARGET_MS} ms`,
      measured: inSitu,
      met: h.longestPeriodicJobMs.median <= PERIODIC_JOB_TARGET_MS,
    }];
  }
  const { job, p99Ms, runs } = h.ownWork;
  return [
    {
      what: `a periodic job's own work on metric's event loop (p99 of ${
        formatNumber(runs)
      } runs, quiet)`,
      target: `≤ ${PERIODIC_JOB_TARGET_MS} ms`,
      measured: `${formatNumber(p99Ms, 3)} ms (${job}, the largest)`,
      met: p99Ms <= PERIODIC_JOB_TARGET_MS,
    },
    {
      what:
        "longest stretch of a periodic job on metric's event loop in the pipeline, other processes' turns on the core included",
      target: "reported, not judged",
      measured: inSitu,
    },
  ];
}

/** The settings a reader needs to compare two benches. */
export function settingsOf(
  plan: BenchPlan,
  message: { readonly body: string },
  ceilingWindow: number,
): BenchResults["settings"] {
  return {
    logLevel: LOG_LEVEL,
    bodyBytes: new TextEncoder().encode(message.body).byteLength,
    prefetch: { model: SERVICE_DEFAULTS.modelPrefetch, metric: SERVICE_DEFAULTS.metricPrefetch },
    maxInFlightSamples: SERVICE_DEFAULTS.maxInFlight,
    ceilingWindowMessages: ceilingWindow,
    ceilingMessages: plan.sizes.ceiling,
    throughputSamples: plan.sizes.throughput,
    latencySamples: plan.sizes.latency,
    latencyRatePerSec: LATENCY_RATE,
    latencyWarmupSamples: plan.latencyWarmup,
    scalingDelayMs: SCALING_DELAY_MS,
    scalingPrefetch: SCALING_PREFETCH,
    scalingSamples: plan.sizes.scaling,
    cpuScalingSamples: plan.sizes.cpuScaling,
    quietThresholdCores: QUIET_CORES,
  };
}

/** What one bench measured, and around what. */
export interface Measurements {
  readonly plan: BenchPlan;
  /** When the results were summarised (ISO 8601). */
  readonly generatedAt: string;
  readonly durationSeconds: number;
  readonly machine: BenchResults["machine"];
  /** Whether the bench started its own broker (else `AMQP_URL`'s). */
  readonly localBroker: boolean;
  readonly settings: BenchResults["settings"];
  /** docker-stack.yml's memory limit of each service, bytes. */
  readonly limits: Readonly<Record<ServiceName, number>>;
  /** `DENO_V8_FLAGS` every sized run gave each service. */
  readonly v8Flags: Readonly<Record<ServiceName, string>>;
  readonly rounds: ThroughputRounds;
  readonly latency: LatencyRounds;
  readonly scaling: BenchResults["scaling"];
  readonly queueTypes: QueueTypeFigures;
  /** metric's periodic jobs' own work on a quiet loop, when measured. */
  readonly periodicWork?: PeriodicWorkFigures;
}

/** Everything measured, summarised, as `docs/benchmarks.json` holds it. */
export function benchResults(m: Measurements): BenchResults {
  const { rounds, scaling } = m;
  const latencyRuns = m.latency.on;
  const latency = latencyResults(m.latency);
  const { ceilingRuns, throughputRuns, throughputResults, unsizedRuns } = rounds;
  // Footprint, from the throughput runs.
  const services = ["features", "model-1", "metric"];
  const peakMiB = Object.fromEntries(
    services.map((name) => [name, summarize(throughputRuns.map((f) => f.peakRssMiB[name]))]),
  );
  const peakAnonMiB = Object.fromEntries(
    services.map((name) => [
      name,
      summarize(throughputRuns.map((f) => f.peakAnonMiB?.[name] ?? Number.NaN)),
    ]),
  );
  const atRateMiB = Object.fromEntries(
    services.map((name) => [name, summarize(latencyRuns.map((f) => f.peakRssMiB[name]))]),
  );
  const serviceOf = (name: string) => name.replace(/-\d+$/, "") as ServiceName;
  const limitsMiB = Object.fromEntries(services.map((n) => [n, m.limits[serviceOf(n)] / MiB]));
  const v8Flags = Object.fromEntries(services.map((n) => [n, m.v8Flags[serviceOf(n)]]));
  const idleMiB = Object.fromEntries(
    ["model-1", "metric"].map((name) => [
      name,
      summarize(throughputResults.map((r) => r.readyRss[name] / MiB)),
    ]),
  );
  const throughput = summarize(throughputRuns.map((f) => f.samplesPerSecond));
  const ofCeiling = summarize(rounds.ofCeiling);
  const targets = targetsOf({
    throughput,
    ofCeiling,
    p50: latency.p50,
    p99: latency.p99,
    p99OverPlotOff: latency.p99OverPlotOff!,
    longestPeriodicJobMs: longestPeriodicJobMs(latencyRuns),
    longestPeriodicJobCpuMs: longestPeriodicJobMs(latencyRuns, "cpu"),
    ownWork: ownWorkHeadline(m.periodicWork),
    threeReplicas: scaling.delayed.speedup["3"],
    worstPeakMiB: Math.max(peakMiB.features.median, peakMiB["model-1"].median),
    metricPeakMiB: peakMiB.metric.median,
    worstPeakAtRateMiB: Math.max(...Object.values(atRateMiB).map((s) => s.median)),
    leastHeadroom: Math.min(...services.map((n) => limitsMiB[n] / peakMiB[n].median)),
    sizedVsUnsized: summarize(
      throughputRuns.map((f, i) => f.samplesPerSecond / unsizedRuns[i].samplesPerSecond),
    ),
  });
  return {
    generatedAt: m.generatedAt,
    quick: m.plan.quick,
    runsPerFigure: m.plan.runs,
    durationSeconds: m.durationSeconds,
    machine: m.machine,
    broker: m.localBroker ? "a throwaway local RabbitMQ started by the bench" : "AMQP_URL",
    settings: m.settings,
    ceiling: {
      runs: ceilingRuns,
      messagesPerSecond: summarize(ceilingRuns.map((c) => c.messagesPerSecond)),
      samplesPerSecond: summarize(ceilingRuns.map((c) => c.messagesPerSecond / 3)),
    },
    throughput: {
      runs: throughputRuns,
      samplesPerSecond: throughput,
      ofCeiling,
      cpuUsPerSample: cpuSummaries(throughputRuns),
    },
    latency,
    scaling,
    footprint: {
      peakMiB,
      atRateMiB,
      peakAnonMiB,
      idleMiB,
      limitsMiB,
      v8Flags,
      targetsMiB: {
        peak: PEAK_TARGET_MIB,
        metricPeak: METRIC_PEAK_TARGET_MIB,
        atRate: PEAK_AT_RATE_TARGET_MIB,
        headroom: HEADROOM,
      },
      unsized: {
        runs: unsizedRuns,
        peakMiB: Object.fromEntries(
          services.map((name) => [name, summarize(unsizedRuns.map((f) => f.peakRssMiB[name]))]),
        ),
        samplesPerSecond: summarize(unsizedRuns.map((f) => f.samplesPerSecond)),
        cpuUsPerSample: cpuSummaries(unsizedRuns),
      },
    },
    targets,
    queueTypes: m.queueTypes,
    ...(m.periodicWork ? { periodicWork: m.periodicWork } : {}),
  };
}

/** The job of `work` with the largest p99, for the target; undefined when not measured. */
function ownWorkHeadline(work: PeriodicWorkFigures | undefined): Headline["ownWork"] {
  const largest = work && largestOwnWork(work);
  return work && largest ? { ...largest, runs: work.runs } : undefined;
}
