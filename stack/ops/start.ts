/**
 * `deno task start`: the whole pipeline on one machine.
 *
 * Unless `AMQP_URL` is set, starts a throwaway RabbitMQ (with its management
 * UI), then the three services as subprocesses with their own narrow
 * permissions (metric and model first, then features), and streams their
 * output prefixed with the service name. Ctrl-C (or SIGTERM) stops the
 * services, waits for them to drain, stops the broker and exits 0.
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
import { FEATURES_HTTP_PORT, featuresSchema } from "../../features/config.ts";
import { METRIC_HTTP_PORT, metricSchema } from "../../metric/config.ts";
import { CSV_HEADER, type PairRecord, parseRecord } from "../../metric/record.ts";
import { MODEL_HTTP_PORT, modelSchema } from "../../model/config.ts";
import { redactUrl } from "../common_config.ts";
import { ConfigError, envNames, loadConfig, type Schema } from "../config.ts";
import { type Placement, runArgs, SCHEMAS, type ServiceName } from "./launch.ts";
import { freePort, type LocalBroker, startLocalBroker } from "./local_broker.ts";

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
const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const NAME_WIDTH = Math.max("start".length, ...SERVICES.map((s) => s.length));
const TERMINAL = Deno.stdout.isTerminal();

/** Prints a line of this launcher's own. */
function say(message: string): void {
  console.log(`${"start".padEnd(NAME_WIDTH)} | ${message}`);
}

/**
 * A service's log line for the terminal: `level message` when it is one of
 * our JSON log lines and stdout is a terminal, else the line as it is.
 */
function condense(line: string): string {
  if (!TERMINAL || !line.startsWith("{")) return line;
  try {
    const event = JSON.parse(line);
    if (typeof event.level !== "string" || typeof event.message !== "string") return line;
    return `${event.level.toLowerCase().padEnd(7)} ${event.message}`;
  } catch {
    return line;
  }
}

/** Copies `stream` to stdout or stderr line by line, each prefixed with `name`. */
async function pump(
  name: string,
  stream: ReadableStream<Uint8Array>,
  write: (line: string) => void,
): Promise<void> {
  const prefix = `${name.padEnd(NAME_WIDTH)} | `;
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) write(prefix + condense(line.replace(/\r$/, "")));
  }
  if (rest !== "") write(prefix + condense(rest));
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

/**
 * The rows of `metric_log.csv` in the complete lines from byte `offset` on,
 * where those lines end, and the header when reading from the start.
 */
async function readRows(
  path: string,
  offset: number,
): Promise<{ records: PairRecord[]; end: number; header?: string }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { records: [], end: 0 };
    throw error;
  }
  let bytes: Uint8Array;
  try {
    // Smaller than where we were: the file was replaced, so read it from its start.
    if ((await file.stat()).size < offset) offset = 0;
    await file.seek(offset, Deno.SeekMode.Start);
    bytes = new Uint8Array(await new Response(file.readable).arrayBuffer());
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
  const end = bytes.lastIndexOf(0x0a) + 1;
  const lines = new TextDecoder().decode(bytes.subarray(0, end)).split("\n");
  lines.pop();
  const header = offset === 0 ? lines[0] : undefined;
  const records = lines.map(parseRecord).filter((r): r is PairRecord => r !== undefined);
  return { records, end: offset + end, header };
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

/** Resolves once the service's `/healthz` answers 200, it exited, or 15 s passed. */
async function untilHealthy(service: Running): Promise<void> {
  if (service.httpPort === 0) return;
  const deadline = Date.now() + 15_000;
  while (!service.exited && Date.now() < deadline) {
    try {
      const response = await fetch(`http://localhost:${service.httpPort}/healthz`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function mae(records: readonly PairRecord[]): number {
  return records.reduce((sum, r) => sum + r.absoluteError, 0) / records.length;
}

interface Running {
  readonly name: ServiceName;
  readonly process: Deno.ChildProcess;
  readonly httpPort: number;
  readonly output: Promise<unknown>;
  exited?: Deno.CommandStatus;
}

async function main(): Promise<number> {
  // Each service's environment: what the user set, plus our overrides.
  const overrides: Record<ServiceName, Record<string, string>> = {
    features: { INTERVAL_MS: Deno.env.get("INTERVAL_MS") ?? "1000" },
    model: {},
    metric: {},
  };
  const userUrl = Deno.env.get("AMQP_URL");
  const envOf = (service: ServiceName) => {
    const env: Record<string, string> = {};
    for (const name of envNames(SCHEMAS[service])) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    return { ...env, ...overrides[service] };
  };

  // Refuse a bad setting now rather than after the broker took its seconds to start.
  const problems = new Map<string, string[]>();
  const check = <S extends Schema>(service: ServiceName, schema: S) => {
    try {
      return loadConfig(schema, (name) => envOf(service)[name]);
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
  if (!features || !model || !metric) {
    console.error("Cannot start as the configuration is invalid:");
    for (const [problem, services] of problems) {
      console.error(`  - ${problem} (${services.join(", ")})`);
    }
    return 2;
  }
  const configs = { features, model, metric };
  const count = configs.features.count;
  const csvPath = `${configs.metric.logDir.replace(/\/$/, "")}/metric_log.csv`;
  const csvFullPath = csvPath.startsWith("/") ? csvPath : `${ROOT}${csvPath}`;

  const running: Running[] = [];
  let broker: LocalBroker | undefined;
  let stopping: Promise<void> | undefined;
  const shutdownDeadlineMs = Math.max(
    configs.features.shutdownTimeoutMs,
    configs.model.shutdownTimeoutMs,
    configs.metric.shutdownTimeoutMs,
  ) + KILL_GRACE_MS;

  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      say(`stopping (${why})`);
      const live = running.filter((r) => !r.exited);
      for (const r of live) signal(r, "SIGTERM");
      const exited = Promise.all(live.map((r) => r.process.status));
      const timer = Promise.withResolvers<"late">();
      const timeout = setTimeout(() => timer.resolve("late"), shutdownDeadlineMs);
      if (await Promise.race([exited, timer.promise]) === "late") {
        for (const r of running.filter((r) => !r.exited)) {
          say(`${r.name} did not stop within ${shutdownDeadlineMs} ms: killing it`);
          signal(r, "SIGKILL");
        }
        await exited;
      }
      clearTimeout(timeout);
      await Promise.allSettled(running.map((r) => r.output));
      if (broker) {
        say("stopping RabbitMQ");
        await broker.stop();
      }
    })();
    return stopping;
  };
  const signal = (r: Running, sig: Deno.Signal) => {
    try {
      r.process.kill(sig);
    } catch { /* exited already */ }
  };
  // Resolves with why the user wants everything stopped.
  const interrupted = Promise.withResolvers<string>();
  let interruptedAt: number | undefined;
  const interrupt = (why: string) => {
    interruptedAt ??= Date.now();
    // One Ctrl-C may arrive twice (from the terminal and forwarded by `deno task`):
    // only a second request a while later means "do not wait, kill them".
    if (Date.now() - interruptedAt > 1000) {
      say(`${why} again: killing the services`);
      for (const r of running) signal(r, "SIGKILL");
    }
    interrupted.resolve(why);
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const listeners = signals.map((sig) => [sig, () => interrupt(sig)] as const);
  for (const [sig, listener] of listeners) Deno.addSignalListener(sig, listener);
  // A parent killed outright (SIGKILL) passes no signal on: do not run on orphaned.
  const parent = Deno.ppid;
  const orphaned = setInterval(() => {
    if (Deno.ppid === parent) return;
    clearInterval(orphaned);
    interrupt("parent process exited");
  }, 1000);

  let amqpUrl: URL;
  if (userUrl) {
    amqpUrl = configs.features.amqpUrl;
    say(`using the broker at ${redactUrl(amqpUrl)}`);
  } else {
    say("starting a throwaway RabbitMQ (takes a few seconds)");
    const starting = startLocalBroker({ management: true });
    let first: LocalBroker | string;
    try {
      first = await Promise.race([starting, interrupted.promise]);
      broker = await starting;
    } catch (error) {
      console.error((error as Error).message);
      return 1;
    }
    if (typeof first === "string") {
      await stop(first);
      return 0;
    }
    amqpUrl = new URL(broker.url);
    say(`RabbitMQ ${broker.nodeName} on port ${broker.port}`);
    say(`management UI: http://localhost:${broker.managementPort}/ (user guest, password guest)`);
  }
  const defaultPort = amqpUrl.protocol === "amqps:" ? "5671" : "5672";
  const brokerHost = `${amqpUrl.hostname}:${amqpUrl.port || defaultPort}`;

  // Rows already in the CSV do not count towards COUNT.
  const before = await readRows(csvFullPath, 0);
  // A file with another header is moved aside by metric: count from nothing.
  let offset = before.header === undefined || before.header === CSV_HEADER ? before.end : 0;

  const spawn = (name: ServiceName): Running => {
    const httpPort = configs[name].httpPort === 0 ? 0 : availablePort(DEFAULT_PORTS[name]);
    if (httpPort !== 0 && httpPort !== DEFAULT_PORTS[name]) {
      say(`port ${DEFAULT_PORTS[name]} is taken: ${name} serves /healthz on ${httpPort}`);
    }
    const placement: Placement = {
      broker: brokerHost,
      httpPort,
      paths: {
        data: configs.features.dataPath,
        model: configs.model.modelPath,
        logDir: configs.metric.logDir,
      },
    };
    const process = new Deno.Command("deno", {
      args: runArgs(name, placement),
      cwd: ROOT,
      env: { ...envOf(name), AMQP_URL: amqpUrl.href, HTTP_PORT: String(httpPort) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = Promise.all([
      pump(name, process.stdout, (line) => console.log(line)),
      pump(name, process.stderr, (line) => console.error(line)),
    ]);
    const entry: Running = { name, process, httpPort, output };
    running.push(entry);
    process.status.then((status) => {
      entry.exited = status;
      if (!stopping) {
        say(`${name} exited with code ${status.code}${status.signal ? ` (${status.signal})` : ""}`);
      }
    });
    return entry;
  };
  // Consumers first: features starts once they are ready to take its samples.
  const consumers = SERVICES.filter((name) => name !== "features").map(spawn);
  await Promise.race([Promise.all(consumers.map(untilHealthy)), interrupted.promise]);
  const featuresProcess = interruptedAt === undefined ? spawn("features") : undefined;
  say(
    count > 0
      ? `sending ${count} samples; rows go to ${csvPath}`
      : `running; rows go to ${csvPath}. Ctrl-C stops everything`,
  );

  const allExited = Promise.all(running.map((r) => r.process.status)).then(() => "all exited");
  const runRecords: PairRecord[] = [];
  const collect = async () => {
    const fresh = await readRows(csvFullPath, offset);
    if (fresh.end < offset) runRecords.length = 0; // replaced: read from its start
    offset = fresh.end;
    runRecords.push(...fresh.records);
  };
  let outcome: string;
  if (count > 0) {
    let watching = true;
    const watch = (async () => {
      let featuresDoneAt: number | undefined;
      while (watching) {
        await collect();
        if (runRecords.length >= count) return `${runRecords.length} new rows in ${csvPath}`;
        if (featuresProcess?.exited) featuresDoneAt ??= Date.now();
        if (featuresDoneAt !== undefined && Date.now() - featuresDoneAt > SETTLE_MS) {
          return `only ${runRecords.length} of ${count} rows ${
            SETTLE_MS / 1000
          } s after features finished`;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return "";
    })();
    outcome = await Promise.race([watch, interrupted.promise, allExited]);
    watching = false;
    await watch;
  } else {
    outcome = await Promise.race([interrupted.promise, allExited]);
  }
  await stop(outcome);
  clearInterval(orphaned);
  for (const [sig, listener] of listeners) Deno.removeSignalListener(sig, listener);

  if (count > 0) {
    await collect(); // rows metric wrote while it drained
    console.log(`\nlast rows of ${csvPath}:`);
    const rows = (await lastLines(csvFullPath, 6)).filter((line) => line !== CSV_HEADER);
    for (const line of [CSV_HEADER, ...rows.slice(-5)]) console.log(`  ${line}`);
    if (runRecords.length === 0) {
      console.log("\nno samples were recorded in this run");
    } else {
      console.log(
        `\nfinal MAE over the ${runRecords.length} samples of this run: ${
          mae(runRecords).toFixed(4)
        }`,
      );
    }
    return interruptedAt !== undefined || runRecords.length >= count ? 0 : 1;
  }
  if (outcome === "all exited") return running.some((r) => !r.exited?.success) ? 1 : 0;
  return 0;
}

Deno.exit(await main());
