import assert from "node:assert/strict";
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { deadLetterCopy, type DeadLetterInput, minimalEnvelope } from "./dead_letter.ts";
import { REASON_CODES, type ReasonCode } from "./dead_letter_reasons.ts";
import {
  createDelivery,
  DeadLetter,
  type Handler,
  type MessageLike,
  type PublisherLike,
  settle,
  type SettleContext,
} from "./settle.ts";
import { createTelemetry } from "./telemetry.ts";
import { DEAD_LETTER_EXCHANGE } from "./topology.ts";

const QUEUE = "features";
const BODY = new TextEncoder().encode("[1,2,3]");
const PROPERTIES: AMQPProperties = { messageId: "m-1", headers: { "x-origin": "test" } };

/** The wall clock of every dead letter in these tests. */
const NOW_MS = 1_717_000_000_500;

/** What the dead-letter input of the test message is, with `code` and `reason`. */
function input(code: ReasonCode, reason: string): DeadLetterInput {
  return {
    body: BODY,
    properties: PROPERTIES,
    queue: QUEUE,
    code,
    reason,
    replica: "model-1",
    atMs: NOW_MS,
  };
}

/** A message that settles without a trace: for tests that count, not watch. */
function fakeMessage(): MessageLike {
  return {
    body: BODY,
    properties: PROPERTIES,
    redelivered: false,
    channel: { closed: false },
    ack: () => Promise.resolve(),
    reject: () => Promise.resolve(),
  };
}

/** How the publish channel answers each publish, in turn (then: confirm). */
type Outcome = "confirm" | "nack" | "cannot encode" | "no confirm";

/** A message, a publish channel and a context that record what settling does to them. */
function fakes(outcomes: Outcome[] = [], options: { clock?: number[] } = {}) {
  const settled: string[] = [];
  const published: { exchange: string; routingKey: string; body: unknown; properties: unknown }[] =
    [];
  const logs: { level: string; message: string; properties: Record<string, unknown> }[] = [];
  const channel = { closed: false };
  const message: MessageLike = {
    body: BODY,
    properties: PROPERTIES,
    redelivered: false,
    channel,
    ack() {
      settled.push("ack");
      return Promise.resolve();
    },
    reject(requeue) {
      settled.push(`reject requeue=${requeue}`);
      return Promise.resolve();
    },
  };
  const publisher: PublisherLike & { closed: boolean } = {
    closed: false,
    basicPublish(exchange, routingKey, body, properties) {
      const outcome = outcomes.shift() ?? "confirm";
      if (outcome === "cannot encode") throw new RangeError("frame too large");
      published.push({ exchange, routingKey, body, properties });
      if (outcome === "nack") return Promise.reject(new Error("nacked"));
      if (outcome === "no confirm") return new Promise(() => {});
      return Promise.resolve(1);
    },
  };
  const record = (level: string) => (message: string, properties: Record<string, unknown>) =>
    logs.push({ level, message, properties });
  const telemetry = createTelemetry("test", "model-1");
  const clock = options.clock ?? [];
  let connected: PublisherLike | undefined = publisher;
  const context: SettleContext = {
    replica: "model-1",
    log: { info: record("info"), warn: record("warn"), error: record("error") },
    telemetry,
    publisher: () => connected,
    deadLetterTimeoutMs: 5,
    now: () => clock.shift() ?? 0,
    wallClockMs: () => NOW_MS,
  };
  const delivery = createDelivery(QUEUE, message, context);
  return {
    delivery,
    context,
    channel,
    publisher,
    settled,
    published,
    logs,
    telemetry,
    disconnect: () => connected = undefined,
    /** Runs `handler` on the delivery as the door does, with auto-ack. */
    run: (handler: Handler, manualSettle = false) =>
      settle(handler, delivery, manualSettle, context),
    deadLettered: async () =>
      (await telemetry.deadLettered.get()).values.map(({ labels, value }) => ({ labels, value })),
  };
}

function fail(error: unknown): Handler {
  return () => {
    throw error;
  };
}

Deno.test("settle() acks a delivery whose handler returned", async () => {
  const f = fakes();
  await f.run(() => {});
  assert.deepEqual(f.settled, ["ack"]);
  assert.deepEqual(f.published, []);
});

Deno.test("settle() leaves a delivery to a handler that settles it itself", async () => {
  const f = fakes();
  await f.run(() => {}, true);
  assert.deepEqual(f.settled, []);
  await f.run((delivery) => delivery.ack(), true);
  assert.deepEqual(f.settled, ["ack"]);
});

Deno.test("settle() dead-letters a copy with the code and reason of a DeadLetter, then acks", async () => {
  const f = fakes();
  await f.run(fail(new DeadLetter("wrong_length", "expected 10 features, got 9")));
  const copy = deadLetterCopy(input("wrong_length", "expected 10 features, got 9"));
  assert.deepEqual(f.published, [
    { exchange: DEAD_LETTER_EXCHANGE, routingKey: QUEUE, ...copy },
  ]);
  assert.deepEqual(f.settled, ["ack"]);
  assert.deepEqual(await f.deadLettered(), [
    { labels: { queue: QUEUE, reason: "wrong_length" }, value: 1 },
  ]);
  const warning = f.logs.find((line) => line.level === "warn");
  assert.equal(warning?.properties.how, "a copy");
  assert.equal(warning?.properties.deadLetterQueue, "dead_letter");
  assert.equal(warning?.properties.code, "wrong_length");
  assert.equal(warning?.properties.reason, "expected 10 features, got 9");
});

Deno.test("settle() labels dead letters by code only, however many details", async () => {
  const f = fakes();
  for (let length = 11; length < 311; length++) {
    const delivery = createDelivery(QUEUE, { ...fakeMessage(), properties: PROPERTIES }, f.context);
    await settle(
      fail(new DeadLetter("wrong_length", `expected 10 features, got ${length}`)),
      delivery,
      false,
      f.context,
    );
  }
  const series = await f.deadLettered();
  assert.deepEqual(series, [{ labels: { queue: QUEUE, reason: "wrong_length" }, value: 300 }]);
  assert.ok(REASON_CODES.includes(series[0].labels.reason as ReasonCode));
});

Deno.test("Delivery.deadLetter() labels a code outside the set as unknown", async () => {
  const f = fakes();
  await f.delivery.deadLetter("expected 10 features, got 9" as ReasonCode, "from untyped code");
  assert.deepEqual((await f.deadLettered())[0].labels, { queue: QUEUE, reason: "unknown" });
});

Deno.test("settle() logs and heads a dead letter with its detail and id printable", async () => {
  const f = fakes();
  const hostile = { ...PROPERTIES, messageId: "m-\x1b]0;pwned\x07" };
  const delivery = createDelivery(QUEUE, { ...fakeMessage(), properties: hostile }, f.context);
  await settle(
    fail(new DeadLetter("wrong_type", 'expected one finite number, got "\x1b[31m\u202e"')),
    delivery,
    false,
    f.context,
  );
  const warning = f.logs.find((line) => line.level === "warn");
  assert.equal(warning?.properties.id, "m-\\u{1b}]0;pwned\\u{7}");
  assert.equal(
    warning?.properties.reason,
    'expected one finite number, got "\\u{1b}[31m\\u{202e}"',
  );
  const headers = (f.published[0].properties as AMQPProperties).headers!;
  assert.equal(headers["dead-letter-reason"], warning?.properties.reason);
  assert.equal(headers["dead-letter-code"], "wrong_type");
});

Deno.test("settle() dead-letters a copy of a message whose handler failed otherwise", async () => {
  const f = fakes();
  await f.run(fail(new TypeError("boom")));
  assert.deepEqual(
    f.published[0]?.properties,
    deadLetterCopy(input("handler_failed", "handler failed: boom")).properties,
  );
  assert.deepEqual(f.settled, ["ack"]);
  assert.deepEqual((await f.deadLettered())[0].labels, { queue: QUEUE, reason: "handler_failed" });
});

Deno.test("settle() falls back to a minimal envelope when the copy is not confirmed", async (t) => {
  const cases: [Outcome, string][] = [
    ["nack", "nacked"],
    ["cannot encode", "frame too large"],
    ["no confirm", "no confirm within 5 ms"],
  ];
  for (const [outcome, failure] of cases) {
    await t.step(`the copy: ${outcome}`, async () => {
      const f = fakes([outcome]);
      await f.run(fail(new DeadLetter("malformed_json", "bad input")));
      const envelope = minimalEnvelope(input("malformed_json", "bad input"), failure);
      assert.deepEqual(f.published.at(-1), {
        exchange: DEAD_LETTER_EXCHANGE,
        routingKey: QUEUE,
        ...envelope,
      });
      assert.deepEqual(f.settled, ["ack"]);
      assert.equal(
        f.logs.find((line) => line.level === "warn")?.properties.how,
        "a minimal envelope",
      );
      assert.equal(f.logs.find((line) => line.level === "error")?.properties.error, failure);
      assert.equal((await f.deadLettered())[0].value, 1);
    });
  }
});

Deno.test("settle() rejects without requeue when neither copy nor envelope is confirmed", async () => {
  const f = fakes(["nack", "cannot encode"]);
  await f.run(fail(new DeadLetter("malformed_json", "bad input")));
  assert.deepEqual(f.settled, ["reject requeue=false"]);
  assert.equal(f.logs.find((line) => line.level === "warn")?.properties.how, "the broker");
  assert.equal(f.logs.filter((line) => line.level === "error").length, 2);
  assert.equal((await f.deadLettered())[0].value, 1, "counted: it leaves through the broker");
});

Deno.test("settle() leaves a failed delivery to be redelivered when its channel closed", async () => {
  const f = fakes();
  f.channel.closed = true;
  assert.equal(f.delivery.live, false);
  await f.run(fail(new DeadLetter("malformed_json", "bad input")));
  assert.deepEqual(f.published, []);
  assert.deepEqual(f.settled, []);
  assert.equal(f.logs[0].level, "info");
  assert.match(f.logs[0].message, /to be redelivered/);
  assert.deepEqual(await f.deadLettered(), []);
});

Deno.test("settle() leaves a failed delivery to be redelivered when the publish channel is gone", async (t) => {
  await t.step("closed", async () => {
    const f = fakes();
    f.publisher.closed = true;
    await f.run(fail(new DeadLetter("malformed_json", "bad input")));
    assert.deepEqual([f.published, f.settled], [[], []]);
    assert.match(f.logs[0].message, /to be redelivered/);
  });
  await t.step("none (reconnecting)", async () => {
    const f = fakes();
    f.disconnect();
    await f.run(fail(new DeadLetter("malformed_json", "bad input")));
    assert.deepEqual([f.published, f.settled], [[], []]);
  });
});

Deno.test("Delivery.deadLetter() throws when not connected and leaves the delivery unsettled", async () => {
  const f = fakes();
  f.disconnect();
  await assert.rejects(
    f.delivery.deadLetter("unpaired", "unpaired"),
    new Error("Cannot dead-letter message 'm-1': not connected"),
  );
  await f.delivery.ack();
  assert.deepEqual(f.settled, ["ack"]);
});

Deno.test("a delivery settles once, whichever way comes first", async (t) => {
  await t.step("ack, then dead-letter", async () => {
    const f = fakes();
    await f.delivery.ack();
    await f.delivery.deadLetter("unpaired", "late");
    assert.deepEqual([f.settled, f.published], [["ack"], []]);
  });
  await t.step("dead-letter, then ack", async () => {
    const f = fakes();
    await f.delivery.deadLetter("unpaired", "unpaired");
    await f.delivery.ack();
    assert.deepEqual(f.settled, ["ack"]);
    assert.equal(f.published.length, 1);
  });
});

Deno.test("a delivery observes the time from its arrival to its settling", async () => {
  const f = fakes([], { clock: [1_000, 1_250] });
  assert.equal(f.delivery.receivedAt, 1_000);
  await f.delivery.ack();
  const { values } = await f.telemetry.handlerSeconds.get();
  const sum = values.find((value) => value.metricName === "ml_handler_seconds_sum");
  assert.equal(sum?.value, 0.25);
});

Deno.test("DeadLetter carries its code and reason", () => {
  const error = new DeadLetter("wrong_length", "expected 10 features, got 9");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "DeadLetter");
  assert.equal(error.code, "wrong_length");
  assert.equal(error.reason, "expected 10 features, got 9");
  assert.equal(error.message, "wrong_length: expected 10 features, got 9");
});
