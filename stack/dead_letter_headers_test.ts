import assert from "node:assert/strict";
import {
  DEAD_LETTER_LIMITS,
  deadLetterCopy,
  type DeadLetterInput,
  minimalEnvelope,
} from "./dead_letter.ts";
import {
  DEAD_LETTER_HEADERS,
  describeDeadLetter,
  replayProperties,
} from "./dead_letter_headers.ts";

const encoder = new TextEncoder();

/** A bad prediction as model published it, about to be dead-lettered by metric. */
const INPUT: DeadLetterInput = {
  body: encoder.encode("not json"),
  properties: {
    messageId: "s-1",
    correlationId: "s-1",
    contentType: "application/json",
    timestamp: new Date(1_717_000_000_000),
    deliveryMode: 2,
    headers: { "sent-at-ms": 1.5, "model-version": "v1", replica: "model-1" },
  },
  queue: "y_pred",
  code: "malformed_json",
  reason: "body is not JSON: Unexpected token",
  replica: "metric-1",
  atMs: 1_717_000_000_500,
};

Deno.test("describeDeadLetter() reads the services' headers, then the broker's", async (t) => {
  await t.step("ours", () => {
    assert.deepEqual(
      describeDeadLetter({
        "dead-letter-code": "empty_body",
        "dead-letter-reason": "empty body",
        "dead-letter-queue": "features",
        "dead-lettered-at-ms": 1_717_000_000_500,
      }),
      {
        source: "features",
        code: "empty_body",
        reason: "empty body",
        atMs: 1_717_000_000_500,
        truncated: false,
      },
    );
  });
  await t.step("ours without a code, or with one not in the set, say unknown", () => {
    for (const code of [undefined, "expected 10 features, got 9", 7]) {
      const headers = { "dead-letter-code": code, "dead-letter-reason": "expected 10 features" };
      assert.equal(describeDeadLetter(headers).code, "unknown");
    }
  });
  await t.step("the broker's, for a reject without requeue", () => {
    assert.deepEqual(
      describeDeadLetter({ "x-first-death-queue": "y_true", "x-first-death-reason": "rejected" }),
      { source: "y_true", code: "rejected", reason: "rejected by the broker", truncated: false },
    );
  });
  await t.step("the broker's time comes from its newest x-death entry", () => {
    const info = describeDeadLetter({
      "x-death": [{ time: new Date(2_000) }, { time: new Date(1_000) }],
      "x-first-death-reason": "expired",
    });
    assert.equal(info.code, "expired");
    assert.equal(info.atMs, 2_000);
  });
  await t.step("a broker reason not in the set is unknown", () => {
    assert.equal(describeDeadLetter({ "x-first-death-reason": "\x1b[31m" }).code, "unknown");
  });
  await t.step("the broker's, for a quorum queue's delivery limit, explained", () => {
    const info = describeDeadLetter({
      "x-first-death-queue": "features",
      "x-first-death-reason": "delivery_limit",
    });
    assert.equal(info.source, "features");
    assert.match(info.reason, /^delivery_limit by the broker: delivered more times than/);
    assert.equal(info.code, "delivery_limit");
  });
  await t.step("truncated, and nothing known", () => {
    assert.equal(describeDeadLetter({ "dead-letter-truncated": 70000 }).truncated, true);
    assert.deepEqual(describeDeadLetter(undefined), {
      source: "",
      code: "unknown",
      reason: "unknown",
      truncated: false,
    });
  });
});

Deno.test("replayProperties() keeps the ids and strips every dead-letter header", () => {
  const timestamp = new Date(1_700_000_000_000);
  const properties = replayProperties({
    messageId: "s-1",
    correlationId: "s-1",
    timestamp,
    contentType: "application/json",
    deliveryMode: 1,
    headers: {
      "sent-at-ms": 12.5,
      "model-version": "v1",
      "dead-letter-reason": "x",
      "dead-letter-queue": "y_pred",
      "dead-letter-truncated": 9,
      "dead-letter-headers-cut": 3,
      "dead-letter-minimal": "Offset is outside the bounds of the DataView",
      "dead-letter-replica": "metric",
      "x-death": [{ queue: "y_pred" }],
      "x-first-death-queue": "y_pred",
      "x-first-death-reason": "rejected",
      "x-first-death-exchange": "",
    },
  });
  assert.deepEqual(properties, {
    messageId: "s-1",
    correlationId: "s-1",
    timestamp,
    contentType: "application/json",
    deliveryMode: 2,
    headers: { "sent-at-ms": 12.5, "model-version": "v1" },
  });
  assert.ok(DEAD_LETTER_HEADERS.includes("dead-letter-reason"));
});

Deno.test("a dead-letter copy reads back as its source, reason and original headers", async (t) => {
  await t.step("a copy with everything kept", () => {
    const copy = deadLetterCopy(INPUT);
    assert.deepEqual(describeDeadLetter(copy.properties.headers), {
      source: "y_pred",
      code: "malformed_json",
      reason: "body is not JSON: Unexpected token",
      atMs: 1_717_000_000_500,
      truncated: false,
    });
    assert.deepEqual(replayProperties(copy.properties), INPUT.properties);
  });
  await t.step("a copy whose body was cut reads as truncated", () => {
    const body = new Uint8Array(DEAD_LETTER_LIMITS.maxBodyBytes + 1);
    const copy = deadLetterCopy({ ...INPUT, body });
    assert.equal(describeDeadLetter(copy.properties.headers).truncated, true);
    assert.deepEqual(replayProperties(copy.properties).headers, INPUT.properties.headers);
  });
  await t.step("a minimal envelope reads back too, with no header of its own left", () => {
    const envelope = minimalEnvelope(
      { ...INPUT, body: new Uint8Array(5000) },
      "Offset is outside the bounds of the DataView",
    );
    assert.deepEqual(describeDeadLetter(envelope.properties.headers), {
      source: "y_pred",
      code: "malformed_json",
      reason: "body is not JSON: Unexpected token",
      atMs: 1_717_000_000_500,
      truncated: true,
    });
    assert.deepEqual(replayProperties(envelope.properties).headers, {});
  });
});

Deno.test("every header the dead-letter writer adds is one the reader strips", () => {
  const manyHeaders = Object.fromEntries(
    Array.from({ length: 100 }, (_, i) => [`h${i}`, "x".repeat(300)]),
  );
  const bigBody = new Uint8Array(DEAD_LETTER_LIMITS.maxBodyBytes + 1);
  // Every header the writer can set: the body cut, headers cut, and the minimal envelope.
  const written = [
    deadLetterCopy({ ...INPUT, body: bigBody, properties: { headers: manyHeaders } }),
    minimalEnvelope({ ...INPUT, body: bigBody }, "failed"),
  ].flatMap((outgoing) => Object.keys(outgoing.properties.headers ?? {}))
    .filter((name) => !(name in manyHeaders));
  assert.deepEqual(
    [...new Set(written)].sort(),
    [
      "dead-letter-code",
      "dead-letter-headers-cut",
      "dead-letter-minimal",
      "dead-letter-queue",
      "dead-letter-reason",
      "dead-letter-replica",
      "dead-letter-truncated",
      "dead-lettered-at-ms",
    ],
  );
  for (const name of written) assert.ok(DEAD_LETTER_HEADERS.includes(name), name);
});
