/**
 * The controller's Prometheus metrics (`/metrics`), labelled with `service` and `replica` like
 * every service's. It has no broker, so none of stack/telemetry.ts's broker series (whose 0
 * would raise BrokerUnreachable); the process gauges the alerts read are the same.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type ProcessFacts, registerProcessGauges } from "../stack/telemetry.ts";

/** The controller's metrics. */
export interface ControllerTelemetry {
  readonly registry: Registry;
  /** Each loop's ticks, by outcome. */
  readonly ticks: Counter<"loop" | "outcome">;
  /** How long one tick of a loop took. */
  readonly tickSeconds: Histogram<"loop">;
  /** Every decision, by direction (up, down, hold) and reason. */
  readonly decisions: Counter<"scaled" | "direction" | "reason">;
  /** Changes of direction: an up after a down or a down after an up. */
  readonly reversals: Counter<"scaled">;
  /** Updates of a service the Docker API refused or that failed. */
  readonly updatesFailed: Counter<"scaled">;
  /** The count the inputs call for, unrounded and unclamped. */
  readonly recommended: Gauge<"scaled">;
  /** The count the inputs call for, within the bounds: desired. */
  readonly desired: Gauge<"scaled">;
  /** The count the service is set to (after this decision). */
  readonly replicas: Gauge<"scaled">;
  /** Tasks that run: actual. */
  readonly running: Gauge<"scaled">;
  readonly minReplicas: Gauge<"scaled">;
  readonly maxReplicas: Gauge<"scaled">;
  /** 1 while the policy labels parse, 0 while they do not (the service is left alone). */
  readonly policyValid: Gauge<"scaled">;
  /** 1 while the inputs are fresh and complete; 0 while the autoscaler holds for them. */
  readonly inputsUsable: Gauge<"scaled">;
  /** Age of the newest sample of each input, seconds (NaN when missing). */
  readonly inputAge: Gauge<"scaled" | "input">;
  /** Ready plus unacknowledged, as the controller last read it. */
  readonly backlog: Gauge<"scaled">;
  readonly arrivals: Gauge<"scaled">;
  /** Messages per second one replica settles when fully busy, as measured. */
  readonly capacity: Gauge<"scaled">;
  /** When the autoscaler last changed the count (seconds since the epoch). */
  readonly lastChange: Gauge<"scaled">;
  /** The rollout loop's decisions, by the phase they ended in (promoted, rejected, aborted). */
  readonly rolloutDecisions: Counter<"phase">;
  /** Alerts Alertmanager sent to POST /alerts, by name and state (firing, resolved). */
  readonly alertsReceived: Counter<"alertname" | "status">;
  /** Retrains on drift, by outcome (started, skipped, failed). */
  readonly retrains: Counter<"outcome">;
}

/** Creates the registry, the process gauges the alerts read, and the controller's metrics. */
export function createControllerTelemetry(
  replica: string,
  facts: ProcessFacts & { memoryLimitBytes: number },
): ControllerTelemetry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: "controller", replica });
  const registers = [registry];
  registerProcessGauges(registry, facts);
  // `service` is taken by the default label (this process's name): the scaled one is `scaled`.
  const perService = { labelNames: ["scaled"], registers } as const;
  const gauge = (name: string, help: string) => new Gauge({ name, help, ...perService });
  const rolloutDecisions = new Counter({
    name: "ml_rollout_decisions_total",
    help: "Rollouts decided by the controller, by the phase they ended in " +
      "(promoted, rejected, aborted)",
    labelNames: ["phase"],
    registers,
  });
  // Each series from 0, so the first decision is an increase the alert sees (RolloutNotPromoted).
  for (const phase of ["promoted", "rejected", "aborted"]) rolloutDecisions.inc({ phase }, 0);
  const retrains = new Counter({
    name: "ml_controller_retrains_total",
    help: "Retrains on drift (AUTO_RETRAIN), by outcome (started, skipped, failed)",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of ["started", "skipped", "failed"]) retrains.inc({ outcome }, 0);
  return {
    registry,
    ticks: new Counter({
      name: "ml_controller_ticks_total",
      help: "Ticks of each control loop, by outcome (ok, error)",
      labelNames: ["loop", "outcome"],
      registers,
    }),
    tickSeconds: new Histogram({
      name: "ml_controller_tick_seconds",
      help: "Time one tick of a control loop took",
      labelNames: ["loop"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    decisions: new Counter({
      name: "ml_autoscale_decisions_total",
      help: "Autoscaling decisions, by direction (up, down, hold) and reason",
      labelNames: ["scaled", "direction", "reason"],
      registers,
    }),
    reversals: new Counter({
      name: "ml_autoscale_reversals_total",
      help: "Scale changes whose direction differs from the change before",
      ...perService,
    }),
    updatesFailed: new Counter({
      name: "ml_autoscale_updates_failed_total",
      help: "Service updates that the Docker API refused or that failed",
      ...perService,
    }),
    recommended: gauge(
      "ml_autoscale_recommended_replicas",
      "Replicas the inputs call for, unrounded and unclamped",
    ),
    desired: gauge("ml_autoscale_desired_replicas", "Replicas the inputs call for, within bounds"),
    replicas: gauge("ml_autoscale_replicas", "Replicas the service is set to"),
    running: gauge("ml_autoscale_running_replicas", "Tasks of the service that run"),
    minReplicas: gauge("ml_autoscale_min_replicas", "The policy's minimum"),
    maxReplicas: gauge("ml_autoscale_max_replicas", "The policy's maximum"),
    policyValid: gauge(
      "ml_autoscale_policy_valid",
      "1 while the service's ml.autoscale.* labels parse, 0 while they do not",
    ),
    inputsUsable: gauge(
      "ml_autoscale_inputs_usable",
      "1 while the inputs are fresh and complete, 0 while the autoscaler holds for them",
    ),
    inputAge: new Gauge({
      name: "ml_autoscale_input_age_seconds",
      help: "Age of the newest sample of an input (backlog, handler); NaN when missing",
      labelNames: ["scaled", "input"],
      registers,
    }),
    backlog: gauge("ml_autoscale_backlog_messages", "Ready plus unacknowledged, as last read"),
    arrivals: gauge(
      "ml_autoscale_arrivals_per_second",
      "Messages published to the queue per second",
    ),
    capacity: gauge(
      "ml_autoscale_capacity_per_replica",
      "Messages per second one replica settles when fully busy, as measured",
    ),
    lastChange: gauge(
      "ml_autoscale_last_change_timestamp_seconds",
      "When the autoscaler last changed the count",
    ),
    rolloutDecisions,
    alertsReceived: new Counter({
      name: "ml_controller_alerts_received_total",
      help: "Alerts Alertmanager sent to the controller, by alertname and status",
      labelNames: ["alertname", "status"],
      registers,
    }),
    retrains,
  };
}
