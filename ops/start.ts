/**
 * `deno task start`: the whole pipeline on one machine.
 *
 * Unless `AMQP_URL` is set, starts a throwaway RabbitMQ (with its management
 * UI), then the three services as subprocesses with their own narrow
 * permissions (metric and model first, then features), and streams their
 * output prefixed with the service name: in a terminal, unless `LOG_FORMAT`
 * is set, the services are asked for their human-readable format
 * (`LOG_FORMAT=pretty`). Ctrl-C (or SIGTERM) stops the services, waits for
 * them to drain, stops the broker and exits 0.
 *
 * With `COUNT` set the run is finite: once `metric_log.csv` has `COUNT` more
 * rows (or 30 s after features finished), everything is stopped and the
 * last rows and the MAE of the run are printed.
 *
 * Every variable of the services (`INTERVAL_MS`, `SEED`, `LOG_LEVEL`, …) is
 * passed through; `INTERVAL_MS` defaults to 1000 ms. Each service gets its
 * usual HTTP port (8001–8003), or a free one when that is taken.
 *
 * @module
 */
import { sleep } from "../stack/async.ts";
import { brokerAddress } from "../stack/common_config.ts";
import { FEATURES_HTTP_PORT, featuresSchema } from "../features/config.ts";
import { METRIC_HTTP_PORT, metricSchema } from "../metric/config.ts";
import { metricLogPath, MetricLogTail, readMetricLog } from "../metric/metric_log.ts";
import { CSV_HEADER, type PairRecord } from "../metric/record.ts";
import { MODEL_HTTP_PORT, modelSchema } from "../model/config.ts";
import { redactUrl } from "../stack/common_config.ts";
import { ConfigError, type ConfigOf, envNames, loadConfig, type Schema } from "../stack/config.ts";
import { SCHEMAS, type ServiceName } from "./launch.ts";
import { freePort, type LocalBroker, startLocalBroker } from "./kit/local_broker.ts";
import { ManagementApi, managementEndpoint } from "./kit/management.ts";
import { POLICIES } from "../stack/policies.ts";
import { type ServiceProcess, spawnService, stopAll, waitReady } from "./kit/process.ts";

/** Start order: consumers first, so nothing waits in a queue for long. */
const SERVICES: readonly ServiceName[] = ["metric", "model", "features"];
const DEFAULT_PORTS: Record<ServiceName, number> = {
  features: FEATURES_HTTP_PORT,
  model: MODEL_HTTP_PORT,
  metric: METRIC_HTTP_PORT,
};
/** How long a finite run waits for the last rows after features finished. */
const SETTLE_MS = 30_000;
/** Added to the services' own drain deadline before they are killed. */
const KILL_GRACE_MS = 5_000;
/** How long the consumers get to answer /readyz before features starts anyway. */
const READY_WITHIN_MS = 15_000;
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const NAME_WIDTH = Math.max("start".length, ...SERVICES.map((s) => s.length));
const TERMINAL = Deno.stdout.isTerminal();

interface Configs {
  readonly features: ConfigOf<typeof featuresSchema>;
  readonly model: ConfigOf<typeof modelSchema>;
  readonly metric: ConfigOf<typeof metricSchema>;
}

/** Prints a line of this launcher's own. */
function say(message: string): void {
  console.log(`${"start".padEnd(NAME_WIDTH)} | ${message}`);
}

/** `port` when nobody listens on it, else a free port. */
function availablePort(port: number): number {
  try {
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return port;
  } catch {
    return freePort();
  }
}

/** The last `count` lines of the file at `path` (from its last 64 KiB). */
async function lastLines(path: string, count: number): Promise<string[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return [];
  }
  try {
    const size = (await file.stat()).size;
    await file.seek(Math.max(0, size - 65_536), Deno.SeekMode.Start);
    const text = await new Response(file.readable).text();
    return text.split("\n").filter((line) => line !== "").slice(-count);
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
}

function mae(records: readonly PairRecord[]): number {
  return records.reduce((sum, r) => sum + r.absoluteError, 0) / records.length;
}

/**
 * `service`'s environment: what the user set of its variables, plus our
 * overrides: a 1 s interval for features, and the readable log format when
 * a person watches.
 */
function serviceEnv(service: ServiceName): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of envNames(SCHEMAS[service])) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  if (service === "features") env.INTERVAL_MS = Deno.env.get("INTERVAL_MS") ?? "1000";
  // Read by the services once they support it; ignored until then.
  if (TERMINAL && Deno.env.get("LOG_FORMAT") === undefined) env.LOG_FORMAT = "pretty";
  return env;
}

/**
 * Every service's configuration; undefined, after printing every problem
 * with the services it concerns, when one is invalid. Done before the
 * broker takes its seconds to start.
 */
function loadConfigs(): Configs | undefined {
  const problems = new Map<string, string[]>();
  const check = <S extends Schema>(service: ServiceName, schema: S) => {
    const env = serviceEnv(service);
    try {
      return loadConfig(schema, (name) => env[name]);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) {
        problems.set(problem, [...problems.get(problem) ?? [], service]);
      }
    }
  };
  const features = check("features", featuresSchema);
  const model = check("model", modelSchema);
  const metric = check("metric", metricSchema);
  if (features && model && metric) return { features, model, metric };
  console.error("Cannot start as the configuration is invalid:");
  for (const [problem, services] of problems) {
    console.error(`  - ${problem} (${services.join(", ")})`);
  }
}

/**
 * Ctrl-C, SIGTERM, SIGHUP, or the parent process gone: `promise` resolves
 * with why the user wants everything stopped. A second request a while
 * after the first calls `onInsist`.
 */
class Interrupts {
  readonly #resolvers = Promise.withResolvers<string>();
  readonly promise: Promise<string> = this.#resolvers.promise;
  /** When the first request came. */
  at: number | undefined;
  readonly #listeners: [Deno.Signal, () => void][];
  readonly #orphaned: ReturnType<typeof setInterval>;
  #disposed = false;

  constructor(onInsist: (why: string) => void) {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    this.#listeners = signals.map((sig) => [sig, () => this.#interrupt(sig, onInsist)]);
    for (const [sig, listener] of this.#listeners) Deno.addSignalListener(sig, listener);
    // A parent killed outright (SIGKILL) passes no signal on: do not run on orphaned.
    const parent = Deno.ppid;
    this.#orphaned = setInterval(() => {
      if (Deno.ppid === parent) return;
      clearInterval(this.#orphaned);
      this.#interrupt("parent process exited", onInsist);
    }, 1000);
  }

  /** Stops listening. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearInterval(this.#orphaned);
    for (const [sig, listener] of this.#listeners) Deno.removeSignalListener(sig, listener);
  }

  #interrupt(why: string, onInsist: (why: string) => void): void {
    this.at ??= Date.now();
    // One Ctrl-C may arrive twice (from the terminal and forwarded by `deno task`):
    // only a second request a while later means "do not wait, kill them".
    if (Date.now() - this.at > 1000) onInsist(why);
    this.#resolvers.resolve(why);
  }
}

/** The services of this run, and the broker when we started it. */
class Run {
  readonly configs: Configs;
  readonly running: ServiceProcess[] = [];
  readonly csvPath: string;
  readonly csvFullPath: string;
  broker: LocalBroker | undefined;
  #stopping: Promise<void> | undefined;

  constructor(configs: Configs) {
    this.configs = configs;
    this.csvPath = metricLogPath(configs.metric.logDir);
    this.csvFullPath = this.csvPath.startsWith("/") ? this.csvPath : `${ROOT}${this.csvPath}`;
  }

  /** Spawns `name` against the broker(s) at `amqpUrls`, its output streamed with its name. */
  spawn(name: ServiceName, amqpUrls: readonly URL[]): ServiceProcess {
    const { configs } = this;
    const httpPort = configs[name].httpPort === 0 ? 0 : availablePort(DEFAULT_PORTS[name]);
    if (httpPort !== 0 && httpPort !== DEFAULT_PORTS[name]) {
      say(
        `port ${
          DEFAULT_PORTS[name]
        } is taken: ${name} serves /healthz, /readyz and /metrics on ${httpPort}`,
      );
    }
    const prefix = `${name.padEnd(NAME_WIDTH)} | `;
    const process = spawnService(name, {
      broker: amqpUrls.map((url) => brokerAddress(url)),
      httpPort,
      paths: {
        data: configs.features.dataPath,
        model: configs.model.modelPath,
        logDir: configs.metric.logDir,
      },
    }, {
      cwd: ROOT,
      env: {
        ...serviceEnv(name),
        AMQP_URL: amqpUrls.map((url) => url.href).join(","),
        HTTP_PORT: String(httpPort),
      },
      keepLines: false,
      onLine: (line, stream) =>
        stream === "stdout" ? console.log(prefix + line) : console.error(prefix + line),
    });
    this.running.push(process);
    process.status.then((status) => {
      if (!this.#stopping) {
        say(`${name} exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`);
      }
    });
    return process;
  }

  /** Kills every service at once. */
  kill(): void {
    for (const process of this.running) process.kill("SIGKILL");
  }

  /** Stops the services (killing those that overrun their deadline), then the broker. */
  stop(why: string): Promise<void> {
    this.#stopping ??= (async () => {
      say(`stopping (${why})`);
      const { features, model, metric } = this.configs;
      const graceMs = Math.max(
        features.shutdownTimeoutMs,
        model.shutdownTimeoutMs,
        metric.shutdownTimeoutMs,
      ) + KILL_GRACE_MS;
      await stopAll(this.running, {
        graceMs,
        onKill: (process) => say(`${process.name} did not stop within ${graceMs} ms: killing it`),
      });
      if (this.broker) {
        say("stopping RabbitMQ");
        await this.broker.stop();
      }
    })();
    return this.#stopping;
  }
}

/**
 * The broker's URLs: `AMQP_URL`'s, or a throwaway RabbitMQ's (kept in
 * `run.broker`). A string when interrupted meanwhile, an exit code when it
 * could not start.
 */
async function brokerUrls(
  run: Run,
  interrupts: Interrupts,
): Promise<readonly URL[] | string | number> {
  if (Deno.env.get("AMQP_URL")) {
    const urls = run.configs.features.amqpUrls;
    say(`using the broker at ${urls.map((url) => redactUrl(url)).join(",")}`);
    for (const url of urls) await applyPolicies(url);
    return urls;
  }
  say("starting a throwaway RabbitMQ (takes a few seconds)");
  const starting = startLocalBroker({ management: true });
  let first: LocalBroker | string;
  try {
    first = await Promise.race([starting, interrupts.promise]);
    run.broker = await starting;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
  if (typeof first === "string") return first;
  const { broker } = run;
  say(`RabbitMQ ${broker.nodeName} on port ${broker.port}`);
  say(`management UI: http://localhost:${broker.managementPort}/ (user guest, password guest)`);
  return [new URL(broker.url)];
}

/**
 * Sets the pipeline's policies on `AMQP_URL`'s broker through its management
 * API (`AMQP_MANAGEMENT_URL`, default port 15672 of the AMQP host). The
 * pipeline runs without them, so a failure is a warning.
 */
async function applyPolicies(amqpUrl: URL): Promise<void> {
  const endpoint = managementEndpoint(amqpUrl.href, Deno.env.get("AMQP_MANAGEMENT_URL"));
  const vhost = decodeURIComponent(amqpUrl.pathname.slice(1)) || "/";
  try {
    const api = new ManagementApi(endpoint);
    for (const policy of POLICIES) await api.putPolicy(vhost, policy);
    say(`policies ${POLICIES.map((p) => p.name).join(", ")} set in vhost ${vhost}`);
  } catch (error) {
    say(
      `warning: could not set the policies through ${endpoint.url} (${
        (error as Error).message
      }): the work queues have no delivery limit; set AMQP_MANAGEMENT_URL, or see README.md`,
    );
  }
}

/**
 * Follows metric_log.csv from where it ends now: rows already there do not
 * count towards COUNT. A file with another header is moved aside by
 * metric, so then it counts from nothing.
 */
async function followNewRows(path: string): Promise<MetricLogTail> {
  const before = await readMetricLog(path);
  const fresh = before.header !== undefined && before.header !== CSV_HEADER;
  return new MetricLogTail(path, { from: fresh ? 0 : before.end });
}

/**
 * Resolves with why a finite run is over: `count` new rows, or too few
 * rows long after features finished. Resolves with "" once `done()`.
 */
async function watchRows(
  rows: MetricLogTail,
  shownPath: string,
  count: number,
  features: ServiceProcess | undefined,
  done: () => boolean,
): Promise<string> {
  let featuresDoneAt: number | undefined;
  while (!done()) {
    const records = await rows.read();
    if (records.length >= count) return `${records.length} new rows in ${shownPath}`;
    if (features?.exitStatus) featuresDoneAt ??= Date.now();
    if (featuresDoneAt !== undefined && Date.now() - featuresDoneAt > SETTLE_MS) {
      return `only ${records.length} of ${count} rows ${
        SETTLE_MS / 1000
      } s after features finished`;
    }
    await sleep(200);
  }
  return "";
}

/** Why the run is over: the user's request, every service gone, or the rows of a finite run. */
async function outcomeOf(
  run: Run,
  rows: MetricLogTail,
  features: ServiceProcess | undefined,
  interrupts: Interrupts,
): Promise<string> {
  const allExited = Promise.all(run.running.map((r) => r.status)).then(() => "all exited");
  const count = run.configs.features.count;
  if (count === 0) return await Promise.race([interrupts.promise, allExited]);
  let watching = true;
  const watch = watchRows(rows, run.csvPath, count, features, () => !watching);
  const outcome = await Promise.race([watch, interrupts.promise, allExited]);
  watching = false;
  await watch;
  return outcome;
}

/** The last rows and the MAE of a finite run. */
async function printSummary(run: Run, records: readonly PairRecord[]): Promise<void> {
  console.log(`\nlast rows of ${run.csvPath}:`);
  const rows = (await lastLines(run.csvFullPath, 6)).filter((line) => line !== CSV_HEADER);
  for (const line of [CSV_HEADER, ...rows.slice(-5)]) console.log(`  ${line}`);
  if (records.length === 0) {
    console.log("\nno samples were recorded in this run");
  } else {
    console.log(
      `\nfinal MAE over the ${records.length} samples of this run: ${mae(records).toFixed(4)}`,
    );
  }
}

/** Starts the consumers, waits for them to be ready, then starts features (unless interrupted). */
async function startServices(
  run: Run,
  amqpUrls: readonly URL[],
  interrupts: Interrupts,
): Promise<ServiceProcess | undefined> {
  const consumers = SERVICES.filter((name) => name !== "features")
    .map((name) => run.spawn(name, amqpUrls));
  // Not ready within the time, or exited: start features anyway, as the user will see why.
  const ready = (process: ServiceProcess) =>
    process.httpPort === 0
      ? Promise.resolve()
      : waitReady(process, { timeoutMs: READY_WITHIN_MS }).catch(() => {});
  await Promise.race([Promise.all(consumers.map(ready)), interrupts.promise]);
  const features = interrupts.at === undefined ? run.spawn("features", amqpUrls) : undefined;
  const count = run.configs.features.count;
  say(
    count > 0
      ? `sending ${count} samples; rows go to ${run.csvPath}`
      : `running; rows go to ${run.csvPath}. Ctrl-C stops everything`,
  );
  return features;
}

async function main(): Promise<number> {
  const configs = loadConfigs();
  if (!configs) return 2;
  const run = new Run(configs);
  const interrupts = new Interrupts((why) => {
    say(`${why} again: killing the services`);
    run.kill();
  });
  try {
    const amqpUrls = await brokerUrls(run, interrupts);
    if (typeof amqpUrls === "number") return amqpUrls;
    if (typeof amqpUrls === "string") {
      await run.stop(amqpUrls);
      return 0;
    }
    const rows = await followNewRows(run.csvFullPath);
    const features = await startServices(run, amqpUrls, interrupts);
    const outcome = await outcomeOf(run, rows, features, interrupts);
    await run.stop(outcome);
    interrupts.dispose();
    const count = configs.features.count;
    if (count > 0) {
      const records = await rows.read(); // with the rows metric wrote while it drained
      await printSummary(run, records);
      return interrupts.at !== undefined || records.length >= count ? 0 : 1;
    }
    if (outcome === "all exited") return run.running.some((r) => !r.exitStatus?.success) ? 1 : 0;
    return 0;
  } finally {
    interrupts.dispose();
  }
}

Deno.exit(await main());
