/**
 * What every service's `main.ts` shares: read and validate the config, set up
 * logs and metrics, open the broker door, serve `/healthz` (liveness),
 * `/readyz` (readiness) and `/metrics`, and the one shutdown path for SIGTERM
 * and SIGINT.
 *
 * Liveness and readiness differ on purpose. Swarm's HEALTHCHECK probes
 * `/healthz` and replaces a task that fails it, so it answers 503 only when
 * the process is stuck (its event loop stalled) or exiting after a fatal
 * error. A broker outage makes `/readyz` answer 503 instead: the door's run
 * loop reconnects by itself, and killing the replica would not bring the
 * broker back sooner.
 *
 * A service supplies `setup`, which registers its consumers and returns
 * hooks; `main.ts` stays wiring only.
 *
 * @module
 */
import { errorText } from "./async.ts";
import { Broker } from "./broker.ts";
import {
  brokerAddress,
  brokerUrls,
  type CommonConfig,
  redactUrl,
  replicaName,
} from "./common_config.ts";
import { tokenGate } from "./http_auth.ts";
import { type LimitedServer, serveLimited } from "./http_limits.ts";
import { Liveness, startHeartbeat } from "./liveness.ts";
import { ConfigError, type ConfigOf, loadConfig, type Schema } from "./config.ts";
import { flushLogs, type Logger, setupLogging } from "./log.ts";
import { createTelemetry, type Telemetry } from "./telemetry.ts";

/** What `setup` gets. */
export interface ServiceContext<C> {
  readonly config: C;
  readonly log: Logger;
  readonly telemetry: Telemetry;
  readonly broker: Broker;
  readonly replica: string;
  /** Aborted when shutdown starts. */
  readonly signal: AbortSignal;
}

/** What a service adds to the common lifecycle. */
export interface ServiceHooks {
  /**
   * Main loop of a producer (features). Runs once connected; the service
   * shuts down when it returns. It must stop soon after `signal` aborts.
   */
  run?(signal: AbortSignal): Promise<void>;
  /** After consumers are drained, before the connection closes: settle what is held. */
  beforeClose?(): Promise<void>;
  /** After the broker connection dropped: deliveries held unacked are void (they come again). */
  onDisconnect?(): void;
  /** Extra HTTP routes (the metric dashboard); `undefined` falls through to 404. */
  route?(request: Request, url: URL): Response | Promise<Response> | undefined;
}

/** Settings of {@link runService}. */
export interface ServiceOptions<S extends Schema> {
  name: string;
  schema: S;
  setup(context: ServiceContext<ConfigOf<S> & CommonConfig>): Promise<ServiceHooks> | ServiceHooks;
  /** Environment reader (tests pass a map). */
  env?: (name: string) => string | undefined;
}

/**
 * Runs a service until SIGTERM/SIGINT (or until its `run` hook returns) and
 * exits: 0 after a clean shutdown, 2 on a configuration error, 1 on a
 * failure at start.
 */
export async function runService<S extends Schema>(options: ServiceOptions<S>): Promise<never> {
  let config: ConfigOf<S> & CommonConfig;
  try {
    config = loadConfig(options.schema, options.env) as ConfigOf<S> & CommonConfig;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${options.name}: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
  const denied = deniedNet(config);
  if (denied.length > 0) {
    console.error(`${options.name}: ${new ConfigError(denied).message}`);
    Deno.exit(2);
  }
  const replica = replicaName(config, options.name);
  const log = await setupLogging({
    service: options.name,
    replica,
    level: config.logLevel,
    format: config.logFormat,
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    // A stray rejection (e.g. a late socket error) must not kill a replica
    // that is otherwise healthy; it is logged loudly instead.
    event.preventDefault();
    log.error("unhandled rejection: {error}", { error: errorText(event.reason) });
  });

  const telemetry = createTelemetry(options.name, replica, {
    memoryLimitBytes: config.memoryLimitBytes,
  });
  const shutdown = new AbortController();
  const liveness = new Liveness();
  startHeartbeat(liveness, shutdown.signal);
  const broker = new Broker({
    urls: brokerUrls(config),
    ca: config.amqpCa || undefined,
    connectionName: `${options.name}@${replica}`,
    replica,
    prefetch: config.prefetch,
    queueType: config.queueType,
    log,
    telemetry,
    onDisconnect: () => hooks?.onDisconnect?.(),
  });
  let hooks: ServiceHooks | undefined;
  try {
    hooks = await options.setup({
      config,
      log,
      telemetry,
      broker,
      replica,
      signal: shutdown.signal,
    });
  } catch (error) {
    return await exitCannotStart(options.name, log, error);
  }

  const service = hooks;
  const server = config.httpPort > 0
    ? serveHttp(config.httpPort, {
      broker,
      liveness,
      telemetry,
      hooks: service,
      log,
      gate: tokenGate(config.httpToken),
    })
    : undefined;

  const stopped = Promise.withResolvers<void>();
  let finished: Promise<void> | undefined;
  let runLoop: Promise<void> | undefined;
  let exitCode = 0;
  const stop = (why: string) => {
    finished ??= (async () => {
      log.info("stopping ({why})", { why });
      shutdown.abort();
      if (runLoop) await runLoop.catch(() => {});
      await broker.drain(config.shutdownTimeoutMs);
      await service.beforeClose?.().catch((error) => {
        log.error("could not settle held work before closing: {error}", {
          error: errorText(error),
        });
      });
      await broker.close();
      await server?.shutdown();
      log.info("stopped");
    })().then(stopped.resolve);
    return finished;
  };
  const onSignal = (signal: Deno.Signal) => () => void stop(signal);
  const onTerm = onSignal("SIGTERM");
  const onInt = onSignal("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);

  log.info("starting; broker {url}, prefetch {prefetch}", {
    url: brokerUrls(config).map((url) => redactUrl(url)).join(","),
    prefetch: config.prefetch,
  });
  try {
    await broker.start();
  } catch (error) {
    return await exitCannotStart(options.name, log, error);
  }
  if (service.run && !shutdown.signal.aborted) {
    runLoop = service.run(shutdown.signal);
    runLoop.then(
      () => void stop("done"),
      (error) => {
        log.error("main loop failed: {error}", { error: errorText(error) });
        liveness.fail(`main loop failed: ${errorText(error)}`);
        exitCode = 1; // not a clean finish: let the orchestrator restart it
        void stop("main loop failed");
      },
    );
  }
  await stopped.promise;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  await flushLogs();
  Deno.exit(exitCode);
}

/**
 * Exits 1 after a failure at start: to the log, and to stderr for whoever
 * reads the process without parsing JSON lines.
 */
async function exitCannotStart(name: string, log: Logger, error: unknown): Promise<never> {
  log.fatal("cannot start: {error}", { error: errorText(error) });
  await flushLogs();
  console.error(`${name}: cannot start: ${errorText(error)}`);
  Deno.exit(1);
}

/**
 * The network grants the config needs but the process lacks. Checked up
 * front, for every broker AMQP_URL lists, so a mismatch between AMQP_URL /
 * HTTP_PORT and `--allow-net` fails at start with the variable named, rather
 * than as a retry loop (or only on failover, months later).
 */
function deniedNet(config: CommonConfig): string[] {
  const needs: [string, string][] = config.amqpUrls.map((url) => ["AMQP_URL", brokerAddress(url)]);
  if (config.httpPort > 0) {
    needs.push(["HTTP_PORT", `0.0.0.0:${config.httpPort}`], ["HTTP_PORT", "127.0.0.1:0"]);
  }
  return needs.flatMap(([variable, host]) =>
    Deno.permissions.querySync({ name: "net", host }).state === "granted" ? [] : [
      `${variable} needs ${host}, which this process may not reach: Requires net access to "${host}" (--allow-net)`,
    ]
  );
}

/** What the HTTP listener answers from. */
interface HttpState {
  broker: Broker;
  liveness: Liveness;
  telemetry: Telemetry;
  hooks: ServiceHooks;
  log: Logger;
  /** Answers 401 to a request without the token (all but the health checks). */
  gate: (request: Request) => Response | undefined;
}

function serveHttp(port: number, state: HttpState): LimitedServer {
  const { broker, liveness, telemetry, hooks, log, gate } = state;
  return serveLimited({
    port,
    hostname: "0.0.0.0",
    onListen: ({ port }) =>
      log.info("serving /healthz, /readyz and /metrics on port {port}", { port }),
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") {
      const problem = liveness.problem();
      return problem === undefined
        ? new Response("ok\n")
        : new Response(`not live: ${problem}\n`, { status: 503 });
    }
    if (url.pathname === "/readyz") {
      // The door's state, which ml_broker_connected also exports.
      return broker.connected
        ? new Response(`ready: connected to ${broker.member}\n`)
        : new Response(`not ready: no working connection to rabbitmq (${broker.member})\n`, {
          status: 503,
        });
    }
    const refused = gate(request);
    if (refused) return refused;
    if (url.pathname === "/metrics") {
      return new Response(await telemetry.registry.metrics(), {
        headers: { "content-type": telemetry.registry.contentType },
      });
    }
    return (await hooks.route?.(request, url)) ?? new Response("not found\n", { status: 404 });
  });
}
