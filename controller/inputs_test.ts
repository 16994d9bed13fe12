import assert from "node:assert/strict";
import { inputsQuery, readInputs, type VectorSample } from "./inputs.ts";
import type { Policy } from "./policy.ts";

const POLICY = { queue: "features", vhost: "/", job: "model" } as Policy;

function sample(input: string, value: string): VectorSample {
  return { metric: { input }, value: [1, value] };
}

Deno.test("inputsQuery() reads the queue's backlog and arrivals and the job's handler histogram", () => {
  const query = inputsQuery(POLICY, 20);
  for (
    const part of [
      'label_replace(max(rabbitmq_detailed_queue_messages_ready{vhost="/",queue="features"}), "input", "ready", "", "")',
      'max(rabbitmq_detailed_queue_messages_unacked{vhost="/",queue="features"})',
      'sum(rate(rabbitmq_detailed_queue_messages_published_total{queue_vhost="/",queue="features"}[20s]))',
      'sum(irate(rabbitmq_detailed_queue_messages_published_total{queue_vhost="/",queue="features"}[20s]))',
      'sum(rate(ml_handler_seconds_count{job="model",queue="features"}[20s]))',
      'sum(rate(ml_handler_seconds_sum{job="model",queue="features"}[20s]))',
      'time() - max(timestamp(rabbitmq_detailed_queue_messages_ready{vhost="/",queue="features"}))',
      'time() - max(timestamp(ml_handler_seconds_count{job="model",queue="features"}))',
    ]
  ) assert.ok(query.includes(part), part);
  assert.equal(query.split(" or ").length, 8);
});

Deno.test("readInputs() reads every part", () => {
  const reading = readInputs([
    sample("ready", "120"),
    sample("unacked", "4"),
    sample("arrivals", "60.5"),
    sample("recent_arrivals", "61"),
    sample("handled", "16"),
    sample("busy", "0.98"),
    sample("backlog_age", "3.2"),
    sample("handler_age", "1.1"),
  ]);
  assert.deepEqual(reading, {
    ok: true,
    inputs: {
      ready: 120,
      unacked: 4,
      arrivalsPerSecond: 60.5,
      recentArrivalsPerSecond: 61,
      handledPerSecond: 16,
      busySeconds: 0.98,
      backlogAgeSeconds: 3.2,
      handlerAgeSeconds: 1.1,
    },
  });
});

Deno.test("readInputs() takes no arrivals series as nothing published", () => {
  const reading = readInputs(
    ["ready", "unacked", "handled", "busy", "backlog_age", "handler_age"].map((p) =>
      sample(p, "1")
    ),
  );
  assert.equal(reading.ok && reading.inputs.arrivalsPerSecond, 0);
  assert.equal(reading.ok && reading.inputs.recentArrivalsPerSecond, 0);
});

Deno.test("readInputs() names what is missing: a target gone, or values that are not numbers", () => {
  assert.deepEqual(readInputs([sample("ready", "1"), sample("unacked", "NaN")]), {
    ok: false,
    missing: ["unacked", "handled", "busy", "backlog_age", "handler_age"],
  });
  assert.deepEqual(readInputs([]).ok, false);
});
