/**
 * controller: runs the stack's control loops (the autoscaler, `autoscale_loop.ts`, and the
 * model's rollout, `rollout/rollout_loop.ts`) against Prometheus and the Docker API filter, and
 * serves `/healthz`, `/readyz`, `/metrics`, its dashboard, and Alertmanager's webhook (`POST
 * /alerts`, `alerts.ts`). One replica on a manager; Swarm restarts it, and it resumes from what
 * the services' labels say.
 *
 * @module
 */
import { errorText, sleep } from "../stack/async.ts";
import { ConfigError, loadConfig } from "../stack/config.ts";
import { tokenGate } from "../stack/http_auth.ts";
import { serveLimited } from "../stack/http_limits.ts";
import { Liveness, startHeartbeat } from "../stack/liveness.ts";
import { flushLogs, setupLogging } from "../stack/log.ts";
import { AlertLog, receiveAlerts } from "./alerts.ts";
import { AutoscaleLoop } from "./autoscale_loop.ts";
import { RETRAIN_DEFAULTS, RetrainTrigger } from "./retrain.ts";
import { controllerSchema, httpAddress, RATE_WINDOW_SECONDS } from "./config.ts";
import { dashboardRoute, DecisionHistory, RolloutHistory } from "./dashboard.ts";
import { dockerClient } from "./docker_api.ts";
import { type ControlLoop, runLoops } from "./loops.ts";
import { RolloutLoop } from "./rollout/rollout_loop.ts";
import { prometheusClient } from "./prometheus.ts";
import { createControllerTelemetry } from "./telemetry.ts";

let config;
try {
  config = loadConfig(controllerSchema);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`controller: ${error.message}`);
  Deno.exit(2);
}
// A URL the image's --allow-net does not name fails here, with the variable, not at each poll.
const needs: [string, string][] = [
  ["PROMETHEUS_URL", httpAddress(config.prometheusUrl)],
  ["DOCKER_URL", httpAddress(config.dockerUrl)],
  ...(config.autoRetrain === "on"
    ? [["METRIC_URL", httpAddress(config.metricUrl)] as [string, string]]
    : []),
  ...(config.httpPort > 0
    ? [["HTTP_PORT", `0.0.0.0:${config.httpPort}`], ["HTTP_PORT", "127.0.0.1:0"]] as [
      string,
      string,
    ][]
    : []),
];
const denied = needs.filter(([, host]) =>
  Deno.permissions.querySync({ name: "net", host }).state !== "granted"
);
if (denied.length > 0) {
  console.error(
    `controller: ${
      new ConfigError(denied.map(([variable, host]) =>
        `${variable} needs ${host}, which this process may not reach (--allow-net)`
      )).message
    }`,
  );
  Deno.exit(2);
}

const replica = config.replica || config.hostname || "controller";
const log = await setupLogging({
  service: "controller",
  replica,
  level: config.logLevel,
  format: config.logFormat,
});
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  log.error("unhandled rejection: {error}", { error: errorText(event.reason) });
});
const telemetry = createControllerTelemetry(replica, { memoryLimitBytes: config.memoryLimitBytes });
const shutdown = new AbortController();
const liveness = new Liveness();
startHeartbeat(liveness, shutdown.signal);
const history = new DecisionHistory();
const rollouts = new RolloutHistory();
const swarm = dockerClient(config.dockerUrl, { timeoutMs: 5_000 });
const prometheus = prometheusClient(config.prometheusUrl, {
  timeoutMs: 3_000,
  login: config.prometheusPassword
    ? { user: config.prometheusUser, password: config.prometheusPassword }
    : undefined,
});
const loops: ControlLoop[] = [
  new AutoscaleLoop({
    swarm,
    prometheus,
    log,
    telemetry,
    intervalMs: config.pollMs,
    rateWindowSeconds: RATE_WINDOW_SECONDS,
    record: (point) => history.add(point),
  }),
  new RolloutLoop({
    stack: config.stack,
    swarm,
    prometheus,
    log,
    intervalMs: config.pollMs,
    decisions: telemetry.rolloutDecisions,
    record: (decision) => rollouts.decided(decision),
    look: (look) => rollouts.look(look),
  }),
];

/** When each loop last finished a tick without an error (ms). */
const lastOk = new Map<string, number>();
function notReady(): string | undefined {
  const late = loops.filter((loop) =>
    Date.now() - (lastOk.get(loop.name) ?? 0) > Math.max(3 * loop.intervalMs, 10_000)
  );
  return late.length === 0
    ? undefined
    : `no good tick lately of ${late.map((loop) => loop.name).join(", ")}`;
}

const gate = tokenGate(config.httpToken);
const alertGate = tokenGate(config.alertToken, "alert_token");
const alerts = new AlertLog();
const retrains = new RetrainTrigger({
  enabled: config.autoRetrain === "on",
  ...RETRAIN_DEFAULTS,
}, {
  stack: config.stack,
  docker: swarm,
  async records(last) {
    const url = new URL(`/records?last=${last}`, config.metricUrl);
    const response = await fetch(url, {
      headers: config.httpToken ? { authorization: `Bearer ${config.httpToken}` } : {},
      signal: AbortSignal.timeout(20_000),
    });
    if (!response.ok) {
      throw new Error(
        `metric answered ${url.pathname}${url.search}: HTTP ${response.status}, ${
          (await response.text()).trim().slice(0, 200)
        }`,
      );
    }
    return await response.text();
  },
  log,
  outcome: (outcome) => telemetry.retrains.inc({ outcome }),
  sleep,
  signal: shutdown.signal,
});
const server = config.httpPort > 0
  ? serveLimited({
    port: config.httpPort,
    hostname: "0.0.0.0",
    onListen: ({ port }) =>
      log.info("serving /healthz, /readyz, /metrics, /alerts and the dashboard on port {port}", {
        port,
      }),
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") {
      const problem = liveness.problem();
      return problem === undefined
        ? new Response("ok\n")
        : new Response(`not live: ${problem}\n`, { status: 503 });
    }
    if (url.pathname === "/readyz") {
      const problem = notReady();
      return problem === undefined
        ? new Response("ready\n")
        : new Response(`not ready: ${problem}\n`, { status: 503 });
    }
    if (url.pathname === "/alerts") {
      // Alertmanager's token only: the telemetry token reads, it does not send alerts.
      return alertGate(request) ??
        await receiveAlerts(request, {
          log,
          received: telemetry.alertsReceived,
          kept: alerts,
          hear: (heard) => void retrains.consider(heard),
        });
    }
    const refused = gate(request);
    if (refused) return refused;
    if (url.pathname === "/alerts.json") {
      return Response.json(alerts.toJSON(), { headers: { "cache-control": "no-store" } });
    }
    if (url.pathname === "/metrics") {
      return new Response(await telemetry.registry.metrics(), {
        headers: { "content-type": telemetry.registry.contentType },
      });
    }
    return dashboardRoute(history, url, rollouts) ??
      new Response("not found\n", { status: 404 });
  })
  : undefined;

const stop = (signal: string) => () => {
  if (shutdown.signal.aborted) return;
  log.info("stopping ({signal}): finishing the ticks under way", { signal });
  shutdown.abort();
};
const onTerm = stop("SIGTERM");
const onInt = stop("SIGINT");
Deno.addSignalListener("SIGTERM", onTerm);
Deno.addSignalListener("SIGINT", onInt);

log.info(
  "starting; loops {loops}, every {pollMs} ms; Prometheus {prometheus}, Docker {docker}; " +
    "AUTO_RETRAIN {autoRetrain}",
  {
    autoRetrain: config.autoRetrain,
    loops: loops.map((loop) => loop.name).join(", "),
    pollMs: config.pollMs,
    prometheus: config.prometheusUrl.origin,
    docker: config.dockerUrl.origin,
  },
);
swarm.nodes().then(
  (nodes) =>
    log.info("the swarm has {nodes} nodes, {managers} of them managers", {
      nodes: nodes.length,
      managers: nodes.filter((node) => node.role === "manager").length,
    }),
  (error) => log.warn("cannot list the swarm's nodes yet: {error}", { error: errorText(error) }),
);
await runLoops(loops, {
  signal: shutdown.signal,
  sleep,
  observer: {
    ticked(loop, seconds) {
      lastOk.set(loop, Date.now());
      telemetry.ticks.inc({ loop, outcome: "ok" });
      telemetry.tickSeconds.observe({ loop }, seconds);
    },
    failed(loop, seconds, error) {
      telemetry.ticks.inc({ loop, outcome: "error" });
      telemetry.tickSeconds.observe({ loop }, seconds);
      log.error("{loop} tick failed: {error}", { loop, error: errorText(error) });
    },
  },
});
await server?.shutdown();
Deno.removeSignalListener("SIGTERM", onTerm);
Deno.removeSignalListener("SIGINT", onInt);
log.info("stopped");
await flushLogs();
Deno.exit(0);
