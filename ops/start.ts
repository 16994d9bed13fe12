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
import { redactUrl } from "../stack/common_config.ts";
import { POLICIES } from "../stack/policies.ts";
import { metricLogPath } from "../metric/metric_log/format.ts";
import type { MetricLogTail } from "../metric/metric_log/reader.ts";
import { usesBroker } from "./launch.ts";
import { manifestOf, SERVICE_NAMES } from "./services.ts";
import { freePort } from "./kit/local_broker.ts";
import { ManagementApi, managementEndpoint } from "./kit/management.ts";
import { type PipelineBroker, PipelineDriver, startBroker } from "./kit/pipeline.ts";
import { type ServiceProcess, waitReady } from "./kit/process.ts";
import { type Configs, loadConfigs, spawnEnv, stopGraceMs } from "./start_config.ts";
import { Interrupts } from "./start_interrupts.ts";
import { followNewRows, lastLines, summaryLines, watchRows } from "./start_rows.ts";

/** The one service that produces; the others consume and start first, so nothing waits in a queue for long. */
const PRODUCER: keyof Configs = "features";
/** The services on the broker, which this launcher runs (the controller needs a Swarm). */
const PIPELINE = SERVICE_NAMES.filter((name): name is keyof Configs => usesBroker(name));
const CONSUMERS = PIPELINE.filter((name) => name !== PRODUCER);
/** Added to the services' own drain deadline before they are killed. */
const KILL_GRACE_MS = 5_000;
/** How long the consumers get to answer /readyz before features starts anyway. */
const READY_WITHIN_MS = 15_000;
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const NAME_WIDTH = Math.max("start".length, ...PIPELINE.map((s) => s.length));
const TERMINAL = Deno.stdout.isTerminal();
const getEnv = (name: string) => Deno.env.get(name);

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

/** The services of this run, on the broker it uses (and stops when it started it). */
class Run {
  readonly configs: Configs;
  readonly csvPath: string;
  readonly csvFullPath: string;
  broker: PipelineBroker | undefined;
  #driver: PipelineDriver | undefined;
  #stopping: Promise<void> | undefined;

  constructor(configs: Configs) {
    this.configs = configs;
    this.csvPath = metricLogPath(configs.metric.logDir);
    this.csvFullPath = this.csvPath.startsWith("/") ? this.csvPath : `${ROOT}${this.csvPath}`;
  }

  /** The services started so far. */
  get running(): readonly ServiceProcess[] {
    return this.#driver?.processes ?? [];
  }

  /** Spawns `name` against the broker, its output streamed with its name. */
  spawn(name: keyof Configs): ServiceProcess {
    const { configs } = this;
    const port = manifestOf(name).httpPort;
    const httpPort = configs[name].httpPort === 0 ? 0 : availablePort(port);
    if (httpPort !== 0 && httpPort !== port) {
      say(`port ${port} is taken: ${name} serves /healthz, /readyz and /metrics on ${httpPort}`);
    }
    this.#driver ??= new PipelineDriver({
      urls: this.broker!.urls,
      cwd: ROOT,
      paths: {
        data: configs.features.dataPath,
        model: configs.model.modelPath,
        logDir: configs.metric.logDir,
      },
      keepLines: false,
      onLine: (process, line, stream) => {
        const prefixed = `${process.name.padEnd(NAME_WIDTH)} | ${line}`;
        stream === "stdout" ? console.log(prefixed) : console.error(prefixed);
      },
      onExit: (process, status) => {
        if (this.#stopping) return;
        say(
          `${process.name} exited with code ${status.code}${
            status.signal ? ` (${status.signal})` : ""
          }`,
        );
      },
      graceMs: stopGraceMs(configs, KILL_GRACE_MS),
      onKill: (process) =>
        say(
          `${process.name} did not stop within ${
            stopGraceMs(configs, KILL_GRACE_MS)
          } ms: killing it`,
        ),
    });
    return this.#driver.start(name, { httpPort, env: spawnEnv(name, getEnv, TERMINAL) });
  }

  /** Kills every service at once. */
  kill(): void {
    this.#driver?.killAll();
  }

  /** Stops the services (killing those that overrun their deadline), then the broker. */
  stop(why: string): Promise<void> {
    this.#stopping ??= (async () => {
      say(`stopping (${why})`);
      await this.#driver?.stopAll();
      if (this.broker?.local) {
        say("stopping RabbitMQ");
        await this.broker.stop();
      }
    })();
    return this.#stopping;
  }
}

/** What {@link brokerForRun} got: the broker, or the user's request to stop meanwhile. */
type BrokerOutcome =
  | { readonly kind: "ready"; readonly broker: PipelineBroker }
  | { readonly kind: "interrupted"; readonly why: string };

/**
 * The broker of this run: `AMQP_URL`'s (with the pipeline's policies set
 * through its management API), or a throwaway RabbitMQ with its management
 * UI, kept in `run.broker` either way. Throws when the throwaway broker
 * cannot start.
 */
async function brokerForRun(run: Run, interrupts: Interrupts): Promise<BrokerOutcome> {
  const amqpUrl = Deno.env.get("AMQP_URL");
  if (amqpUrl) {
    run.broker = await startBroker({ amqpUrl });
    say(`using the broker at ${run.broker.urls.map((url) => redactUrl(url)).join(",")}`);
    for (const url of run.broker.urls) await applyPolicies(url);
    return { kind: "ready", broker: run.broker };
  }
  say("starting a throwaway RabbitMQ (takes a few seconds)");
  const starting = startBroker({ management: true });
  const first = await Promise.race([starting, interrupts.promise]);
  // Interrupted or not, the broker is stopped only once it has started.
  run.broker = await starting;
  if (typeof first === "string") return { kind: "interrupted", why: first };
  const local = run.broker.local!;
  say(`RabbitMQ ${local.nodeName} on port ${local.port}`);
  say(`management UI: http://localhost:${local.managementPort}/ (user guest, password guest)`);
  return { kind: "ready", broker: run.broker };
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
      }): the work queues have no delivery limit; set AMQP_MANAGEMENT_URL (docs/operations.md)`,
    );
  }
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

/** Starts the consumers, waits for them to be ready, then starts features (unless interrupted). */
async function startServices(
  run: Run,
  interrupts: Interrupts,
): Promise<ServiceProcess | undefined> {
  const consumers = CONSUMERS.map((name) => run.spawn(name));
  // Not ready within the time, or exited: start features anyway, as the user will see why.
  const ready = (process: ServiceProcess) =>
    process.httpPort === 0
      ? Promise.resolve()
      : waitReady(process, { timeoutMs: READY_WITHIN_MS }).catch(() => {});
  await Promise.race([Promise.all(consumers.map(ready)), interrupts.promise]);
  const features = interrupts.at === undefined ? run.spawn(PRODUCER) : undefined;
  const count = run.configs.features.count;
  say(
    count > 0
      ? `sending ${count} samples; rows go to ${run.csvPath}`
      : `running; rows go to ${run.csvPath}. Ctrl-C stops everything`,
  );
  return features;
}

/** Runs the pipeline until it is interrupted or done; resolves to the exit code. */
export async function main(): Promise<number> {
  const loaded = loadConfigs(getEnv, TERMINAL);
  if (!loaded.configs) {
    console.error("Cannot start as the configuration is invalid:");
    for (const problem of loaded.problems) console.error(`  - ${problem}`);
    return 2;
  }
  const { configs } = loaded;
  const run = new Run(configs);
  const interrupts = new Interrupts((why) => {
    say(`${why} again: killing the services`);
    run.kill();
  });
  try {
    let broker: BrokerOutcome;
    try {
      broker = await brokerForRun(run, interrupts);
    } catch (error) {
      console.error((error as Error).message);
      return 1;
    }
    if (broker.kind === "interrupted") {
      await run.stop(broker.why);
      return 0;
    }
    const rows = await followNewRows(run.csvFullPath);
    const features = await startServices(run, interrupts);
    const outcome = await outcomeOf(run, rows, features, interrupts);
    await run.stop(outcome);
    interrupts.dispose();
    const count = configs.features.count;
    if (count > 0) {
      const records = await rows.read(); // with the rows metric wrote while it drained
      const tail = await lastLines(run.csvFullPath, 6);
      for (const line of summaryLines(run.csvPath, tail, records)) console.log(line);
      return interrupts.at !== undefined || records.length >= count ? 0 : 1;
    }
    if (outcome === "all exited") return run.running.some((r) => !r.exitStatus?.success) ? 1 : 0;
    return 0;
  } finally {
    interrupts.dispose();
  }
}

if (import.meta.main) Deno.exit(await main());
