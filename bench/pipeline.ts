/**
 * One run of the real pipeline: metric and N model replicas started as
 * subprocesses with their real, narrow permissions (`runArgs`), then
 * features with `COUNT` samples; the run ends when `metric_log.csv` holds
 * every pair. Queues are purged and the log directory is fresh for each run,
 * so runs do not see each other's messages or recorded ids.
 *
 * @module
 */
import { metricLogPath, type PairRecord } from "../metric/metric_log/format.ts";
import { MetricLogTail } from "../metric/metric_log/reader.ts";
import { sleep } from "../stack/async.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import type { ServiceName } from "../ops/launch.ts";
import { PipelineDriver } from "../ops/kit/pipeline.ts";
import { type MetricScrape, metricScraper } from "./metric_scraper.ts";
import { waitReady } from "../ops/kit/process.ts";
import type { QueueType } from "../stack/topology.ts";
import { resetQueues } from "./broker_queues.ts";
import { type LogTally, tallyRecords } from "./stats.ts";
import { cpuMark, type Measured, memoryOf, sampleUsage } from "./process_usage.ts";

/** How long a service may drain after SIGTERM before it is killed (and the run fails). */
const STOP_GRACE_MS = 30_000;

/** The settings of one pipeline run. */
export interface PipelineRun {
  /** Broker URL with credentials. */
  url: string;
  /** Repository root: the services' working directory. */
  root: string;
  /** Samples features sends. */
  count: number;
  /** Features' settings: INTERVAL_MS, and anything else it reads. */
  features: Record<string, string>;
  /** Model replicas. */
  replicas: number;
  /** Every model replica's settings (PREFETCH, INFERENCE_DELAY_MS…). */
  model?: Record<string, string>;
  /**
   * A candidate in shadow beside them, `candidate` in the figures: the model program with
   * `MODEL_ROLE=candidate` and these settings, which metric pairs apart (`shadow_log.csv`).
   */
  candidate?: Record<string, string>;
  metric?: Record<string, string>;
  /** Lowest level logged by every service. */
  logLevel: string;
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** The broker's OS process, when it runs on this machine: its CPU time is measured too. */
  brokerPid?: number;
  /** Called with each step, for `--verbose`. */
  trace?: (step: string) => void;
  /**
   * Queue all `count` samples before the model replicas start (metric runs
   * throughout), so the replicas drain a backlog: their throughput is then
   * not shared with features' publishing burst.
   */
  prefill?: boolean;
  /** Keep the run's directory (CSV, service output) instead of deleting it after a good run. */
  keep?: boolean;
  /** Extra arguments for `deno run` before the script, e.g. `--cpu-prof`. */
  denoFlags?: Partial<Record<ServiceName, string[]>>;
  /** `QUEUE_TYPE` of every service; work queues of another type are deleted first. */
  queueType?: QueueType;
  /**
   * Scrape metric's `/metrics` once the CSV holds each of these many pairs, and once more
   * when it holds them all (before the services stop): `metricScrapes` of the result.
   */
  scrapeMetricAt?: readonly number[];
  /**
   * Called at each poll while the samples are recorded (every 200 ms, every 25 ms for the last
   * tenth), from the moment features starts: a soak's periodic readings. The run waits for it.
   */
  watch?: (progress: PipelineProgress) => Promise<void>;
}

/** What a run has seen so far, handed to {@link PipelineRun.watch}. */
export interface PipelineProgress {
  /** Every row in metric's log so far, rotated files included, in the order written. */
  readonly records: readonly PairRecord[];
  /** Each process's resident set now and its peak so far (VmHWM), bytes, e.g. `model-1`. */
  readonly memory: Readonly<Record<string, { rssBytes: number; peakRssBytes: number }>>;
  /** metric's `LOG_DIR`. */
  readonly logDir: string;
}

/** What one run measured. */
export interface PipelineResult {
  readonly tally: LogTally;
  /** Peak resident set (VmHWM) of each process, bytes, e.g. `model-1`. */
  readonly peakRss: Readonly<Record<string, number>>;
  /** Largest private resident memory (`RssAnon`) seen while polling each process, bytes. */
  readonly peakAnon: Readonly<Record<string, number>>;
  /** Resident set (bytes) of model and metric once ready, before any load. */
  readonly readyRss: Readonly<Record<string, number>>;
  /**
   * CPU time (user + system, ms) each process spent from the moment the
   * consumers were ready until the last pair was recorded; features' figure
   * includes its own start-up. `broker` when its pid was given.
   */
  readonly cpuMs: Readonly<Record<string, number>>;
  /** CPU time (ms) all other processes on the machine spent meanwhile (others' load). */
  readonly otherCpuMs: number;
  /** Wall time (ms) of that same interval. */
  readonly wallMs: number;
  /** Messages left in the dead-letter queue by this run. */
  readonly deadLettered: number;
  /** Directory with the run's CSV and the services' output (deleted unless `keep`). */
  readonly dir: string;
  /** metric's `/metrics` at each of `scrapeMetricAt` and at the end, when asked for. */
  readonly metricScrapes?: readonly MetricScrape[];
}

/** Runs the pipeline once; throws (with the services' output) if it does not finish. */
export async function runPipeline(run: PipelineRun): Promise<PipelineResult> {
  const dir = await Deno.makeTempDir({ prefix: "ml-bench-" });
  const logDir = `${dir}/logs`;
  await Deno.mkdir(logDir);
  const trace = run.trace ?? (() => {});
  trace(`run in ${dir}: resetting queues`);
  const deadBefore = await resetQueues(run.url, run.queueType);
  const services = new PipelineDriver({
    urls: [run.url],
    cwd: run.root,
    clearEnv: true,
    env: {
      ...baseEnv(),
      LOG_LEVEL: run.logLevel,
      LOG_DIR: logDir,
      ...(run.queueType ? { QUEUE_TYPE: run.queueType } : {}),
    },
    paths: { logDir },
    keepLines: false,
    graceMs: STOP_GRACE_MS,
  });
  const running: Measured[] = [];
  const start = (service: ServiceName, name: string, env: Record<string, string>, port = 0) => {
    const measured = spawnMeasured(services, run, { service, name, env, httpPort: port, dir });
    running.push(measured);
    return measured;
  };
  const deadline = Date.now() + run.timeoutMs;
  try {
    const consumers = [start("metric", "metric", run.metric ?? {}, freePort())];
    const startFeatures = () =>
      start("features", "features", {
        COUNT: String(run.count),
        PROGRESS_EVERY_MS: "0",
        SEED: "42",
        ...run.features,
      });
    let features: Measured | undefined;
    if (run.prefill) {
      await waitReady(consumers[0].process, untilDeadline(deadline));
      trace("metric ready; queueing the whole backlog before any model starts");
      features = startFeatures();
      const status = await withDeadline(features.process.status, deadline);
      if (!status?.success) throw new Error("features did not finish cleanly");
    }
    for (let i = 1; i <= run.replicas; i++) {
      consumers.push(start("model", `model-${i}`, run.model ?? {}, freePort()));
    }
    if (run.candidate) {
      consumers.push(
        start("model", "candidate", { ...run.candidate, MODEL_ROLE: "candidate" }, freePort()),
      );
    }
    for (const consumer of consumers) {
      await waitReady(consumer.process, untilDeadline(deadline));
    }
    trace("consumers ready");
    await sampleUsage(running);
    for (const consumer of consumers) consumer.cpuStart = consumer.cpu;
    const readyRss = Object.fromEntries(consumers.map((c) => [c.process.name, c.rss]));
    const before = await cpuMark(run.brokerPid);
    const wallStart = performance.now();
    features ??= startFeatures();
    const metricLog = new MetricLogTail(metricLogPath(logDir));
    const scrapes = run.scrapeMetricAt
      ? metricScraper(consumers[0].process.httpPort, run.scrapeMetricAt)
      : undefined;
    const onPoll = async (records: readonly PairRecord[]) => {
      await scrapes?.at(records.length);
      await run.watch?.({ records, memory: memoryOf(running), logDir });
    };
    await untilRecorded(run.count, metricLog, running, features, deadline, onPoll);
    await scrapes?.at(run.count, true);
    const wallMs = performance.now() - wallStart;
    const after = await cpuMark(run.brokerPid);
    const cpuMs: Record<string, number> = Object.fromEntries(
      running.map((p) => [p.process.name, p.cpu - p.cpuStart]),
    );
    // With a prefilled backlog features finished before the measured interval.
    if (run.prefill) delete cpuMs.features;
    if (run.brokerPid) cpuMs.broker = after.broker - before.broker;
    const ours = Object.values(cpuMs).reduce((a, b) => a + b, 0) + after.self - before.self;
    trace("waiting for features to exit");
    const featuresStatus = await withDeadline(features.process.status, deadline);
    if (!featuresStatus?.success) throw new Error("features did not finish cleanly");
    trace("all pairs recorded; stopping the services");
    await stopServices(services);
    trace("stopped; reading the log");
    await sampleUsage(running);
    const tally = tallyRecords(await metricLog.read());
    const deadAfter = await resetQueues(run.url, run.queueType);
    if (!run.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    return {
      tally,
      peakRss: Object.fromEntries(running.map((p) => [p.process.name, p.peakRss])),
      peakAnon: Object.fromEntries(running.map((p) => [p.process.name, p.peakAnon])),
      readyRss,
      cpuMs,
      otherCpuMs: Math.max(0, after.machine - before.machine - ours),
      wallMs,
      deadLettered: deadAfter - deadBefore,
      dir,
      ...(scrapes ? { metricScrapes: scrapes.taken } : {}),
    };
  } catch (error) {
    await services.stopAll({ graceMs: 0 });
    const outputs = await Promise.all(
      running.map(async ({ process: { name } }) =>
        `--- ${name} ---\n${
          (await Deno.readTextFile(`${dir}/${name}.out`).catch(() => "")).slice(-2000)
        }`
      ),
    );
    throw new Error(`pipeline run failed: ${(error as Error).message}\n${outputs.join("\n")}`);
  }
}

/**
 * Starts `service` as `name` on `services` (a clean environment: the
 * pipeline's and `options.env`), its output going to `<dir>/<name>.out`.
 */
function spawnMeasured(
  services: PipelineDriver,
  run: PipelineRun,
  options: {
    service: ServiceName;
    name: string;
    env: Record<string, string>;
    httpPort: number;
    dir: string;
  },
): Measured {
  const { service, name, httpPort, dir } = options;
  const out = Deno.openSync(`${dir}/${name}.out`, { write: true, create: true, append: true });
  const encoder = new TextEncoder();
  const process = services.start(service, {
    name,
    httpPort,
    denoFlags: run.denoFlags?.[service],
    env: { REPLICA: name, ...options.env },
    onLine: (line) => void out.writeSync(encoder.encode(line + "\n")),
  });
  process.exit().finally(() => out.close());
  return { process, peakRss: 0, peakAnon: 0, rss: 0, cpuStart: 0, cpu: 0 };
}

/**
 * Resolves once `metric_log.csv` holds `count` pairs, sampling every
 * service's usage meanwhile (and calling `onPoll` with the pairs so far);
 * throws when a service fails or at `deadline`.
 */
async function untilRecorded(
  count: number,
  metricLog: MetricLogTail,
  running: readonly Measured[],
  features: Measured,
  deadline: number,
  onPoll?: (records: readonly PairRecord[]) => Promise<void>,
): Promise<void> {
  for (;;) {
    await sampleUsage(running);
    await metricLog.read();
    const rows = metricLog.records.length;
    await onPoll?.(metricLog.records);
    if (rows >= count) {
      await sampleUsage(running);
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out with ${rows} of ${count} pairs recorded`);
    }
    for (const { process } of running) {
      const status = process.exitStatus;
      if (status && (!status.success || process !== features.process)) {
        throw new Error(`${process.name} exited with code ${status.code}`);
      }
    }
    await sleep(rows > count * 0.9 ? 25 : 200);
  }
}

/**
 * SIGTERM to every service; throws when one had to be killed, or was
 * ended by a signal instead of draining.
 */
async function stopServices(services: PipelineDriver): Promise<void> {
  const statuses = await services.stopAll();
  statuses.forEach((status, i) => {
    if (!status.success && status.signal !== null) {
      throw new Error(`${services.processes[i].name} ended by ${status.signal}`);
    }
  });
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** `promise`'s value, or undefined once `deadline` (epoch ms) passed; leaves no timer behind. */
async function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `waitReady`'s options for an absolute `deadline` (epoch ms). */
function untilDeadline(deadline: number): { timeoutMs: number; intervalMs: number } {
  return { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 50 };
}
