/**
 * The pipeline on this machine: a broker (a throwaway RabbitMQ, or the one
 * `AMQP_URL` names) and any subset of the services as `deno` subprocesses
 * with the permissions their placement derives (`runArgs` of
 * `ops/launch.ts`, through `ops/kit/process.ts`). `deno task start`, the
 * integration tests' harness and the bench all drive the pipeline through
 * here; what each does with it (console output, assertions, measurements)
 * stays with it.
 *
 * @module
 */
import { brokerAddress, DEFAULT_AMQP_URL, parseBrokerUrls } from "../../stack/common_config.ts";
import type { Placement, ServiceName } from "../launch.ts";
import { type LocalBroker, startLocalBroker } from "./local_broker.ts";
import { ensureRabbitmqServer } from "./prerequisites.ts";
import { type ServiceOptions, ServiceProcess, spawnService, waitReady } from "./process.ts";

/** Which broker {@link startBroker} gives the pipeline. */
export interface BrokerOptions {
  /**
   * `AMQP_URL`'s value: the broker (or the comma-separated members of one
   * cluster) to use. Unset or empty: a throwaway RabbitMQ.
   */
  amqpUrl?: string;
  /** Start the throwaway broker's management UI too. */
  management?: boolean;
}

/** The broker the services connect to. */
export interface PipelineBroker {
  /** Every member's URL (one for a throwaway broker). */
  readonly urls: readonly URL[];
  /** The throwaway broker {@link startBroker} started; undefined for `AMQP_URL`'s. */
  readonly local?: LocalBroker;
  /** Stops and deletes the throwaway broker; does nothing to `AMQP_URL`'s. */
  stop(): Promise<void>;
}

/**
 * The URLs `amqpUrl` (`AMQP_URL`'s value) names, read as the services read
 * it (blank means their default, `amqp://localhost:5672`); undefined when it
 * is unset or empty, which asks for a throwaway broker. Throws
 * `parseBrokerUrls`' `TypeError` on a bad URL.
 */
export function givenBrokerUrls(amqpUrl: string | undefined): URL[] | undefined {
  if (amqpUrl === undefined || amqpUrl === "") return undefined;
  return parseBrokerUrls(amqpUrl.trim() === "" ? DEFAULT_AMQP_URL : amqpUrl.trim());
}

/**
 * The broker of `options.amqpUrl`, or a throwaway RabbitMQ started for the
 * pipeline (5–8 s; its policies set in the default vhost). Throws when the
 * throwaway broker cannot start.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<PipelineBroker> {
  const given = givenBrokerUrls(options.amqpUrl);
  if (given) return { urls: given, stop: () => Promise.resolve() };
  // Prerequisite check: the one place a throwaway broker is about to be started.
  await ensureRabbitmqServer();
  const local = await startLocalBroker({ management: options.management });
  return { urls: [new URL(local.url)], local, stop: () => local.stop() };
}

/** `url` with its vhost (path) replaced by `vhost`; no vhost (the default, `/`) when empty. */
export function withVhost(url: URL | string, vhost: string): string {
  const copy = new URL(url);
  copy.pathname = vhost === "" ? "" : `/${encodeURIComponent(vhost)}`;
  return copy.href.replace(/\/$/, "");
}

/** How every service of one {@link PipelineDriver} is run. */
export interface PipelineOptions {
  /** The broker's URLs: each member's `host:port` goes into `--allow-net`, all of them into `AMQP_URL`. */
  readonly urls: readonly (URL | string)[];
  /** Working directory; the services read paths relative to the repository root. */
  readonly cwd?: string | URL;
  /** Variables every service gets, over the derived `AMQP_URL` and `HTTP_PORT`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Start each service from an empty environment instead of this process's. */
  readonly clearEnv?: boolean;
  /** Overrides of the services' path settings, granted in their permissions. */
  readonly paths?: Placement["paths"];
  /** Keep every output line of each process (default true). */
  readonly keepLines?: boolean;
  /** Called with each line a service writes. */
  readonly onLine?: (process: ServiceProcess, line: string, stream: "stdout" | "stderr") => void;
  /** Called once when a service exits, whoever stopped it. */
  readonly onExit?: (process: ServiceProcess, status: Deno.CommandStatus) => void;
  /** How long a stop waits after SIGTERM before SIGKILL (default 15 s). */
  readonly graceMs?: number;
  /** Called before a service that overran `graceMs` is killed. */
  readonly onKill?: (process: ServiceProcess) => void;
}

/** How one service is started, on top of {@link PipelineOptions}. */
export interface StartOptions {
  /** Its name in messages and lookups (default: the service's), e.g. `model-2`. */
  readonly name?: string;
  /** Its own variables, over the pipeline's and the derived ones. */
  readonly env?: Readonly<Record<string, string>>;
  /** The port of its `/healthz`, `/readyz` and `/metrics`; 0 (the default) serves none. */
  readonly httpPort?: number;
  /** `deno run` flags before the script, e.g. `--cpu-prof`. */
  readonly denoFlags?: readonly string[];
  /** Replaces the derived `deno` arguments (a test of what the permissions refuse). */
  readonly args?: readonly string[];
  /** Called with each of its lines, besides the pipeline's `onLine`. */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

/** What {@link launchOf} derives for one service: where it runs and how it is spawned. */
export interface Launch {
  readonly placement: Placement;
  readonly options: ServiceOptions & { name: string };
}

/**
 * Where `service` runs and the options it is spawned with: `--allow-net` for
 * every broker member and its HTTP port, `AMQP_URL` listing the members,
 * `HTTP_PORT`, then the pipeline's variables, then the service's own (so a
 * test may hand a service a wrong `AMQP_URL`).
 */
export function launchOf(
  service: ServiceName,
  pipeline: Omit<PipelineOptions, "onLine" | "onExit" | "onKill" | "graceMs">,
  start: Omit<StartOptions, "onLine" | "args"> = {},
): Launch {
  if (pipeline.urls.length === 0) {
    throw new RangeError(`Cannot launch ${service} as the pipeline has no broker URL`);
  }
  const httpPort = start.httpPort ?? 0;
  const broker = pipeline.urls.map((url) => brokerAddress(url));
  return {
    placement: {
      broker,
      httpPort,
      ...(pipeline.paths ? { paths: pipeline.paths } : {}),
    },
    options: {
      name: start.name ?? service,
      httpPort,
      cwd: pipeline.cwd,
      clearEnv: pipeline.clearEnv,
      keepLines: pipeline.keepLines,
      denoFlags: start.denoFlags,
      env: {
        AMQP_URL: pipeline.urls.map((url) => new URL(url).href).join(","),
        HTTP_PORT: String(httpPort),
        ...pipeline.env,
        ...start.env,
      },
    },
  };
}

/**
 * Services of one pipeline as subprocesses: start any of them, wait for them
 * to be ready, stop, kill or restart one by name, stop them all.
 */
export class PipelineDriver {
  readonly options: PipelineOptions;
  /** Every process started, in order, including those that have exited or were replaced. */
  readonly processes: ServiceProcess[] = [];
  readonly #starts = new Map<ServiceProcess, [ServiceName, StartOptions]>();

  constructor(options: PipelineOptions) {
    this.options = options;
  }

  /** Spawns `service` and returns at once, before it is ready. */
  start(service: ServiceName, start: StartOptions = {}): ServiceProcess {
    const { onLine, onExit } = this.options;
    const { placement, options } = launchOf(service, this.options, start);
    const spawnOptions = {
      ...options,
      onLine(line: string, stream: "stdout" | "stderr") {
        start.onLine?.(line, stream);
        // Lines arrive from the event loop, after `process` below is set.
        onLine?.(process, line, stream);
      },
    };
    const process: ServiceProcess = start.args
      ? new ServiceProcess(start.args, spawnOptions)
      : spawnService(service, placement, spawnOptions);
    this.processes.push(process);
    this.#starts.set(process, [service, start]);
    if (onExit) void process.status.then((status) => onExit(process, status));
    return process;
  }

  /** Spawns `service` and resolves once it answers `/readyz` (it needs an `httpPort`). */
  async startReady(
    service: ServiceName,
    start: StartOptions & { httpPort: number },
    ready: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<ServiceProcess> {
    const process = this.start(service, start);
    await waitReady(process, ready);
    return process;
  }

  /** The latest process started as `name`; throws a `RangeError` naming the others when none was. */
  get(name: string): ServiceProcess {
    const process = this.processes.findLast((p) => p.name === name);
    if (!process) {
      const names = [...new Set(this.processes.map((p) => p.name))].join(", ") || "none";
      throw new RangeError(`Cannot find service '${name}': the pipeline started ${names}`);
    }
    return process;
  }

  /** The processes that have not exited. */
  running(): ServiceProcess[] {
    return this.processes.filter((process) => !process.exitStatus);
  }

  /** SIGTERM to `name`, SIGKILL once the grace time passed; resolves with its exit status. */
  stop(name: string): Promise<Deno.CommandStatus> {
    return this.get(name).stop(this.#stopOptions());
  }

  /** Sends `signal` (SIGKILL by default) to `name` and resolves once it exited. */
  kill(name: string, signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    const process = this.get(name);
    process.kill(signal);
    return process.exit();
  }

  /** Stops `name` and starts it again as it was started; resolves with the new process. */
  async restart(name: string): Promise<ServiceProcess> {
    const process = this.get(name);
    await process.stop(this.#stopOptions());
    const [service, start] = this.#starts.get(process)!;
    return this.start(service, start);
  }

  /** Sends SIGKILL to every process at once, without waiting. */
  killAll(): void {
    for (const process of this.processes) process.kill("SIGKILL");
  }

  /**
   * Stops every process at once (SIGTERM, SIGKILL after the grace time);
   * resolves with their exit statuses, in {@link processes}' order.
   */
  stopAll(options: { graceMs?: number } = {}): Promise<Deno.CommandStatus[]> {
    const stop = { ...this.#stopOptions(), graceMs: options.graceMs ?? this.options.graceMs };
    return Promise.all(this.processes.map((process) => process.stop(stop)));
  }

  #stopOptions(): { graceMs?: number; onKill?: (process: ServiceProcess) => void } {
    return { graceMs: this.options.graceMs, onKill: this.options.onKill };
  }
}
