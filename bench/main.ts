/**
 * `deno task bench`: the broker's own ceiling, the pipeline's throughput and
 * latency, scaling with model replicas and each service's memory, in one run
 * against a throwaway RabbitMQ (or `AMQP_URL`), written to
 * `docs/benchmarks.md` and `docs/benchmarks.json`.
 *
 *   deno task bench            every figure the median of 3 runs (~5–6 min)
 *   deno task bench --quick    1 run each, fewer samples: a smoke test (~1 min),
 *                              written to a temporary directory unless --out is given
 *   --runs N                   runs per figure
 *   --out DIR                  where benchmarks.md and benchmarks.json go
 *   --verbose                  every step on stderr
 *   --keep                     keep each run's directory (metric_log.csv, services' output)
 *   --render                   only re-render benchmarks.md from DIR/benchmarks.json
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type OutgoingMessage, sampleMessages } from "../features/sampler.ts";
import { featuresSchema } from "../features/config.ts";
import { metricSchema } from "../metric/config.ts";
import { modelSchema } from "../model/config.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import type { ServiceName } from "../ops/launch.ts";
import { stackMemoryLimits, v8FlagsFor } from "./v8_sizing.ts";
import { measureCeiling } from "./ceiling.ts";
import { describeMachine, machineBusyMs, waitForQuiet } from "./machine.ts";
import { type PipelineResult, type PipelineRun, processCpuMs, runPipeline } from "./pipeline.ts";
import { renderReport } from "./report.ts";
import { measureQueueTypes, queueTypeSizes } from "./queue_types.ts";
import type {
  BenchResults,
  CeilingFigures,
  PipelineFigures,
  ScalingFigures,
  Target,
} from "./results.ts";
import {
  drainPerSecond,
  formatNumber,
  formatPercent,
  formatSummary,
  percentile,
  ratio,
  samplesPerSecond,
  slowRuns,
  summarize,
  type Summary,
} from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MiB = 2 ** 20;

const args = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    out: { type: "string" },
    verbose: { type: "boolean", default: false },
    render: { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const quick = args.values.quick;
const runs = Number(args.values.runs ?? (quick ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);
const outDir = args.values.out ??
  (quick ? await Deno.makeTempDir({ prefix: "bench-" }) : `${ROOT}/docs`);
const verbose = args.values.verbose;

/** How much of everything; the full run keeps the whole bench under ~10 minutes. */
const SIZES = quick
  ? { ceiling: 20_000, throughput: 6_000, latency: 3_000, scaling: 1_500, cpuScaling: 6_000 }
  : { ceiling: 60_000, throughput: 30_000, latency: 10_000, scaling: 4_000, cpuScaling: 20_000 };
/** The offered rate of the latency runs, and the samples of their first second left out. */
const LATENCY_RATE = 1000;
const LATENCY_WARMUP = quick ? 500 : 1000;
/** Scaling with a slow model: 10 ms per prediction, 5 predictions at once per replica. */
const SCALING_DELAY_MS = 10;
const SCALING_PREFETCH = 5;
/** A measurement starts once other processes use less than this many cores (or after 20 s). */
const QUIET_CORES = 0.3;
const QUIET_MAX_WAIT_MS = quick ? 3_000 : 20_000;
const LOG_LEVEL = "warning";
/**
 * The memory limits of docker-stack.yml and the V8 flags the images' entrypoint derives from them:
 * every run sizes V8 as the containers do, so the figures describe production.
 */
const LIMITS = stackMemoryLimits(await Deno.readTextFile(`${ROOT}/docker-stack.yml`));
const SIZED: Record<ServiceName, string> = {
  features: v8FlagsFor(LIMITS.features),
  model: v8FlagsFor(LIMITS.model),
  metric: v8FlagsFor(LIMITS.metric),
};
/** The comparison run: V8's own defaults (sized from the host's memory), as before the sizing. */
const UNSIZED: Record<ServiceName, string> = { features: "", model: "", metric: "" };
/** Footprint targets (MiB): at full throughput and at the latency runs' 1,000 samples/s. */
const PEAK_TARGET_MIB = 80;
const PEAK_AT_RATE_TARGET_MIB = 64;
/** Each stack limit over the measured peak, at least. */
const HEADROOM = 1.5;

const defaults = {
  modelPrefetch: modelSchema.prefetch.parse(undefined) as number,
  metricPrefetch: metricSchema.prefetch.parse(undefined) as number,
  maxInFlight: featuresSchema.maxInFlight.parse(undefined) as number,
};

function say(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}
const trace = verbose ? (step: string) => console.error(`  · ${step}`) : undefined;

if (args.values.render) {
  // Re-render the markdown from the JSON of an earlier run, measuring nothing.
  const results = JSON.parse(await Deno.readTextFile(`${outDir}/benchmarks.json`));
  await Deno.writeTextFile(`${outDir}/benchmarks.md`, renderReport(results));
  await formatDocs([`${outDir}/benchmarks.md`]);
  say(`rendered ${outDir}/benchmarks.md from benchmarks.json`);
  Deno.exit(0);
}

const started = performance.now();
let local: LocalBroker | undefined;
let url = Deno.env.get("AMQP_URL") ?? "";
if (url === "") {
  say("starting a throwaway RabbitMQ");
  local = await startLocalBroker();
  url = local.url;
}
const brokerPid = local ? await localBrokerPid(local) : undefined;
try {
  const results = await bench(url, brokerPid);
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/benchmarks.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${outDir}/benchmarks.md`, renderReport(results));
  await formatDocs([`${outDir}/benchmarks.json`, `${outDir}/benchmarks.md`]);
  say(`wrote ${outDir}/benchmarks.md and benchmarks.json`);
  for (const target of results.targets) {
    say(
      `${target.met ? "met   " : "MISSED"} ${target.what}: ${target.measured} (${target.target})`,
    );
  }
} finally {
  await local?.stop();
}

/** What every measurement of one bench needs. */
interface Bench {
  readonly url: string;
  readonly brokerPid: number | undefined;
  /** A features message as the pipeline sends it: what the ceiling publishes. */
  readonly message: OutgoingMessage;
  /** Messages the ceiling keeps in flight: what features allows, twice (features and y_true). */
  readonly ceilingWindow: number;
  /**
   * One pipeline run of `count` samples with the bench's defaults and `settings`, each service's
   * V8 sized by `v8` (default: as in the containers).
   */
  pipeline(
    count: number,
    settings: Partial<PipelineRun>,
    v8?: Record<ServiceName, string>,
  ): Promise<PipelineResult>;
}

/** The figures of the rounds that measure throughput: each round a ceiling run and two pipeline runs. */
interface ThroughputRounds {
  readonly ceilingRuns: CeilingFigures[];
  readonly throughputRuns: PipelineFigures[];
  readonly throughputResults: PipelineResult[];
  /** Each round's throughput over its ceiling ÷ 3. */
  readonly ofCeiling: number[];
  readonly unsizedRuns: PipelineFigures[];
}

async function bench(url: string, brokerPid: number | undefined): Promise<BenchResults> {
  const machine = await describeMachine(url);
  say(
    `${machine.cpuModel}, ${machine.cores} cores, ${
      formatNumber(machine.memoryBytes / 2 ** 30, 1)
    } GiB; Deno ${machine.deno}; RabbitMQ ${machine.rabbitmq}; ${runs} run(s) per figure`,
  );
  const context: Bench = {
    url,
    brokerPid,
    message: await featuresMessage(),
    ceilingWindow: 2 * defaults.maxInFlight,
    pipeline: (count, settings, v8 = SIZED) => {
      const sized = (service: ServiceName, env: Record<string, string> | undefined) =>
        v8[service] ? { DENO_V8_FLAGS: v8[service], ...env } : { ...env };
      return runPipeline({
        url,
        root: ROOT,
        count,
        replicas: 1,
        logLevel: LOG_LEVEL,
        timeoutMs: 240_000,
        brokerPid,
        trace,
        keep: args.values.keep,
        ...settings,
        features: sized("features", settings.features ?? { INTERVAL_MS: "0" }),
        model: sized("model", settings.model),
        metric: sized("metric", settings.metric),
      });
    },
  };
  const rounds = await throughputRounds(context);
  const latencyRuns = await latencyRounds(context);
  // Scaling, with a slow model and without.
  const delayed = await scaling(context, "delayed", SIZES.scaling, {
    model: { INFERENCE_DELAY_MS: String(SCALING_DELAY_MS), PREFETCH: String(SCALING_PREFETCH) },
  });
  const cpuBound = await scaling(context, "cpu-bound", SIZES.cpuScaling, {});
  const queueTypes = await measureQueueTypes({
    runs,
    sizes: queueTypeSizes(quick, LATENCY_RATE),
    ceiling: (queueType) =>
      ceilingRun(context.url, context.brokerPid, {
        messages: queueTypeSizes(quick, LATENCY_RATE).ceiling,
        window: context.ceilingWindow,
        prefetch: defaults.modelPrefetch,
        body: context.message.body,
        properties: context.message.properties,
        queueType,
      }),
    pipeline: async (count, settings, warmup) =>
      pipelineFigures(await context.pipeline(count, settings), warmup),
    quiet,
    say,
  });
  return { ...results(context, machine, rounds, latencyRuns, { delayed, cpuBound }), queueTypes };
}

/** A features message of the data set's first row, as the pipeline sends it. */
async function featuresMessage(): Promise<OutgoingMessage> {
  const dataset = await loadDiabetes(`${ROOT}/stack/data/diabetes.csv`);
  const [, features] = sampleMessages(
    { row: 0, features: dataset.X[0], target: dataset.y[0] },
    { id: crypto.randomUUID(), sentAtMs: Date.now() + 0.123, replica: "features" },
  );
  return features;
}

/**
 * Ceiling and pipeline throughput, one of each per round, so each ratio
 * compares two runs made minutes apart at most; and each round the same
 * run with V8's own sizing, for comparison.
 */
async function throughputRounds(context: Bench): Promise<ThroughputRounds> {
  const rounds: ThroughputRounds = {
    ceilingRuns: [],
    throughputRuns: [],
    throughputResults: [],
    ofCeiling: [],
    unsizedRuns: [],
  };
  for (let round = 1; round <= runs; round++) {
    await quiet();
    const ceiling = await ceilingRun(context.url, context.brokerPid, {
      messages: SIZES.ceiling,
      window: context.ceilingWindow,
      prefetch: defaults.modelPrefetch,
      body: context.message.body,
      properties: context.message.properties,
    });
    rounds.ceilingRuns.push(ceiling);
    say(
      `ceiling ${round}/${runs}: ${formatNumber(ceiling.messagesPerSecond)} msg/s ` +
        `(÷3 = ${formatNumber(ceiling.messagesPerSecond / 3)} samples/s; ` +
        `broker ${formatNumber(ceiling.brokerCpuUsPerMessage)} µs CPU/msg)`,
    );
    await quiet();
    const result = await context.pipeline(SIZES.throughput, {});
    const figures = pipelineFigures(result, 0);
    rounds.throughputRuns.push(figures);
    rounds.throughputResults.push(result);
    rounds.ofCeiling.push(ratio(figures.samplesPerSecond, ceiling.messagesPerSecond / 3));
    say(
      `throughput ${round}/${runs}: ${formatNumber(figures.samplesPerSecond)} samples/s ` +
        `= ${formatPercent(rounds.ofCeiling.at(-1)!)} of ceiling ÷ 3; peak RSS ${
          Object.entries(figures.peakRssMiB).map(([n, v]) => `${n} ${formatNumber(v)} MiB`)
            .join(", ")
        }`,
    );
    rounds.unsizedRuns.push(await unsizedRun(context, round));
  }
  return rounds;
}

/** A throughput run with no `DENO_V8_FLAGS`: V8 sized from the host's memory. */
async function unsizedRun(context: Bench, round: number): Promise<PipelineFigures> {
  await quiet();
  const unsized = pipelineFigures(await context.pipeline(SIZES.throughput, {}, UNSIZED), 0);
  say(
    `throughput ${round}/${runs} with V8's own sizing: ${
      formatNumber(unsized.samplesPerSecond)
    } samples/s, peak RSS ${
      Object.entries(unsized.peakRssMiB).map(([n, v]) => `${n} ${formatNumber(v)} MiB`).join(", ")
    }`,
  );
  return unsized;
}

/** Latency at a fixed offered rate, `runs` times. */
async function latencyRounds(context: Bench): Promise<PipelineFigures[]> {
  const latencyRuns: PipelineFigures[] = [];
  for (let round = 1; round <= runs; round++) {
    await quiet();
    const result = await context.pipeline(SIZES.latency, {
      features: { INTERVAL_MS: "0", RATE_PER_SEC: String(LATENCY_RATE) },
    });
    const figures = pipelineFigures(result, LATENCY_WARMUP);
    latencyRuns.push(figures);
    say(
      `latency ${round}/${runs} at ${formatNumber(figures.samplesPerSecond)} samples/s: ` +
        `p50 ${formatNumber(figures.latencyMs.p50, 2)} ms, p95 ${
          formatNumber(figures.latencyMs.p95, 2)
        } ms, p99 ${formatNumber(figures.latencyMs.p99, 2)} ms`,
    );
  }
  return latencyRuns;
}

/** Drain throughput of a prefilled backlog with 1, 2 and 3 model replicas. */
async function scaling(
  context: Bench,
  label: string,
  count: number,
  settings: Partial<PipelineRun>,
): Promise<ScalingFigures> {
  const byReplicas: Record<string, PipelineFigures[]> = { "1": [], "2": [], "3": [] };
  const speedup: Record<string, number[]> = { "1": [], "2": [], "3": [] };
  for (let round = 1; round <= runs; round++) {
    for (const replicas of [1, 2, 3]) {
      await quiet();
      const result = await context.pipeline(count, { ...settings, replicas, prefill: true });
      const figures = pipelineFigures(result, 0, true);
      byReplicas[replicas].push(figures);
      speedup[replicas].push(
        ratio(figures.samplesPerSecond, byReplicas["1"][round - 1].samplesPerSecond),
      );
      say(
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

/** The headline figures the targets are checked against. */
interface Headline {
  readonly throughput: Summary;
  readonly ofCeiling: Summary;
  readonly p50: Summary;
  readonly p99: Summary;
  readonly threeReplicas: Summary;
  readonly worstPeakMiB: number;
  readonly worstPeakAtRateMiB: number;
  /** The smallest stack limit ÷ peak over the services. */
  readonly leastHeadroom: number;
  /** Each round's throughput with the containers' V8 sizing ÷ the same round's with V8's own. */
  readonly sizedVsUnsized: Summary;
}

/** The bench's targets, each met or missed. */
function targetsOf(h: Headline): Target[] {
  return [
    {
      what: "pipeline throughput",
      target: "≥ 3,000 samples/s",
      measured: `${formatSummary(h.throughput)} samples/s`,
      met: h.throughput.median >= 3000,
    },
    {
      what: "throughput ÷ (ceiling ÷ 3), same run",
      target: "≥ 70%",
      measured: h.ofCeiling.runs.length > 1
        ? `${formatPercent(h.ofCeiling.median)} (${formatPercent(h.ofCeiling.min)}–${
          formatPercent(h.ofCeiling.max)
        })`
        : formatPercent(h.ofCeiling.median),
      met: h.ofCeiling.median >= 0.7,
    },
    {
      what: `latency p50 at ${formatNumber(LATENCY_RATE)} samples/s`,
      target: "≤ 2 ms",
      measured: `${formatSummary(h.p50, 2)} ms`,
      met: h.p50.median <= 2,
    },
    {
      what: `latency p99 at ${formatNumber(LATENCY_RATE)} samples/s`,
      target: "≤ 10 ms",
      measured: `${formatSummary(h.p99, 2)} ms`,
      met: h.p99.median <= 10,
    },
    {
      what: `3 model replicas vs 1 (${SCALING_DELAY_MS} ms per prediction)`,
      target: "≥ 2.8×",
      measured: `${formatSummary(h.threeReplicas, 2)}×`,
      met: h.threeReplicas.median >= 2.8,
    },
    {
      what: "peak RSS of each service at full throughput",
      target: `≤ ${PEAK_TARGET_MIB} MiB`,
      measured: `${formatNumber(h.worstPeakMiB)} MiB (largest)`,
      met: h.worstPeakMiB <= PEAK_TARGET_MIB,
    },
    {
      what: `peak RSS of each service at ${formatNumber(LATENCY_RATE)} samples/s`,
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

/** The settings a reader needs to compare two benches. */
function settingsOf(context: Bench): BenchResults["settings"] {
  return {
    logLevel: LOG_LEVEL,
    bodyBytes: new TextEncoder().encode(context.message.body).byteLength,
    prefetch: { model: defaults.modelPrefetch, metric: defaults.metricPrefetch },
    maxInFlightSamples: defaults.maxInFlight,
    ceilingWindowMessages: context.ceilingWindow,
    ceilingMessages: SIZES.ceiling,
    throughputSamples: SIZES.throughput,
    latencySamples: SIZES.latency,
    latencyRatePerSec: LATENCY_RATE,
    latencyWarmupSamples: LATENCY_WARMUP,
    scalingDelayMs: SCALING_DELAY_MS,
    scalingPrefetch: SCALING_PREFETCH,
    scalingSamples: SIZES.scaling,
    cpuScalingSamples: SIZES.cpuScaling,
    quietThresholdCores: QUIET_CORES,
  };
}

/** Everything measured, summarised, as `docs/benchmarks.json` holds it. */
function results(
  context: Bench,
  machine: BenchResults["machine"],
  rounds: ThroughputRounds,
  latencyRuns: PipelineFigures[],
  scaling: BenchResults["scaling"],
): BenchResults {
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
  const limitsMiB = Object.fromEntries(services.map((n) => [n, LIMITS[serviceOf(n)] / MiB]));
  const v8Flags = Object.fromEntries(services.map((n) => [n, SIZED[serviceOf(n)]]));
  const idleMiB = Object.fromEntries(
    ["model-1", "metric"].map((name) => [
      name,
      summarize(throughputResults.map((r) => r.readyRss[name] / MiB)),
    ]),
  );
  const throughput = summarize(throughputRuns.map((f) => f.samplesPerSecond));
  const ofCeiling = summarize(rounds.ofCeiling);
  const p50 = summarize(latencyRuns.map((f) => f.latencyMs.p50));
  const p95 = summarize(latencyRuns.map((f) => f.latencyMs.p95));
  const p99 = summarize(latencyRuns.map((f) => f.latencyMs.p99));
  const targets = targetsOf({
    throughput,
    ofCeiling,
    p50,
    p99,
    threeReplicas: scaling.delayed.speedup["3"],
    worstPeakMiB: Math.max(...Object.values(peakMiB).map((s) => s.median)),
    worstPeakAtRateMiB: Math.max(...Object.values(atRateMiB).map((s) => s.median)),
    leastHeadroom: Math.min(...services.map((n) => limitsMiB[n] / peakMiB[n].median)),
    sizedVsUnsized: summarize(
      throughputRuns.map((f, i) => f.samplesPerSecond / unsizedRuns[i].samplesPerSecond),
    ),
  });
  return {
    generatedAt: new Date().toISOString(),
    quick,
    runsPerFigure: runs,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine,
    broker: local ? "a throwaway local RabbitMQ started by the bench" : "AMQP_URL",
    settings: settingsOf(context),
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
    latency: {
      runs: latencyRuns,
      offeredPerSecond: summarize(latencyRuns.map((f) => f.samplesPerSecond)),
      p50,
      p95,
      p99,
      max: summarize(latencyRuns.map((f) => f.latencyMs.max)),
      cpuUsPerSample: cpuSummaries(latencyRuns),
    },
    scaling,
    footprint: {
      peakMiB,
      atRateMiB,
      peakAnonMiB,
      idleMiB,
      limitsMiB,
      v8Flags,
      targetsMiB: { peak: PEAK_TARGET_MIB, atRate: PEAK_AT_RATE_TARGET_MIB, headroom: HEADROOM },
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
  };
}

/** One ceiling run with the broker's and this process's CPU time per message. */
async function ceilingRun(
  url: string,
  brokerPid: number | undefined,
  options: Omit<Parameters<typeof measureCeiling>[0], "url">,
): Promise<CeilingFigures> {
  const brokerBefore = brokerPid ? await processCpuMs(brokerPid) : 0;
  const selfBefore = await processCpuMs(Deno.pid);
  const machineBefore = await machineBusyMs();
  const result = await measureCeiling({ url, ...options });
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

/** The figures of one pipeline run; latency percentiles leave out the first `warmup` samples. */
function pipelineFigures(
  result: PipelineResult,
  warmup: number,
  drain = false,
): PipelineFigures {
  const { tally } = result;
  const inOrder = tally.latenciesMs.slice(warmup);
  const latencies = [...inOrder].sort((a, b) => a - b);
  const perSample = (ms: number) => (ms * 1000) / tally.rows;
  return {
    samples: tally.rows,
    samplesPerSecond: drain ? drainPerSecond(tally) : samplesPerSecond(tally),
    latencyMs: {
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    },
    over10ms: slowRuns(inOrder, 10),
    cpuUsPerSample: mapValues(result.cpuMs, perSample),
    peakRssMiB: mapValues(result.peakRss, (bytes) => bytes / MiB),
    peakAnonMiB: mapValues(result.peakAnon, (bytes) => bytes / MiB),
    otherCores: result.otherCpuMs / result.wallMs,
    deadLettered: result.deadLettered,
    byReplica: tally.byReplica,
  };
}

function cpuSummaries(list: readonly PipelineFigures[]): Record<string, Summary> {
  const names = [...new Set(list.flatMap((f) => Object.keys(f.cpuUsPerSample)))];
  return Object.fromEntries(
    names.map((name) => [name, summarize(list.map((f) => f.cpuUsPerSample[name] ?? Number.NaN))]),
  );
}

function mapValues<T, U>(
  record: Readonly<Record<string, T>>,
  f: (value: T) => U,
): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, f(value)]));
}

async function quiet(): Promise<void> {
  const cores = await waitForQuiet(QUIET_CORES, QUIET_MAX_WAIT_MS);
  if (cores >= QUIET_CORES) {
    say(`other processes still use ${formatNumber(cores, 2)} cores; measuring anyway`);
  }
}

/** `deno fmt` on the written files, so `deno fmt --check` (deno task ok) passes on them. */
async function formatDocs(paths: string[]): Promise<void> {
  const output = await new Deno.Command("deno", {
    args: ["fmt", "--quiet", ...paths],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) say(`deno fmt failed: ${new TextDecoder().decode(output.stderr)}`);
}

/** The OS pid of the local broker's Erlang VM, for its CPU time. */
async function localBrokerPid(broker: LocalBroker): Promise<number | undefined> {
  try {
    const pid = Number(/\d+/.exec(await broker.ctl("eval", "os:getpid()."))?.[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
