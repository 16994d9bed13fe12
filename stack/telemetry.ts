/**
 * Prometheus metrics every service exposes on `/metrics` (prom-client).
 *
 * One registry per process, labelled with `service` and `replica`, so a
 * scrape of three model replicas adds up without relabelling.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { logLinesDropped } from "./log.ts";

/**
 * Upper bounds, in seconds, of the histograms of short durations (a handler, one hop of a
 * sample): steps of about 1.5× between 1 and 50 ms, where a healthy pipeline on one machine
 * spends its time, so a p99 read from them is within half a step; coarse above, up to a
 * backlog's 5 s.
 */
export const MILLISECOND_BUCKETS: readonly number[] = [
  0.00025,
  0.0005,
  0.001,
  0.0015,
  0.002,
  0.003,
  0.005,
  0.0075,
  0.01,
  0.015,
  0.02,
  0.03,
  0.05,
  0.1,
  0.25,
  1,
  5,
];

/** The counters and histograms the broker door and the services update. */
export interface Telemetry {
  readonly registry: Registry;
  /** Deliveries taken from a queue. */
  readonly messagesIn: Counter<"queue">;
  /** Publishes confirmed by the broker. */
  readonly messagesOut: Counter<"queue">;
  /** Deliveries dead-lettered, by the queue they came from and a short reason. */
  readonly deadLettered: Counter<"queue" | "reason">;
  /** Connections made after the first. */
  readonly reconnects: Counter;
  /**
   * 1 while connected to the broker with every channel open, so the service
   * can consume and publish; 0 while it recovers. Readiness: `/readyz`
   * answers 200 exactly when this is 1.
   */
  readonly connected: Gauge;
  /**
   * One series per broker listed in `AMQP_URL` (`host:port`): 1 for the
   * member in use, connected to or being tried; 0 for the others.
   */
  readonly brokerMember: Gauge<"member">;
  /**
   * Channels the broker closed (e.g. 406 PRECONDITION_FAILED) or consumers
   * it cancelled, by channel (`publish` or the consumed queue). Each one
   * makes the door drop the connection and reconnect.
   */
  readonly channelCloses: Counter<"channel">;
  /** Time from delivery to settle (ack or dead-letter), by queue. */
  readonly handlerSeconds: Histogram<"queue">;
  /** Log lines dropped because stdout could not keep up (stack/log.ts). */
  readonly logLinesDropped: Counter;
}

/** What the process gauges read; tests pass constants. */
export interface ProcessFacts {
  /** The container's memory limit in bytes, 0 when none (`MEMORY_LIMIT_BYTES`). */
  memoryLimitBytes?: number;
  /** Resident set in bytes, now (default: `Deno.memoryUsage().rss`). */
  residentBytes?: () => number;
  /** When the process started, seconds since the epoch (default: `performance.timeOrigin`). */
  startTimeSeconds?: number;
}

/**
 * Registers the process gauges every service's alerts read (resident memory, start time, the
 * container's memory limit) on `registry`: the services' telemetry and the controller's share them.
 */
export function registerProcessGauges(registry: Registry, facts: ProcessFacts = {}): void {
  const registers = [registry];
  const residentBytes = facts.residentBytes ?? (() => Deno.memoryUsage().rss);
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes",
    registers,
    collect() {
      this.set(residentBytes());
    },
  }).set(0);
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since the Unix epoch, in seconds",
    registers,
  }).set(facts.startTimeSeconds ?? performance.timeOrigin / 1000);
  new Gauge({
    name: "ml_memory_limit_bytes",
    help: "The container's memory limit in bytes (cgroup), 0 when there is none",
    registers,
  }).set(facts.memoryLimitBytes ?? 0);
}

/**
 * Creates the registry and the metrics shared by all services, with the
 * process gauges the alert rules read: `process_resident_memory_bytes`
 * against `ml_memory_limit_bytes` (NearMemoryLimit), and
 * `process_start_time_seconds`, whose changes count restarts
 * (ServiceRestarting).
 */
export function createTelemetry(
  service: string,
  replica: string,
  facts: ProcessFacts = {},
): Telemetry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, replica });
  const registers = [registry];
  registerProcessGauges(registry, facts);
  return {
    registry,
    messagesIn: new Counter({
      name: "ml_messages_in_total",
      help: "Deliveries taken from a queue",
      labelNames: ["queue"],
      registers,
    }),
    messagesOut: new Counter({
      name: "ml_messages_out_total",
      help: "Publishes confirmed by the broker",
      labelNames: ["queue"],
      registers,
    }),
    deadLettered: new Counter({
      name: "ml_dead_lettered_total",
      help: "Deliveries sent to the dead-letter queue",
      labelNames: ["queue", "reason"],
      registers,
    }),
    reconnects: new Counter({
      name: "ml_broker_reconnects_total",
      help: "Broker connections made after the first",
      registers,
    }),
    connected: new Gauge({
      name: "ml_broker_connected",
      help: "1 while connected to the broker with every channel open: ready (/readyz answers 200)",
      registers,
    }),
    brokerMember: new Gauge({
      name: "ml_broker_member",
      help: "1 for the broker (of those AMQP_URL lists) in use, connected to or being tried",
      labelNames: ["member"],
      registers,
    }),
    channelCloses: new Counter({
      name: "ml_broker_channel_closes_total",
      help: "Channels closed or consumers cancelled by the broker; each one forces a reconnect",
      labelNames: ["channel"],
      registers,
    }),
    handlerSeconds: new Histogram({
      name: "ml_handler_seconds",
      help: "Time from delivery to acknowledgement",
      labelNames: ["queue"],
      buckets: [...MILLISECOND_BUCKETS],
      registers,
    }),
    logLinesDropped: new Counter({
      name: "ml_log_lines_dropped_total",
      help: "Log lines dropped because the log sink could not keep up",
      registers,
      // Read at scrape time from the sink's own count.
      collect() {
        this.reset();
        this.inc(logLinesDropped());
      },
    }),
  };
}
