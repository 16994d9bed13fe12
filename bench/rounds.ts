/**
 * The measurements of `deno task bench`, in the order it makes them: rounds
 * of a ceiling run and throughput runs, latency runs at a fixed rate,
 * scaling with 1–3 model replicas. Each waits for a quiet machine first and
 * says what it measured.
 *
 * @module
 */
import type { OutgoingMessage } from "../features/sampler.ts";
import type { ServiceName } from "../ops/launch.ts";
import type { QueueType } from "../stack/topology.ts";
import { measureCeiling } from "./ceiling.ts";
import { mapValues, pipelineFigures } from "./figures.ts";
import { machineBusyMs, waitForQuiet } from "./machine.ts";
import { type BenchPlan, LATENCY_RATE, QUIET_CORES } from "./options.ts";
import type { PipelineResult, PipelineRun } from "./pipeline.ts";
import { processCpuMs } from "./process_usage.ts";
import type { CeilingFigures, PipelineFigures, ScalingFigures } from "./results.ts";
import { formatNumber, formatPercent, ratio, summarize } from "./stats.ts";

/** What every measurement of one bench needs. */
export interface Bench {
  readonly plan: BenchPlan;
  readonly url: string;
  readonly brokerPid: number | undefined;
  /** A features message as the pipeline sends it: what the ceiling publishes. */
  readonly message: OutgoingMessage;
  /** Messages the ceiling keeps in flight: what features allows, twice (features and y_true). */
  readonly ceilingWindow: number;
  /** Unacked deliveries the ceiling's consumer may hold: the model's. */
  readonly ceilingPrefetch: number;
  /** V8 left to size itself from the host's memory: no `DENO_V8_FLAGS`. */
  readonly unsized: Record<ServiceName, string>;
  /**
   * One pipeline run of `count` samples with the bench's defaults and `settings`, each service's
   * V8 sized by `v8` (default: as in the containers).
   */
  pipeline(
    count: number,
    settings: Partial<PipelineRun>,
    v8?: Record<ServiceName, string>,
  ): Promise<PipelineResult>;
  say(message: string): void;
}

/** The figures of the rounds that measure throughput: each round a ceiling run and two pipeline runs. */
export interface ThroughputRounds {
  readonly ceilingRuns: CeilingFigures[];
  readonly throughputRuns: PipelineFigures[];
  readonly throughputResults: PipelineResult[];
  /** Each round's throughput over its ceiling ÷ 3. */
  readonly ofCeiling: number[];
  readonly unsizedRuns: PipelineFigures[];
}

/** Waits for the machine to be quiet before a measurement; says so when it is not. */
export async function quiet(bench: Pick<Bench, "plan" | "say">): Promise<void> {
  const cores = await waitForQuiet(QUIET_CORES, bench.plan.quietMaxWaitMs);
  if (cores >= QUIET_CORES) {
    bench.say(`other processes still use ${formatNumber(cores, 2)} cores; measuring anyway`);
  }
}

/**
 * Ceiling and pipeline throughput, one of each per round, so each ratio
 * compares two runs made minutes apart at most; and each round the same
 * run with V8's own sizing, for comparison.
 */
export async function throughputRounds(bench: Bench): Promise<ThroughputRounds> {
  const { runs, sizes } = bench.plan;
  const rounds: ThroughputRounds = {
    ceilingRuns: [],
    throughputRuns: [],
    throughputResults: [],
    ofCeiling: [],
    unsizedRuns: [],
  };
  for (let round = 1; round <= runs; round++) {
    await quiet(bench);
    const ceiling = await ceilingRun(bench, { messages: sizes.ceiling });
    rounds.ceilingRuns.push(ceiling);
    bench.say(
      `ceiling ${round}/${runs}: ${formatNumber(ceiling.messagesPerSecond)} msg/s ` +
        `(÷3 = ${formatNumber(ceiling.messagesPerSecond / 3)} samples/s; ` +
        `broker ${formatNumber(ceiling.brokerCpuUsPerMessage)} µs CPU/msg)`,
    );
    await quiet(bench);
    const result = await bench.pipeline(sizes.throughput, {});
    const figures = pipelineFigures(result, 0);
    rounds.throughputRuns.push(figures);
    rounds.throughputResults.push(result);
    rounds.ofCeiling.push(ratio(figures.samplesPerSecond, ceiling.messagesPerSecond / 3));
    bench.say(
      `throughput ${round}/${runs}: ${formatNumber(figures.samplesPerSecond)} samples/s ` +
        `= ${formatPercent(rounds.ofCeiling.at(-1)!)} of ceiling ÷ 3; peak RSS ${
          peakRssText(figures)
        }`,
    );
    rounds.unsizedRuns.push(await unsizedRun(bench, round));
  }
  return rounds;
}

/** A throughput run with no `DENO_V8_FLAGS`: V8 sized from the host's memory. */
async function unsizedRun(bench: Bench, round: number): Promise<PipelineFigures> {
  await quiet(bench);
  const result = await bench.pipeline(bench.plan.sizes.throughput, {}, bench.unsized);
  const unsized = pipelineFigures(result, 0);
  bench.say(
    `throughput ${round}/${bench.plan.runs} with V8's own sizing: ${
      formatNumber(unsized.samplesPerSecond)
    } samples/s, peak RSS ${peakRssText(unsized)}`,
  );
  return unsized;
}

function peakRssText(figures: PipelineFigures): string {
  return Object.entries(figures.peakRssMiB).map(([n, v]) => `${n} ${formatNumber(v)} MiB`)
    .join(", ");
}

/** The latency runs of each round: metric as it ships, and with its plot off. */
export interface LatencyRounds {
  /** `PLOT_EVERY_MS` at its default: every periodic job running. */
  readonly on: PipelineFigures[];
  /** `PLOT_EVERY_MS=0`: no plot until shutdown. */
  readonly off: PipelineFigures[];
}

/**
 * Latency at a fixed offered rate, `runs` rounds of two runs: metric as it ships and with its
 * plot off, in alternating order so neither always runs on a machine warmed by the other. Each
 * run scrapes metric's `/metrics` at the end of its cold start and at its end.
 */
export async function latencyRounds(bench: Bench): Promise<LatencyRounds> {
  const { runs, sizes, latencyWarmup } = bench.plan;
  const rounds: LatencyRounds = { on: [], off: [] };
  for (let round = 1; round <= runs; round++) {
    const order = round % 2 === 1 ? ["on", "off"] as const : ["off", "on"] as const;
    for (const plot of order) {
      await quiet(bench);
      const result = await bench.pipeline(sizes.latency, {
        features: { INTERVAL_MS: "0", RATE_PER_SEC: String(LATENCY_RATE) },
        ...(plot === "off" ? { metric: { PLOT_EVERY_MS: "0" } } : {}),
        scrapeMetricAt: [latencyWarmup],
      });
      const figures = pipelineFigures(result, latencyWarmup);
      rounds[plot].push(figures);
      bench.say(
        `latency ${round}/${runs}, plot ${plot}, at ${
          formatNumber(figures.samplesPerSecond)
        } samples/s: p50 ${formatNumber(figures.latencyMs.p50, 2)} ms, p95 ${
          formatNumber(figures.latencyMs.p95, 2)
        } ms, p99 ${formatNumber(figures.latencyMs.p99, 2)} ms; cold start p99 ${
          formatNumber(figures.coldLatencyMs?.p99 ?? Number.NaN, 2)
        } ms; peak RSS ${peakRssText(figures)}`,
      );
    }
  }
  return rounds;
}

/** Drain throughput of a prefilled backlog with 1, 2 and 3 model replicas. */
export async function scaling(
  bench: Bench,
  label: string,
  count: number,
  settings: Partial<PipelineRun>,
): Promise<ScalingFigures> {
  const { runs } = bench.plan;
  const byReplicas: Record<string, PipelineFigures[]> = { "1": [], "2": [], "3": [] };
  const speedup: Record<string, number[]> = { "1": [], "2": [], "3": [] };
  for (let round = 1; round <= runs; round++) {
    for (const replicas of [1, 2, 3]) {
      await quiet(bench);
      const result = await bench.pipeline(count, { ...settings, replicas, prefill: true });
      const figures = pipelineFigures(result, 0, true);
      byReplicas[replicas].push(figures);
      speedup[replicas].push(
        ratio(figures.samplesPerSecond, byReplicas["1"][round - 1].samplesPerSecond),
      );
      bench.say(
        `scaling (${label}) ${round}/${runs}, ${replicas} replica(s): ${
          formatNumber(figures.samplesPerSecond)
        } samples/s (×${formatNumber(speedup[replicas].at(-1)!, 2)})`,
      );
    }
  }
  return {
    runs: byReplicas,
    samplesPerSecond: mapValues(
      byReplicas,
      (list) => summarize(list.map((f) => f.samplesPerSecond)),
    ),
    speedup: mapValues(speedup, summarize),
  };
}

/**
 * One ceiling run of `messages` with a features message, the bench's window
 * and prefetch (on a queue of `queueType`), with the broker's and this
 * process's CPU time per message.
 */
export async function ceilingRun(
  bench: Pick<Bench, "url" | "brokerPid" | "message" | "ceilingWindow" | "ceilingPrefetch">,
  options: { messages: number; queueType?: QueueType },
): Promise<CeilingFigures> {
  const { brokerPid } = bench;
  const brokerBefore = brokerPid ? await processCpuMs(brokerPid) : 0;
  const selfBefore = await processCpuMs(Deno.pid);
  const machineBefore = await machineBusyMs();
  const result = await measureCeiling({
    url: bench.url,
    messages: options.messages,
    window: bench.ceilingWindow,
    prefetch: bench.ceilingPrefetch,
    body: bench.message.body,
    properties: bench.message.properties,
    queueType: options.queueType,
  });
  const broker = brokerPid ? await processCpuMs(brokerPid) - brokerBefore : Number.NaN;
  const self = await processCpuMs(Deno.pid) - selfBefore;
  const machine = await machineBusyMs() - machineBefore;
  return {
    messagesPerSecond: result.messagesPerSecond,
    brokerCpuUsPerMessage: (broker * 1000) / options.messages,
    clientCpuUsPerMessage: (self * 1000) / options.messages,
    otherCores: Math.max(0, machine - self - (Number.isNaN(broker) ? 0 : broker)) /
      (result.seconds * 1000),
  };
}
