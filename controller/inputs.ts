/**
 * The autoscaler's inputs as one PromQL query, evaluated at one instant so that they agree with
 * each other, and its answer read back into {@link Reading}. Pure: the HTTP call is
 * `prometheus.ts`'s.
 *
 * Where each input comes from:
 * - backlog: `rabbitmq_detailed_queue_messages_ready` and `_unacked` of the queue (the broker's
 *   rabbitmq_prometheus plugin, its /metrics/detailed queue families, which Prometheus scrapes
 *   every 5 s as job `rabbitmq-queues`);
 * - arrivals: `rabbitmq_detailed_queue_messages_published_total` of the queue, as a rate over
 *   the window and between its last two samples (per channel, so summed);
 * - capacity: the consumers' own `ml_handler_seconds` histogram (stack/telemetry.ts), its
 *   count and sum as rates: settled per second, and seconds spent in handlers per second.
 *   RabbitMQ's consumer utilisation would not do: it reads 0 on quorum queues.
 * - freshness: `timestamp()` of the newest backlog and handler samples. A scrape target that
 *   is gone has no samples at all (Prometheus marks them stale): that is "missing".
 *
 * @module
 */
import type { Inputs, Reading } from "./decide.ts";
import type { Policy } from "./policy.ts";

/** The `input` label of each series the query returns. */
const PARTS = [
  "ready",
  "unacked",
  "arrivals",
  "recent_arrivals",
  "handled",
  "busy",
  "backlog_age",
  "handler_age",
] as const;

type Part = typeof PARTS[number];

/** A PromQL string literal. */
function literal(text: string): string {
  return JSON.stringify(text);
}

/**
 * The one query that reads every input of `policy`'s service, each series tagged with an
 * `input` label; rates over `rateWindowSeconds`.
 */
export function inputsQuery(policy: Policy, rateWindowSeconds: number): string {
  const queue = `queue=${literal(policy.queue)}`;
  const broker = `{vhost=${literal(policy.vhost)},${queue}}`;
  const published = `{queue_vhost=${literal(policy.vhost)},${queue}}`;
  const handler = `{job=${literal(policy.job)},${queue}}`;
  const w = `[${rateWindowSeconds}s]`;
  const parts: Record<Part, string> = {
    // max: in a cluster more than one member may report a queue.
    ready: `max(rabbitmq_detailed_queue_messages_ready${broker})`,
    unacked: `max(rabbitmq_detailed_queue_messages_unacked${broker})`,
    arrivals: `sum(rate(rabbitmq_detailed_queue_messages_published_total${published}${w}))`,
    recent_arrivals: `sum(irate(rabbitmq_detailed_queue_messages_published_total${published}${w}))`,
    handled: `sum(rate(ml_handler_seconds_count${handler}${w}))`,
    busy: `sum(rate(ml_handler_seconds_sum${handler}${w}))`,
    backlog_age: `time() - max(timestamp(rabbitmq_detailed_queue_messages_ready${broker}))`,
    handler_age: `time() - max(timestamp(ml_handler_seconds_count${handler}))`,
  };
  return PARTS.map((part) => `label_replace(${parts[part]}, "input", "${part}", "", "")`)
    .join(" or ");
}

/** One series of an instant query's answer. */
export interface VectorSample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: readonly [number, string];
}

/**
 * The inputs in the answer to {@link inputsQuery}. No arrivals series means nothing was
 * published in the window (no publisher channel): 0. Every other part must be there, or the
 * reading names what is missing.
 */
export function readInputs(samples: readonly VectorSample[]): Reading {
  const values = new Map<string, number>();
  for (const sample of samples) {
    const part = sample.metric.input;
    const value = Number(sample.value[1]);
    if (part !== undefined && Number.isFinite(value)) values.set(part, value);
  }
  for (const part of ["arrivals", "recent_arrivals"]) {
    if (!values.has(part) && values.has("ready")) values.set(part, 0);
  }
  const missing = PARTS.filter((part) => !values.has(part));
  if (missing.length > 0) return { ok: false, missing };
  const get = (part: Part) => values.get(part)!;
  const inputs: Inputs = {
    ready: get("ready"),
    unacked: get("unacked"),
    arrivalsPerSecond: get("arrivals"),
    recentArrivalsPerSecond: get("recent_arrivals"),
    handledPerSecond: get("handled"),
    busySeconds: get("busy"),
    backlogAgeSeconds: get("backlog_age"),
    handlerAgeSeconds: get("handler_age"),
  };
  return { ok: true, inputs };
}
