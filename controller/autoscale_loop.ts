/**
 * The autoscaling loop: on each tick, for every service whose labels declare a policy, read
 * the inputs from Prometheus and the state from the Swarm, decide (`decide.ts`), log the
 * decision with its inputs, export it, and carry it out with one service update that sets the
 * count and the state labels together. A service without policy labels is never touched.
 *
 * Besides the decision history of the current run of fresh inputs (which a restart forgets on
 * purpose: see `decide.ts`) it keeps nothing that matters in memory.
 *
 * @module
 */
import { decide, type Decision, type History, NO_HISTORY, type Reading } from "./decide.ts";
import { type SwarmPort, type SwarmService, UPDATING_STATES } from "./docker_api.ts";
import { inputsQuery, readInputs } from "./inputs.ts";
import { holdsAgainst, readScaleState, withHold, withScaleState } from "./labels.ts";
import type { ControlLoop } from "./loops.ts";
import { type Policy, readPolicy } from "./policy.ts";
import type { PrometheusPort } from "./prometheus.ts";
import type { ControllerTelemetry } from "./telemetry.ts";

/** The loop's name: its hold label is `ml.hold.autoscale`. */
export const AUTOSCALE = "autoscale";

/** How long other loops are asked to keep off a service after it was scaled. */
export const HOLD_AFTER_CHANGE_MS = 60_000;

/** The log lines the loop writes. */
export interface LoopLog {
  info(message: string, properties: Record<string, unknown>): void;
  warn(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** One decision, for the dashboard's history. */
export interface DecisionPoint {
  readonly atMs: number;
  readonly service: string;
  readonly backlog?: number;
  readonly arrivals?: number;
  readonly desired?: number;
  readonly replicas: number;
  readonly running: number;
  readonly direction: Decision["direction"];
  readonly reason: Decision["reason"];
}

/** Ports and settings of {@link AutoscaleLoop}. */
export interface AutoscaleOptions {
  readonly swarm: SwarmPort;
  readonly prometheus: PrometheusPort;
  readonly log: LoopLog;
  readonly telemetry: ControllerTelemetry;
  readonly intervalMs: number;
  readonly rateWindowSeconds: number;
  /** Called with every decision (the dashboard keeps them). */
  readonly record?: (point: DecisionPoint) => void;
}

/** The autoscaler, as one of the controller's loops. */
export class AutoscaleLoop implements ControlLoop {
  readonly name = AUTOSCALE;
  readonly intervalMs: number;
  readonly #options: AutoscaleOptions;
  readonly #history = new Map<string, History>();
  /** The count each service had at the last tick: a change not ours is someone else's. */
  readonly #seen = new Map<string, number>();
  /** When a change by someone else was first seen, by service id. */
  readonly #changedOutside = new Map<string, number>();
  /** The last policy problems logged, by service id, so they are logged once. */
  readonly #invalid = new Map<string, string>();

  constructor(options: AutoscaleOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs;
  }

  async tick(nowMs: number): Promise<void> {
    const services = await this.#options.swarm.services();
    const failures: string[] = [];
    for (const service of services) {
      try {
        await this.#scale(service, nowMs);
      } catch (error) {
        failures.push(`${service.name}: ${(error as Error).message}`);
      }
    }
    const present = new Set(services.map((service) => service.id));
    for (const map of [this.#history, this.#seen, this.#changedOutside, this.#invalid]) {
      for (const id of map.keys()) if (!present.has(id)) map.delete(id);
    }
    if (failures.length > 0) throw new Error(failures.join("; "));
  }

  async #scale(service: SwarmService, nowMs: number): Promise<void> {
    const { log, telemetry } = this.#options;
    const scaled = service.name;
    const found = readPolicy(service);
    if (found.kind === "none") return;
    const problems = found.kind === "invalid"
      ? found.problems
      : service.replicas === undefined
      ? ["it is a global service: it has no replica count to set"]
      : [];
    telemetry.policyValid.set({ scaled }, problems.length === 0 ? 1 : 0);
    if (problems.length > 0) {
      const text = problems.join("; ");
      if (this.#invalid.get(service.id) !== text) {
        log.warn("not scaling {scaled}: {problems}", { scaled, problems: text });
        this.#invalid.set(service.id, text);
      }
      return;
    }
    this.#invalid.delete(service.id);
    const policy = (found as { policy: Policy }).policy;
    const replicas = service.replicas!;
    const state = readScaleState(service.labels);
    const seen = this.#seen.get(service.id);
    if (seen !== undefined && seen !== replicas && state.replicas !== replicas) {
      log.info("replicas of {scaled} changed outside the autoscaler: {from} → {to}", {
        scaled,
        from: seen,
        to: replicas,
      });
      this.#changedOutside.set(service.id, nowMs);
    }
    this.#seen.set(service.id, replicas);
    const lastChangeMs = Math.max(
      state.lastChangeMs ?? -Infinity,
      this.#changedOutside.get(service.id) ?? -Infinity,
    );
    const holds = holdsAgainst(service.labels, this.name, nowMs);
    const rollout = UPDATING_STATES.includes(service.updateState ?? "")
      ? service.updateState
      : undefined;
    const [{ reading, error }, running] = await Promise.all([
      this.#read(policy),
      this.#options.swarm.runningTasks(scaled),
    ]);
    const decision = decide({
      policy,
      reading,
      replicas,
      holds: holds.map((hold) => `${hold.label}=${hold.reason}`),
      rollout,
      lastChangeMs: Number.isFinite(lastChangeMs) ? lastChangeMs : undefined,
      history: this.#history.get(service.id) ?? NO_HISTORY,
      nowMs,
    });
    this.#history.set(service.id, decision.history);
    this.#report(
      service,
      policy,
      { reading, error, running, holds: holds.map((h) => h.label) },
      decision,
      nowMs,
    );
    if (decision.direction === "hold") return;

    const labels = withScaleState(
      withHold(service.labels, this.name, {
        reason: `scaled ${replicas} → ${decision.replicas} (${decision.reason})`,
        untilMs: nowMs + HOLD_AFTER_CHANGE_MS,
      }),
      { atMs: nowMs, direction: decision.direction, replicas: decision.replicas },
    );
    try {
      await this.#options.swarm.update(service, { replicas: decision.replicas, labels });
    } catch (error) {
      telemetry.updatesFailed.inc({ scaled });
      log.error("could not scale {scaled} from {from} to {to}: {error}", {
        scaled,
        from: replicas,
        to: decision.replicas,
        error: (error as Error).message,
      });
      return;
    }
    this.#seen.set(service.id, decision.replicas);
    telemetry.replicas.set({ scaled }, decision.replicas);
    telemetry.lastChange.set({ scaled }, nowMs / 1000);
    if (state.direction !== undefined && state.direction !== decision.direction) {
      telemetry.reversals.inc({ scaled });
    }
    log.info("scaled {scaled} {direction} from {from} to {to} ({reason})", {
      scaled,
      direction: decision.direction,
      reason: decision.reason,
      from: replicas,
      to: decision.replicas,
    });
  }

  async #read(policy: Policy): Promise<{ reading: Reading; error?: string }> {
    try {
      const samples = await this.#options.prometheus.query(
        inputsQuery(policy, this.#options.rateWindowSeconds),
      );
      return { reading: readInputs(samples) };
    } catch (error) {
      return {
        reading: { ok: false, missing: ["prometheus"] },
        error: (error as Error).message,
      };
    }
  }

  /** Logs the decision with every input, exports it and records it for the dashboard. */
  #report(
    service: SwarmService,
    policy: Policy,
    seen: { reading: Reading; error?: string; running: number; holds: string[] },
    decision: Decision,
    nowMs: number,
  ): void {
    const { log, telemetry, record } = this.#options;
    const scaled = service.name;
    const r = decision.recommendation;
    const inputs = seen.reading.ok ? seen.reading.inputs : undefined;
    const round = (value: number | undefined, digits = 2) =>
      value === undefined ? undefined : Number(value.toFixed(digits));
    const properties = {
      scaled,
      direction: decision.direction,
      reason: decision.reason,
      replicas: service.replicas,
      target: decision.replicas,
      running: seen.running,
      desired: r?.replicas,
      recommended: round(r?.raw),
      backlog: r?.backlog ?? (inputs ? inputs.ready + inputs.unacked : undefined),
      ready: inputs?.ready,
      unacked: inputs?.unacked,
      arrivals: round(inputs?.arrivalsPerSecond),
      handled: round(inputs?.handledPerSecond),
      busySeconds: round(inputs?.busySeconds, 3),
      capacity: round(r?.capacityPerReplica),
      backlogAge: round(inputs?.backlogAgeSeconds, 1),
      handlerAge: round(inputs?.handlerAgeSeconds, 1),
      missing: seen.reading.ok ? undefined : seen.reading.missing.join(","),
      error: seen.error,
      holds: seen.holds.length > 0 ? seen.holds.join(",") : undefined,
      min: policy.min,
      max: policy.max,
    };
    const usable = !["missing", "stale", "no-throughput"].includes(decision.reason);
    const line = "decided {direction} for {scaled} ({reason}): {replicas} → {target}; backlog " +
      "{backlog}, arrivals {arrivals}/s, capacity {capacity}/s a replica, recommended {recommended}";
    (usable ? log.info : log.warn).call(log, line, properties);

    telemetry.decisions.inc({ scaled, direction: decision.direction, reason: decision.reason });
    telemetry.inputsUsable.set({ scaled }, usable ? 1 : 0);
    telemetry.inputAge.set({ scaled, input: "backlog" }, inputs?.backlogAgeSeconds ?? Number.NaN);
    telemetry.inputAge.set({ scaled, input: "handler" }, inputs?.handlerAgeSeconds ?? Number.NaN);
    telemetry.replicas.set({ scaled }, service.replicas!);
    telemetry.running.set({ scaled }, seen.running);
    telemetry.minReplicas.set({ scaled }, policy.min);
    telemetry.maxReplicas.set({ scaled }, policy.max);
    if (r) {
      telemetry.recommended.set({ scaled }, r.raw);
      telemetry.desired.set({ scaled }, r.replicas);
      telemetry.backlog.set({ scaled }, r.backlog);
      telemetry.arrivals.set({ scaled }, r.arrivals);
      if (r.capacityPerReplica !== undefined) {
        telemetry.capacity.set({ scaled }, r.capacityPerReplica);
      }
    }
    const state = readScaleState(service.labels);
    if (state.lastChangeMs !== undefined) {
      telemetry.lastChange.set({ scaled }, state.lastChangeMs / 1000);
    }
    record?.({
      atMs: nowMs,
      service: scaled,
      backlog: properties.backlog,
      arrivals: inputs?.arrivalsPerSecond,
      desired: r?.replicas,
      replicas: decision.replicas,
      running: seen.running,
      direction: decision.direction,
      reason: decision.reason,
    });
  }
}
