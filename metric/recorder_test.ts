import assert from "node:assert/strict";
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { DeadLetter, type Delivery } from "../stack/broker.ts";
import { Pairer } from "./pairing/pairer.ts";
import { type FakeDelivery, fakeDelivery } from "./fake_delivery.ts";
import type { PairRecord } from "./metric_log/format.ts";
import { Recorder, type RecorderOptions } from "./recorder.ts";

function delivery(
  queue: "y_true" | "y_pred",
  body: string,
  properties: AMQPProperties,
  live = true,
): FakeDelivery {
  return fakeDelivery(queue, body, properties, live);
}

const truth = (id: string, value = 151, live = true) =>
  delivery("y_true", String(value), { messageId: id, headers: { "sent-at-ms": 990 } }, live);
const INPUTS = "[0.5,0,0,0,0,0,0,0,0,-0.5]";
const prediction = (id: string, value = 160, live = true, inputs: string | null = INPUTS) =>
  delivery("y_pred", String(value), {
    messageId: id,
    correlationId: id,
    headers: {
      "model-version": "v1",
      replica: "model-1",
      ...(inputs === null ? {} : { inputs }),
    },
  }, live);

function harness(overrides: Partial<RecorderOptions> = {}) {
  const rows: string[] = [];
  const labels: string[] = [];
  const added: PairRecord[] = [];
  const lines: { level: string; message: string; properties: Record<string, unknown> }[] = [];
  const clock = { time: 0 };
  const line = (level: string) => (message: string, properties: Record<string, unknown>) =>
    lines.push({ level, message, properties });
  const pairer = new Pairer<Delivery>({ ttlMs: 100, seenCapacity: 10 });
  const observed: string[] = [];
  const recorder = new Recorder({
    pairer,
    metrics: {
      recorded: (record) => observed.push(`recorded ${record.id}`),
      duplicate: (queue) => observed.push(`duplicate ${queue}`),
    },
    stats: { add: (record) => added.push(record) },
    appendRow: (row) => {
      rows.push(row);
      return Promise.resolve();
    },
    appendLabel: (label) => {
      labels.push(label);
      return Promise.resolve();
    },
    csvPath: "logs/metric_log.csv",
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
    log: { debug: line("debug"), info: line("info"), error: line("error"), fatal: line("fatal") },
    now: () => clock.time,
    wallClockMs: () => 1000,
    maxBodyBytes: 4096,
    unpairedTtlMs: 100,
    ...overrides,
  });
  return { recorder, pairer, rows, labels, added, lines, clock, observed };
}

Deno.test("Recorder writes a pair's row before acking its two messages", async (t) => {
  await t.step("truth first, then prediction", async () => {
    const h = harness();
    const first = truth("a");
    assert.equal(h.recorder.handler("y_true")(first), undefined, "waits for its other half");
    assert.deepEqual(first.settled, []);
    const second = prediction("a");
    await h.recorder.handler("y_pred")(second);
    assert.deepEqual(h.rows, [
      "a,151,160,9,v1,model-1,10.000,1970-01-01T00:00:01.000Z,0.5,0,0,0,0,0,0,0,0,-0.5",
    ]);
    assert.equal(h.added.length, 1);
    assert.deepEqual(h.observed, ["recorded a"]);
    assert.deepEqual([first.settled, second.settled], [["ack"], ["ack"]]);
    assert.deepEqual(h.labels, [
      "received 151 from queue y_true",
      "received 160 from queue y_pred",
    ]);
  });

  await t.step(
    "a prediction without its inputs is still recorded, with empty input cells",
    async () => {
      const h = harness();
      h.recorder.handler("y_true")(truth("n"));
      await h.recorder.handler("y_pred")(prediction("n", 160, true, null));
      assert.deepEqual(h.rows, [
        "n,151,160,9,v1,model-1,10.000,1970-01-01T00:00:01.000Z" + ",".repeat(10),
      ]);
      assert.equal(h.added[0].inputs, undefined);
    },
  );

  await t.step("prediction first, then truth", async () => {
    const h = harness();
    h.recorder.handler("y_pred")(prediction("b", 100));
    await h.recorder.handler("y_true")(truth("b", 90));
    assert.equal(h.rows.length, 1);
    assert.ok(h.rows[0].startsWith("b,90,100,10,v1,model-1,"));
  });

  await t.step("each value is logged with its id and queue", () => {
    const h = harness();
    h.recorder.handler("y_true")(truth("c"));
    assert.deepEqual(h.lines, [{
      level: "debug",
      message: "received 151 from queue y_true",
      properties: { id: "c", queue: "y_true", value: 151, redelivered: false },
    }]);
  });

  await t.step("a delivery whose channel closed is not acked", async () => {
    const h = harness();
    const gone = truth("d", 1, false);
    h.recorder.handler("y_true")(gone);
    const live = prediction("d");
    await h.recorder.handler("y_pred")(live);
    assert.deepEqual([gone.settled, live.settled], [[], ["ack"]]);
  });
});

Deno.test("Recorder drops duplicates and dead-letters what it cannot use", async (t) => {
  await t.step("a bad message throws DeadLetter with the reason", () => {
    const h = harness();
    assert.throws(
      () => h.recorder.handler("y_pred")(delivery("y_pred", "1", { messageId: "x" })),
      (error) =>
        error instanceof DeadLetter && error.code === "missing_id" &&
        error.reason === "missing correlationId",
    );
    assert.deepEqual(h.lines, []);
  });

  await t.step("a copy of a recorded half is acked, not recorded", async () => {
    const h = harness();
    h.recorder.handler("y_true")(truth("e"));
    await h.recorder.handler("y_pred")(prediction("e"));
    const again = truth("e");
    await h.recorder.handler("y_true")(again);
    assert.deepEqual(again.settled, ["ack"]);
    assert.equal(h.rows.length, 1);
    assert.deepEqual(h.observed, ["recorded e", "duplicate y_true"]);
  });

  await t.step("a second copy of a waiting half replaces the first, which is acked", async () => {
    const h = harness();
    const first = truth("f");
    h.recorder.handler("y_true")(first);
    await h.recorder.handler("y_true")(truth("f"));
    assert.deepEqual(first.settled, ["ack"]);
    assert.equal(h.pairer.pendingCount, 1);
    assert.deepEqual(h.observed, ["duplicate y_true"]);
  });

  await t.step("expire() dead-letters halves left waiting past the TTL", () => {
    const h = harness();
    const lonely = truth("g");
    const gone = prediction("h", 1, false);
    h.recorder.handler("y_true")(lonely);
    h.recorder.handler("y_pred")(gone);
    h.clock.time = 50;
    h.recorder.expire();
    assert.deepEqual(lonely.settled, []);
    h.clock.time = 101;
    h.recorder.expire();
    assert.deepEqual(lonely.settled, [
      "dead-letter unpaired: unpaired: no y_pred for this id within 100 ms",
    ]);
    assert.deepEqual(gone.settled, [], "a closed channel's delivery comes again by itself");
  });

  await t.step("forgetPending() drops waiting halves and says so", () => {
    const h = harness();
    h.recorder.forgetPending();
    assert.deepEqual(h.lines, []);
    h.recorder.handler("y_true")(truth("i"));
    h.recorder.forgetPending();
    assert.equal(h.pairer.pendingCount, 0);
    assert.deepEqual(h.lines.at(-1), {
      level: "info",
      message: "forgot {dropped} waiting halves; the broker delivers them again",
      properties: { dropped: 1 },
    });
  });
});

Deno.test("Recorder exits without acking when the row cannot be written", async () => {
  const h = harness({ appendRow: () => Promise.reject(new Error("disk full")) });
  const first = truth("j");
  h.recorder.handler("y_true")(first);
  const second = prediction("j");
  await assert.rejects(async () => await h.recorder.handler("y_pred")(second), /exit 1/);
  assert.deepEqual([first.settled, second.settled], [[], []]);
  assert.deepEqual(h.observed, [], "a row not written is not counted");
  assert.deepEqual(h.lines.at(-1), {
    level: "fatal",
    message: "cannot write {path}: {error}; exiting so the broker redelivers",
    properties: { path: "logs/metric_log.csv", error: "disk full" },
  });
});

Deno.test("Recorder reports each pair's hops once its row is written and both halves acked", async () => {
  const hops: unknown[] = [];
  const clock = { time: 0 };
  const slowAppend = harness({
    metrics: { recorded: () => {}, duplicate: () => {}, hops: (durations) => hops.push(durations) },
    // The write takes 3 ms of metric's monotonic clock.
    appendRow: () => {
      clock.time += 3;
      return Promise.resolve();
    },
    now: () => clock.time,
  });
  slowAppend.recorder.handler("y_true")(truth("k"));
  await slowAppend.recorder.handler("y_pred")(
    delivery("y_pred", "160", {
      correlationId: "k",
      headers: { "sent-at-ms": 980, "received-at-ms": 992, "predicted-at-ms": 995.5 },
    }),
  );
  // Sent at 990 (the truth's own stamp wins), received 992, predicted 995.5, paired at 1000.
  assert.deepEqual(hops, [{ features_to_model: 2, model: 3.5, model_to_metric: 4.5, metric: 3 }]);
});
