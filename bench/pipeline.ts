/**
 * One run of the real pipeline: metric and N model replicas started as
 * subprocesses with their real, narrow permissions (`runArgs`), then
 * features with `COUNT` samples; the run ends when `metric_log.csv` holds
 * every pair. Queues are purged and the log directory is fresh for each run,
 * so runs do not see each other's messages or recorded ids.
 *
 * @module
 */
import { AMQPClient } from "@cloudamqp/amqp-client";
import { QUEUES } from "../stack/contracts.ts";
import { readProc, readProcFile } from "./proc.ts";
import { freePort } from "../stack/ops/local_broker.ts";
import { type Placement, runArgs, type ServiceName } from "../stack/ops/launch.ts";
import { declareTopology } from "../stack/topology.ts";
import {
  countLines,
  cpuMsOfStat,
  type LogTally,
  machineCpuMs,
  peakRssBytes,
  rssBytes,
  tallyMetricLog,
} from "./stats.ts";

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
}

/** What one run measured. */
export interface PipelineResult {
  readonly tally: LogTally;
  /** Peak resident set (VmHWM) of each process, bytes, e.g. `model-1`. */
  readonly peakRss: Readonly<Record<string, number>>;
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
}

interface Running {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly httpPort: number;
  readonly output: Promise<void>;
  peakRss: number;
  rss: number;
  cpuStart: number;
  cpu: number;
  exited?: Deno.CommandStatus;
}

/** Runs the pipeline once; throws (with the services' output) if it does not finish. */
export async function runPipeline(run: PipelineRun): Promise<PipelineResult> {
  const dir = await Deno.makeTempDir({ prefix: "ml-bench-" });
  const logDir = `${dir}/logs`;
  await Deno.mkdir(logDir);
  const brokerHost = hostOf(run.url);
  const trace = run.trace ?? (() => {});
  trace(`run in ${dir}: resetting queues`);
  const deadBefore = await resetQueues(run.url);
  const running: Running[] = [];
  const start = (
    service: ServiceName,
    name: string,
    env: Record<string, string>,
    httpPort: number,
  ) => {
    const placement: Placement = { broker: brokerHost, httpPort, paths: { logDir } };
    const args = runArgs(service, placement);
    const flags = run.denoFlags?.[service] ?? [];
    const child = new Deno.Command("deno", {
      args: [args[0], ...flags, ...args.slice(1)],
      cwd: run.root,
      clearEnv: true,
      env: {
        ...baseEnv(),
        AMQP_URL: run.url,
        LOG_LEVEL: run.logLevel,
        HTTP_PORT: String(httpPort),
        REPLICA: name,
        LOG_DIR: logDir,
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = Deno.openSync(`${dir}/${name}.out`, { write: true, create: true, append: true });
    const output = Promise.all([
      child.stdout.pipeTo(new WritableStream({ write: (chunk) => void out.writeSync(chunk) })),
      child.stderr.pipeTo(new WritableStream({ write: (chunk) => void out.writeSync(chunk) })),
    ]).then(() => out.close(), () => out.close());
    const process: Running = {
      name,
      child,
      httpPort,
      output,
      peakRss: 0,
      rss: 0,
      cpuStart: 0,
      cpu: 0,
    };
    child.status.then((status) => process.exited = status);
    running.push(process);
    return process;
  };
  const sampleRss = async () => {
    const live = running.filter((p) => !p.exited);
    const files = await readProc(
      live.flatMap((p) => [`/proc/${p.child.pid}/status`, `/proc/${p.child.pid}/stat`]),
    );
    for (const process of live) {
      // A process that exited meanwhile keeps its last sample.
      const status = files.get(`/proc/${process.child.pid}/status`);
      const stat = files.get(`/proc/${process.child.pid}/stat`);
      if (status) {
        process.peakRss = Math.max(process.peakRss, peakRssBytes(status) ?? 0);
        process.rss = rssBytes(status) ?? process.rss;
      }
      if (stat) process.cpu = cpuMsOfStat(stat);
    }
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
      }, 0);
    let features: Running | undefined;
    if (run.prefill) {
      await waitHealthy(consumers[0], deadline);
      trace("metric ready; queueing the whole backlog before any model starts");
      features = startFeatures();
      const status = await withDeadline(features.child.status, deadline);
      if (!status?.success) throw new Error("features did not finish cleanly");
    }
    for (let i = 1; i <= run.replicas; i++) {
      consumers.push(start("model", `model-${i}`, run.model ?? {}, freePort()));
    }
    for (const consumer of consumers) await waitHealthy(consumer, deadline);
    trace("consumers ready");
    await sampleRss();
    for (const consumer of consumers) consumer.cpuStart = consumer.cpu;
    const readyRss = Object.fromEntries(consumers.map((c) => [c.name, c.rss]));
    const brokerStart = run.brokerPid ? await processCpuMs(run.brokerPid) : 0;
    const machineStart = machineCpuMs(await readProcFile("/proc/stat"));
    const selfStart = await processCpuMs(Deno.pid);
    const wallStart = performance.now();
    features ??= startFeatures();
    const csv = `${logDir}/metric_log.csv`;
    const lines = lineCounter(csv);
    for (;;) {
      await sampleRss();
      const rows = (await lines()) - 1;
      if (rows >= run.count) {
        await sampleRss();
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out with ${rows} of ${run.count} pairs recorded`);
      }
      for (const process of running) {
        const status = process.exited;
        if (status && (!status.success || process !== features)) {
          throw new Error(`${process.name} exited with code ${status.code}`);
        }
      }
      await sleep(rows > run.count * 0.9 ? 25 : 200);
    }
    const wallMs = performance.now() - wallStart;
    const brokerCpu = run.brokerPid ? await processCpuMs(run.brokerPid) - brokerStart : 0;
    const machineCpu = machineCpuMs(await readProcFile("/proc/stat")) - machineStart;
    const selfCpu = await processCpuMs(Deno.pid) - selfStart;
    const cpuMs: Record<string, number> = Object.fromEntries(
      running.map((p) => [p.name, p.cpu - p.cpuStart]),
    );
    // With a prefilled backlog features finished before the measured interval.
    if (run.prefill) delete cpuMs.features;
    if (run.brokerPid) cpuMs.broker = brokerCpu;
    const ours = Object.values(cpuMs).reduce((a, b) => a + b, 0) + selfCpu;
    trace("waiting for features to exit");
    const featuresStatus = await withDeadline(features.child.status, deadline);
    if (!featuresStatus?.success) throw new Error("features did not finish cleanly");
    trace("all pairs recorded; stopping the services");
    await stopAll(running);
    trace("stopped; reading the log");
    await sampleRss();
    const tally = tallyMetricLog(await Deno.readTextFile(csv));
    const deadAfter = await resetQueues(run.url);
    if (!run.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
    return {
      tally,
      peakRss: Object.fromEntries(running.map((p) => [p.name, p.peakRss])),
      readyRss,
      cpuMs,
      otherCpuMs: Math.max(0, machineCpu - ours),
      wallMs,
      deadLettered: deadAfter - deadBefore,
      dir,
    };
  } catch (error) {
    await stopAll(running, true);
    const outputs = await Promise.all(
      running.map(async (p) =>
        `--- ${p.name} ---\n${
          (await Deno.readTextFile(`${dir}/${p.name}.out`).catch(() => "")).slice(-2000)
        }`
      ),
    );
    throw new Error(`pipeline run failed: ${(error as Error).message}\n${outputs.join("\n")}`);
  }
}

/** Declares the topology, purges the three work queues; returns the dead-letter count. */
export async function resetQueues(url: string): Promise<number> {
  const client = new AMQPClient(url);
  await client.connect();
  try {
    const channel = await client.channel();
    await declareTopology(channel);
    for (const queue of [QUEUES.features, QUEUES.yTrue, QUEUES.yPred]) {
      await channel.queuePurge(queue);
    }
    const dead = await channel.queueDeclare(QUEUES.deadLetter, { passive: true });
    return dead.messageCount;
  } finally {
    await client.close().catch(() => {});
  }
}

async function waitHealthy(process: Running, deadline: number): Promise<void> {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${process.httpPort}/healthz`)
      .then(async (response) => {
        await response.body?.cancel();
        return response.ok;
      })
      .catch(() => false);
    if (ok) return;
    const status = process.exited;
    if (status) throw new Error(`${process.name} exited with code ${status.code} at start`);
    if (Date.now() > deadline) throw new Error(`${process.name} did not become healthy`);
    await sleep(50);
  }
}

async function stopAll(running: readonly Running[], force = false): Promise<void> {
  for (const process of running) {
    try {
      process.child.kill(force ? "SIGKILL" : "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  for (const process of running) {
    const status = await process.child.status;
    await process.output;
    if (!force && !status.success && status.signal !== null) {
      throw new Error(`${process.name} ended by ${status.signal}`);
    }
  }
}

/**
 * Counts the lines of a growing file, reading only what was appended since
 * the last call: polling stays cheap while the CSV grows to megabytes.
 */
function lineCounter(path: string): () => Promise<number> {
  let offset = 0;
  let lines = 0;
  return async () => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path);
    } catch {
      return 0;
    }
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      const buffer = new Uint8Array(1 << 16);
      for (;;) {
        const read = await file.read(buffer);
        if (read === null) break;
        lines += countLines(buffer.subarray(0, read));
        offset += read;
      }
      return lines;
    } finally {
      file.close();
    }
  };
}

/** CPU time (ms) a process has used so far. */
export async function processCpuMs(pid: number): Promise<number> {
  return cpuMsOfStat(await readProcFile(`/proc/${pid}/stat`));
}

/** `host:port` of an amqp URL, for `--allow-net`. */
export function hostOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === "amqps:" ? "5671" : "5672")}`;
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
