/**
 * What quorum queues cost: the broker's ceiling, the pipeline's throughput
 * and its latency at a fixed rate, each with classic and with quorum work
 * queues on the same broker in the same bench, the two types alternating
 * within each round so both see the same machine. The ratio quorum ÷ classic
 * of each round goes to `docs/benchmarks.md` ("Queue types").
 *
 * `bench/main.ts` supplies how to run one ceiling and one pipeline run; this
 * module decides what to run and summarises it.
 *
 * @module
 */
import type { PipelineRun } from "./pipeline.ts";
import type { CeilingFigures, PipelineFigures } from "./results.ts";
import { formatNumber, ratio, summarize, type Summary } from "./stats.ts";
import type { QueueType } from "../stack/topology.ts";

/** The types compared, the reference first. */
export const COMPARED: readonly QueueType[] = ["classic", "quorum"];

/** How much of each measurement. */
export interface QueueTypeSizes {
  readonly ceiling: number;
  readonly throughput: number;
  readonly latency: number;
  readonly latencyRate: number;
  /** Samples at the start of each latency run left out of the percentiles. */
  readonly latencyWarmup: number;
}

/** The sizes of the full bench and of `--quick`. */
export function queueTypeSizes(quick: boolean, latencyRate: number): QueueTypeSizes {
  return quick
    ? { ceiling: 10_000, throughput: 3_000, latency: 2_000, latencyRate, latencyWarmup: 500 }
    : { ceiling: 30_000, throughput: 15_000, latency: 6_000, latencyRate, latencyWarmup: 1_000 };
}

/** What the bench gives this module. */
export interface QueueTypeBench {
  readonly runs: number;
  readonly sizes: QueueTypeSizes;
  /** One ceiling run on a queue of `queueType`. */
  ceiling(queueType: QueueType): Promise<CeilingFigures>;
  /** One pipeline run; latency percentiles leave out the first `warmup` samples. */
  pipeline(count: number, settings: Partial<PipelineRun>, warmup: number): Promise<PipelineFigures>;
  /** Waits for the machine to be quiet before a measurement. */
  quiet(): Promise<void>;
  say(message: string): void;
}

/** One queue type's figures over the rounds. */
export interface QueueTypeRuns {
  readonly ceilingMessagesPerSecond: Summary;
  readonly brokerCpuUsPerMessage: Summary;
  readonly throughputSamplesPerSecond: Summary;
  readonly latencyP50Ms: Summary;
  readonly latencyP99Ms: Summary;
}

/** The comparison, as `docs/benchmarks.json` holds it under `queueTypes`. */
export interface QueueTypeFigures {
  readonly sizes: QueueTypeSizes;
  readonly byType: Readonly<Record<QueueType, QueueTypeRuns>>;
  /** Each round's quorum figure ÷ that round's classic figure. */
  readonly quorumOverClassic: {
    readonly ceiling: Summary;
    readonly brokerCpu: Summary;
    readonly throughput: Summary;
    readonly p50: Summary;
    readonly p99: Summary;
  };
}

interface Round {
  ceiling: CeilingFigures;
  throughput: PipelineFigures;
  latency: PipelineFigures;
}

/** Runs the comparison: per round, ceiling, throughput and latency with each type. */
export async function measureQueueTypes(bench: QueueTypeBench): Promise<QueueTypeFigures> {
  const { sizes } = bench;
  const rounds: Record<QueueType, Round[]> = { classic: [], quorum: [] };
  for (let round = 1; round <= bench.runs; round++) {
    for (const queueType of COMPARED) {
      await bench.quiet();
      const ceiling = await bench.ceiling(queueType);
      await bench.quiet();
      const throughput = await bench.pipeline(sizes.throughput, { queueType }, 0);
      await bench.quiet();
      const latency = await bench.pipeline(sizes.latency, {
        queueType,
        features: { INTERVAL_MS: "0", RATE_PER_SEC: String(sizes.latencyRate) },
      }, sizes.latencyWarmup);
      rounds[queueType].push({ ceiling, throughput, latency });
      bench.say(
        `${queueType} queues ${round}/${bench.runs}: ceiling ${
          formatNumber(ceiling.messagesPerSecond)
        } msg/s, pipeline ${formatNumber(throughput.samplesPerSecond)} samples/s, at ${
          formatNumber(sizes.latencyRate)
        }/s p50 ${formatNumber(latency.latencyMs.p50, 2)} ms p99 ${
          formatNumber(latency.latencyMs.p99, 2)
        } ms`,
      );
    }
  }
  return summarizeQueueTypes(sizes, rounds);
}

/** The summaries and per-round ratios of the rounds' figures. */
export function summarizeQueueTypes(
  sizes: QueueTypeSizes,
  rounds: Readonly<Record<QueueType, readonly Round[]>>,
): QueueTypeFigures {
  const pick = (type: QueueType, f: (round: Round) => number) => rounds[type].map(f);
  const perRound = (f: (round: Round) => number) =>
    summarize(rounds.quorum.map((q, i) => ratio(f(q), f(rounds.classic[i]))));
  const ceiling = (r: Round) => r.ceiling.messagesPerSecond;
  const brokerCpu = (r: Round) => r.ceiling.brokerCpuUsPerMessage;
  const throughput = (r: Round) => r.throughput.samplesPerSecond;
  const p50 = (r: Round) => r.latency.latencyMs.p50;
  const p99 = (r: Round) => r.latency.latencyMs.p99;
  const byType = Object.fromEntries(COMPARED.map((type) => [type, {
    ceilingMessagesPerSecond: summarize(pick(type, ceiling)),
    brokerCpuUsPerMessage: summarize(pick(type, brokerCpu)),
    throughputSamplesPerSecond: summarize(pick(type, throughput)),
    latencyP50Ms: summarize(pick(type, p50)),
    latencyP99Ms: summarize(pick(type, p99)),
  }])) as Record<QueueType, QueueTypeRuns>;
  return {
    sizes,
    byType,
    quorumOverClassic: {
      ceiling: perRound(ceiling),
      brokerCpu: perRound(brokerCpu),
      throughput: perRound(throughput),
      p50: perRound(p50),
      p99: perRound(p99),
    },
  };
}
