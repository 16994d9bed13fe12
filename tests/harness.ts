/**
 * What the integration tests share: one throwaway RabbitMQ per test file, a
 * fresh vhost per test (isolated queues without a broker restart), and the
 * services spawned as real subprocesses with their real permission flags.
 *
 * @module
 */
import { AMQPClient, type AMQPProperties } from "@cloudamqp/amqp-client";
import { type LocalBroker, startLocalBroker } from "../stack/ops/local_broker.ts";
import { runArgs, type ServiceName } from "../stack/ops/launch.ts";
import { type PairRecord, parseRecord } from "../metric/record.ts";

/** A spawned service with its output collected line by line. */
export class ServiceProcess {
  readonly name: string;
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>[];

  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.#child = child;
    this.#pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    this.status = child.status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    let tail = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (tail + chunk).split("\n");
      tail = parts.pop()!;
      this.lines.push(...parts);
    }
    if (tail) this.lines.push(tail);
  }

  /** Parsed JSON log lines (non-JSON lines are skipped). */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
  }

  /** Sends a signal; ignores a process that has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Waits for exit and for all output to be read. */
  async exit(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await Promise.all(this.#pumps);
    return status;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  async stop(graceMs = 15_000): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), graceMs);
    try {
      return await this.exit();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Polls `check` until it returns true, or throws after `timeoutMs` saying `what`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A test's slice of the shared broker: its own vhost, log directory and processes. */
export class Pipeline {
  readonly broker: LocalBroker;
  readonly vhost: string;
  readonly url: string;
  readonly logDir: string;
  readonly processes: ServiceProcess[] = [];

  private constructor(broker: LocalBroker, vhost: string, logDir: string) {
    this.broker = broker;
    this.vhost = vhost;
    this.url = `${broker.url}/${encodeURIComponent(vhost)}`;
    this.logDir = logDir;
  }

  /** A fresh vhost on `broker` (guest may use it) and a fresh log directory. */
  static async create(broker: LocalBroker, name: string): Promise<Pipeline> {
    const vhost = `${name}-${crypto.randomUUID().slice(0, 8)}`;
    await broker.ctl("add_vhost", vhost);
    await broker.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
    const logDir = await Deno.makeTempDir({ prefix: "ml-test-logs-" });
    return new Pipeline(broker, vhost, logDir);
  }

  /**
   * Spawns `service` with its real permissions (broker `localhost:<port>`,
   * no HTTP listener unless `httpPort` is given) and `env` on top of the
   * test defaults.
   */
  spawn(
    service: ServiceName,
    env: Record<string, string> = {},
    options: { httpPort?: number; args?: string[] } = {},
  ): ServiceProcess {
    const httpPort = options.httpPort ?? 0;
    const args = options.args ??
      runArgs(service, {
        broker: `localhost:${this.broker.port}`,
        httpPort,
        paths: { logDir: this.logDir },
      });
    const child = new Deno.Command("deno", {
      args,
      env: {
        AMQP_URL: this.url,
        HTTP_PORT: String(httpPort),
        LOG_DIR: this.logDir,
        SHUTDOWN_TIMEOUT_MS: "5000",
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const process = new ServiceProcess(service, child);
    this.processes.push(process);
    return process;
  }

  /** The rows of metric_log.csv so far. */
  rows(): PairRecord[] {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${this.logDir}/metric_log.csv`);
    } catch {
      return [];
    }
    return text.split("\n").flatMap((line) => parseRecord(line) ?? []);
  }

  /** Messages ready in each queue of this vhost. */
  async depths(): Promise<Record<string, number>> {
    const out = await this.broker.ctl(
      "list_queues",
      "-p",
      this.vhost,
      "-q",
      "--no-table-headers",
      "name",
      "messages",
    );
    return Object.fromEntries(
      out.trim().split("\n").filter(Boolean).map((line) => {
        const [name, count] = line.trim().split(/\s+/);
        return [name, Number(count)];
      }),
    );
  }

  /** Publishes one raw message (confirmed) to `queue` of this vhost. */
  async publish(
    queue: string,
    body: string | Uint8Array,
    properties: AMQPProperties = {},
  ): Promise<void> {
    const client = new AMQPClient(this.url);
    await client.connect();
    try {
      const channel = await client.channel();
      await channel.confirmSelect();
      await channel.basicPublish("", queue, body, { deliveryMode: 2, ...properties });
    } finally {
      await client.close();
    }
  }

  /** Takes every message now in `queue` (acking them) and returns body and headers. */
  async take(queue: string): Promise<{ body: string; properties: AMQPProperties }[]> {
    const client = new AMQPClient(this.url);
    await client.connect();
    const taken: { body: string; properties: AMQPProperties }[] = [];
    try {
      const channel = await client.channel();
      for (;;) {
        const message = await channel.basicGet(queue, { noAck: true });
        if (!message) break;
        taken.push({ body: message.bodyToString() ?? "", properties: message.properties });
      }
    } finally {
      await client.close();
    }
    return taken;
  }

  /** Stops every process still running and removes the log directory. */
  async dispose(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(5_000)));
    await Deno.remove(this.logDir, { recursive: true }).catch(() => {});
    await this.broker.ctl("delete_vhost", this.vhost).catch(() => {});
  }
}

/** The sample ids features logged as sent, with their data set row. */
export function sentSamples(features: ServiceProcess): Map<string, number> {
  const sent = new Map<string, number>();
  for (const line of features.logs()) {
    if (typeof line.message === "string" && line.message.startsWith("sent sample")) {
      sent.set(String(line.id), Number(line.row));
    }
  }
  return sent;
}

let shared: Promise<LocalBroker> | undefined;

/** The broker this test file shares; started on first use. */
export function sharedBroker(): Promise<LocalBroker> {
  shared ??= startLocalBroker();
  return shared;
}

/** Stops the shared broker; call from the last test of the file. */
export async function stopSharedBroker(): Promise<void> {
  if (shared) await (await shared).stop();
  shared = undefined;
}
