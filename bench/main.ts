/**
 * `deno task bench`: the broker's own ceiling, the pipeline's throughput and
 * latency, scaling with model replicas and each service's memory, in one run
 * against a throwaway RabbitMQ (or `AMQP_URL`), written to
 * `docs/benchmarks.md` and `docs/benchmarks.json`. Before the broker starts,
 * what metric's periodic jobs hold its event loop for by themselves
 * (`periodic_work.ts`: a few seconds).
 *
 *   deno task bench            every figure the median of 3 runs (~15 min: each latency run
 *                              lasts 65 s, with metric's plot on and off in every round)
 *   deno task bench --quick    1 run each, fewer samples: a smoke test (~1 min),
 *                              written to a temporary directory unless --out is given
 *   --runs N                   runs per figure
 *   --out DIR                  where benchmarks.md and benchmarks.json go
 *   --verbose                  every step on stderr
 *   --keep                     keep each run's directory (metric_log.csv, services' output)
 *   --render                   only re-render benchmarks.md from DIR/benchmarks.json
 *   deno task bench --soak M   instead: one run at 1,000 samples/s for M minutes, the services as
 *                              shipped, a reading each minute (a tenth of M under 10 min) of each
 *                              service's RSS, metric's log directory on disk, the queues and the
 *                              interval's p50/p99, and whether the last third stayed as flat as the
 *                              middle one: soak.md and soak.json in --out (default a temporary
 *                              directory, never docs/)
 *   deno task bench --tls      instead: what TLS costs a broker hop (bench/tls_cost.ts), clear
 *                              against TLS 1.3 on one throwaway broker, --runs rounds (default 3):
 *                              tls.md and tls.json in --out (default a temporary directory)
 *   deno task bench --rollout  instead: what a candidate in shadow costs the pipeline
 *                              (bench/rollout_cost.ts), without against with at 1,000 samples/s,
 *                              --runs rounds (default 3): rollout.md and rollout.json in --out
 *                              (default a temporary directory)
 *
 * @module
 */
import { type OutgoingMessage, sampleMessages } from "../features/sampler.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import type { LocalBroker } from "../ops/kit/local_broker.ts";
import { startBroker } from "../ops/kit/pipeline.ts";
import { SERVICE_NAMES, type ServiceName } from "../ops/services.ts";
import { stackMemoryLimits, v8FlagsFor } from "./v8_sizing.ts";
import { describeMachine, machineBusyMs } from "./machine.ts";
import {
  benchPlan,
  LATENCY_RATE,
  LOG_LEVEL,
  parseBenchArgs,
  PERIODIC_WORK_WARMUP,
  SCALING_DELAY_MS,
  SCALING_PREFETCH,
  SERVICE_DEFAULTS,
} from "./options.ts";
import { runPipeline } from "./pipeline.ts";
import { renderReport } from "./report.ts";
import { measureQueueTypes, queueTypeSizes } from "./queue_types.ts";
import type { BenchResults, PeriodicWorkFigures } from "./results.ts";
import { largestOwnWork, measurePeriodicWork } from "./periodic_work.ts";
import { processCpuMs } from "./process_usage.ts";
import {
  type Bench,
  ceilingRun,
  latencyRounds,
  quiet,
  scaling,
  throughputRounds,
} from "./rounds.ts";
import { formatNumber } from "./stats.ts";
import { benchResults, settingsOf } from "./summary.ts";
import { pipelineFigures } from "./figures.ts";
import type { PipelineRun } from "./pipeline.ts";
import { runSoak } from "./soak.ts";
import { benchRollout, benchTls } from "./own_runs.ts";
import { formatDocs, ROOT, say } from "./output.ts";

/** The comparison run: V8's own defaults (sized from the host's memory), as before the sizing. */
const UNSIZED = Object.fromEntries(SERVICE_NAMES.map((name) => [name, ""])) as Record<
  ServiceName,
  string
>;

/** Runs the bench the command line `args` asks for; resolves to the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const options = parseBenchArgs(args);
  const plan = benchPlan(options);
  // A run of its own, or a quick one, goes to a temporary directory unless told; the bench to docs/.
  const ownRun = options.soak ? "soak" : options.tls ? "tls" : options.rollout ? "rollout" : "";
  const outDir = options.out ??
    (plan.quick || ownRun
      ? await Deno.makeTempDir({ prefix: `${ownRun || "bench"}-` })
      : `${ROOT}/docs`);
  if (options.render) {
    // Re-render the markdown from the JSON of an earlier run, measuring nothing.
    const results = JSON.parse(await Deno.readTextFile(`${outDir}/benchmarks.json`));
    await Deno.writeTextFile(`${outDir}/benchmarks.md`, renderReport(results));
    await formatDocs([`${outDir}/benchmarks.md`]);
    say(`rendered ${outDir}/benchmarks.md from benchmarks.json`);
    return 0;
  }
  if (options.tls) return await benchTls(outDir, plan);
  const started = performance.now();
  // First, while no broker or service runs: what metric's periodic jobs do by themselves.
  const periodicWork = options.soak || options.rollout ? undefined : await ownWork(plan);
  const amqpUrl = Deno.env.get("AMQP_URL");
  if (!amqpUrl) say("starting a throwaway RabbitMQ");
  const broker = await startBroker({ amqpUrl });
  try {
    const brokerPid = broker.local ? await localBrokerPid(broker.local) : undefined;
    const trace = options.verbose ? (step: string) => console.error(`  · ${step}`) : undefined;
    if (options.rollout) {
      const url = broker.urls[0].href;
      const { sized } = await stackSizing();
      return await benchRollout(outDir, plan, {
        url,
        pipeline: benchPipeline({ url, brokerPid, keep: options.keep, trace, v8: sized }),
      });
    }
    if (options.soak) {
      const url = broker.urls[0].href;
      const machine = await describeMachine(url);
      const { sized } = await stackSizing();
      say(`soak of ${options.soak} min; soak.md and soak.json go to ${outDir}`);
      const soak = await runSoak({
        minutes: options.soak,
        url,
        outDir,
        machine:
          `${machine.cpuModel}, ${machine.cores} cores; Deno ${machine.deno}; RabbitMQ ${machine.rabbitmq}`,
        v8Flags: sized,
        pipeline: benchPipeline({ url, brokerPid, keep: options.keep, trace, v8: sized }),
        say,
      });
      say(`wrote ${outDir}/soak.md and soak.json; verdict: ${soak.verdict.text}`);
      return 0;
    }
    const results = await bench({
      plan,
      url: broker.urls[0].href,
      brokerPid,
      localBroker: broker.local !== undefined,
      started,
      keep: options.keep,
      trace,
      periodicWork,
    });
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.writeTextFile(`${outDir}/benchmarks.json`, JSON.stringify(results, null, 2) + "\n");
    await Deno.writeTextFile(`${outDir}/benchmarks.md`, renderReport(results));
    await formatDocs([`${outDir}/benchmarks.json`, `${outDir}/benchmarks.md`]);
    say(`wrote ${outDir}/benchmarks.md and benchmarks.json`);
    for (const target of results.targets) {
      const mark = target.met === undefined ? "      " : target.met ? "met   " : "MISSED";
      say(`${mark} ${target.what}: ${target.measured} (${target.target})`);
    }
  } finally {
    await broker.stop();
  }
  return 0;
}

/** Every measurement, in order, against the broker at `run.url`. */
async function bench(run: {
  plan: ReturnType<typeof benchPlan>;
  url: string;
  brokerPid: number | undefined;
  localBroker: boolean;
  /** `performance.now()` when the bench started. */
  started: number;
  keep: boolean;
  trace?: (step: string) => void;
  /** metric's periodic jobs' own work, measured before the broker started. */
  periodicWork?: PeriodicWorkFigures;
}): Promise<BenchResults> {
  const { plan, url, brokerPid } = run;
  const machine = await describeMachine(url);
  say(
    `${machine.cpuModel}, ${machine.cores} cores, ${
      formatNumber(machine.memoryBytes / 2 ** 30, 1)
    } GiB; Deno ${machine.deno}; RabbitMQ ${machine.rabbitmq}; ${plan.runs} run(s) per figure`,
  );
  const { limits, sized } = await stackSizing();
  const context: Bench = {
    plan,
    url,
    brokerPid,
    message: await featuresMessage(),
    ceilingWindow: 2 * SERVICE_DEFAULTS.maxInFlight,
    ceilingPrefetch: SERVICE_DEFAULTS.modelPrefetch,
    unsized: UNSIZED,
    say,
    pipeline: benchPipeline({ url, brokerPid, keep: run.keep, trace: run.trace, v8: sized }),
  };
  const rounds = await throughputRounds(context);
  const latency = await latencyRounds(context);
  // Scaling, with a slow model and without.
  const delayed = await scaling(context, "delayed", plan.sizes.scaling, {
    model: { INFERENCE_DELAY_MS: String(SCALING_DELAY_MS), PREFETCH: String(SCALING_PREFETCH) },
  });
  const cpuBound = await scaling(context, "cpu-bound", plan.sizes.cpuScaling, {});
  const queueTypes = await measureQueueTypes({
    runs: plan.runs,
    sizes: queueTypeSizes(plan.quick, LATENCY_RATE),
    ceiling: (queueType) =>
      ceilingRun(context, {
        messages: queueTypeSizes(plan.quick, LATENCY_RATE).ceiling,
        queueType,
      }),
    pipeline: async (count, settings, warmup) =>
      pipelineFigures(await context.pipeline(count, settings), warmup),
    quiet: () => quiet(context),
    say,
  });
  return benchResults({
    plan,
    generatedAt: new Date().toISOString(),
    durationSeconds: Math.round((performance.now() - run.started) / 1000),
    machine,
    localBroker: run.localBroker,
    settings: settingsOf(plan, context.message, context.ceilingWindow),
    limits,
    v8Flags: sized,
    rounds,
    latency,
    scaling: { delayed, cpuBound },
    queueTypes,
    periodicWork: run.periodicWork,
  });
}

/**
 * Each of metric's periodic jobs' own work on a quiet event loop (`periodic_work.ts`), once the
 * machine is quiet, with the load other processes put on it meanwhile: a few seconds.
 */
async function ownWork(plan: ReturnType<typeof benchPlan>): Promise<PeriodicWorkFigures> {
  await quiet({ plan, say });
  const selfBefore = await processCpuMs(Deno.pid);
  const machineBefore = await machineBusyMs();
  const started = performance.now();
  const work = measurePeriodicWork({ runs: plan.periodicWorkRuns, warmup: PERIODIC_WORK_WARMUP });
  const wallMs = performance.now() - started;
  const self = await processCpuMs(Deno.pid) - selfBefore;
  const machine = await machineBusyMs() - machineBefore;
  const otherCores = Math.max(0, machine - self) / wallMs;
  const largest = largestOwnWork(work);
  say(
    `metric's periodic jobs, own work: ${formatNumber(work.runs)} runs each, largest p99 ${
      formatNumber(largest?.p99Ms ?? Number.NaN, 3)
    } ms (${largest?.job}); others' load ${formatNumber(otherCores, 2)} cores`,
  );
  return { ...work, otherCores };
}

/**
 * The memory limits of docker-stack.yml and the V8 flags the images' entrypoint derives from
 * them: every run sizes V8 as the containers do, so the figures describe production.
 */
async function stackSizing(): Promise<{
  limits: Record<ServiceName, number>;
  sized: Record<ServiceName, string>;
}> {
  const limits = stackMemoryLimits(await Deno.readTextFile(`${ROOT}/docker-stack.yml`));
  const sized = Object.fromEntries(
    SERVICE_NAMES.map((name) => [name, v8FlagsFor(limits[name])]),
  ) as Record<ServiceName, string>;
  return { limits, sized };
}

/**
 * One pipeline run of `count` samples with the bench's defaults (one model replica, features as
 * fast as it can unless `settings` says otherwise) and `settings`, each service's V8 sized by `v8`
 * (default: `defaults.v8`).
 */
function benchPipeline(defaults: {
  url: string;
  brokerPid: number | undefined;
  keep: boolean;
  trace?: (step: string) => void;
  v8: Record<ServiceName, string>;
}): Bench["pipeline"] {
  return (count, settings: Partial<PipelineRun>, v8 = defaults.v8) => {
    const withV8 = (service: ServiceName, env: Record<string, string> | undefined) =>
      v8[service] ? { DENO_V8_FLAGS: v8[service], ...env } : { ...env };
    return runPipeline({
      url: defaults.url,
      root: ROOT,
      count,
      replicas: 1,
      logLevel: LOG_LEVEL,
      timeoutMs: 240_000,
      brokerPid: defaults.brokerPid,
      trace: defaults.trace,
      keep: defaults.keep,
      ...settings,
      features: withV8("features", settings.features ?? { INTERVAL_MS: "0" }),
      model: withV8("model", settings.model),
      ...(settings.candidate ? { candidate: withV8("model", settings.candidate) } : {}),
      metric: withV8("metric", settings.metric),
    });
  };
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

/** The OS pid of the local broker's Erlang VM, for its CPU time. */
async function localBrokerPid(broker: LocalBroker): Promise<number | undefined> {
  try {
    const pid = Number(/\d+/.exec(await broker.ctl("eval", "os:getpid()."))?.[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
