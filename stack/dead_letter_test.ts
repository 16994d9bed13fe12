import assert from "node:assert/strict";
import {
  boundHeaders,
  DEAD_LETTER_LIMITS,
  deadLetterCopy,
  type DeadLetterInput,
  MINIMAL_BODY_BYTES,
  minimalEnvelope,
} from "./dead_letter.ts";

const encoder = new TextEncoder();

/** A message that carries every property the broker knows of. */
const HOSTILE: DeadLetterInput = {
  body: encoder.encode("not json"),
  properties: {
    messageId: "f-1",
    correlationId: "c-1",
    contentType: "application/json",
    contentEncoding: "identity",
    timestamp: new Date(1_717_000_000_000),
    appId: "features",
    type: "sample",
    userId: "somebody-else",
    expiration: "1000",
    priority: 9,
    replyTo: "amq.rabbitmq.reply-to",
    deliveryMode: 1,
    headers: { "sent-at-ms": 1.5, replica: "features-1", "dead-letter-reason": "spoofed" },
  },
  queue: "features",
  code: "malformed_json",
  reason: "body is not JSON: Unexpected token",
  replica: "model-1",
  atMs: 1_717_000_000_500,
};

Deno.test("deadLetterCopy() carries a defined set of properties", async (t) => {
  const copy = deadLetterCopy(HOSTILE);

  await t.step("the ids, content type and encoding, time stamp and sender", () => {
    const { headers: _, ...properties } = copy.properties;
    assert.deepEqual(properties, {
      messageId: "f-1",
      correlationId: "c-1",
      contentType: "application/json",
      contentEncoding: "identity",
      timestamp: new Date(1_717_000_000_000),
      appId: "features",
      type: "sample",
      deliveryMode: 2,
    });
  });
  await t.step("no expiration, user id, priority or reply address", () => {
    for (const name of ["expiration", "userId", "priority", "replyTo"] as const) {
      assert.equal(name in copy.properties, false, name);
    }
  });
  await t.step(
    "the original headers (the publisher's replica too), then the door's, which win",
    () => {
      assert.deepEqual(copy.properties.headers, {
        "sent-at-ms": 1.5,
        replica: "features-1",
        "dead-letter-code": "malformed_json",
        "dead-letter-reason": "body is not JSON: Unexpected token",
        "dead-lettered-at-ms": 1_717_000_000_500,
        "dead-letter-queue": "features",
        "dead-letter-replica": "model-1",
      });
    },
  );
  await t.step("the body as it was", () => {
    assert.equal(copy.body, HOSTILE.body);
  });
});

Deno.test("deadLetterCopy() leaves out ids and types the broker could not take back", () => {
  const copy = deadLetterCopy({
    ...HOSTILE,
    properties: { messageId: "é".repeat(200), timestamp: new Date(Number.NaN) },
  });
  assert.equal(copy.properties.messageId, undefined, "400 bytes do not fit a shortstr");
  assert.equal(copy.properties.timestamp, undefined);
});

Deno.test("deadLetterCopy() cuts a large body and says so", () => {
  const body = new Uint8Array(DEAD_LETTER_LIMITS.maxBodyBytes + 10);
  const copy = deadLetterCopy({ ...HOSTILE, body });
  assert.equal(copy.body!.byteLength, DEAD_LETTER_LIMITS.maxBodyBytes);
  assert.equal(copy.properties.headers!["dead-letter-truncated"], body.byteLength);
});

Deno.test("deadLetterCopy() bounds 1,000 headers of 12 KB and says what it cut", () => {
  const headers = Object.fromEntries(
    Array.from({ length: 1000 }, (_, i) => [`h${String(i).padStart(4, "0")}`, "x"]),
  );
  const copy = deadLetterCopy({ ...HOSTILE, properties: { messageId: "big", headers } });
  const kept = Object.keys(copy.properties.headers!).filter((name) => /^h\d{4}$/.test(name));
  assert.equal(kept.length, 64);
  assert.deepEqual(kept.slice(0, 2), ["h0000", "h0001"], "in their order");
  assert.equal(
    copy.properties.headers!["dead-letter-headers-cut"],
    "dropped 936 of 1000 headers, shortened 0 values",
  );
});

Deno.test("boundHeaders() keeps what fits and counts the rest", async (t) => {
  await t.step("no headers", () => {
    assert.deepEqual(boundHeaders(undefined), { headers: {}, total: 0, dropped: 0, truncated: 0 });
  });
  await t.step("at most maxHeaderBytes of names and values", () => {
    const headers = Object.fromEntries(
      Array.from({ length: 30 }, (_, i) => [`k${i}`, "v".repeat(250)]),
    );
    const bounded = boundHeaders(headers);
    const bytes = Object.entries(bounded.headers).reduce(
      (n, [k, v]) => n + k.length + String(v).length,
      0,
    );
    assert.ok(bytes <= DEAD_LETTER_LIMITS.maxHeaderBytes, `${bytes} bytes`);
    assert.equal(bounded.dropped, 30 - Object.keys(bounded.headers).length);
    assert.ok(bounded.dropped > 0);
  });
  await t.step("a long value cut to maxValueChars, a long name dropped", () => {
    const bounded = boundHeaders({ long: "a".repeat(1000), ["n".repeat(65)]: 1 });
    assert.equal(bounded.headers.long, `${"a".repeat(256)}…`);
    assert.deepEqual([bounded.dropped, bounded.truncated], [1, 1]);
  });
  await t.step("a cut never leaves half a surrogate pair", () => {
    const bounded = boundHeaders({ emoji: "😀".repeat(200) });
    const text = bounded.headers.emoji as string;
    assert.equal(text.isWellFormed(), true);
  });
  await t.step("values of every AMQP type become text, numbers, booleans or null", () => {
    const bounded = boundHeaders({
      text: "t",
      int: 7,
      double: 1.5,
      bool: true,
      nothing: null,
      missing: undefined,
      big: 2n ** 70n,
      date: new Date(0),
      bytes: new Uint8Array(12),
      table: { nested: { deep: [1, 2n] } },
      array: [1, "two"],
    });
    assert.deepEqual(bounded.headers, {
      text: "t",
      int: 7,
      double: 1.5,
      bool: true,
      nothing: null,
      missing: null,
      big: "1180591620717411303424",
      date: "1970-01-01T00:00:00.000Z",
      bytes: "(12 bytes)",
      table: '{"nested":{"deep":[1,"2"]}}',
      array: '[1,"two"]',
    });
    assert.equal(bounded.truncated, 5);
  });
  await t.step("a value that cannot be turned into JSON still becomes text", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.deepEqual(boundHeaders({ cyclic }).headers, { cyclic: "[object Object]" });
  });
});

Deno.test("deadLetterCopy() heads the reason printable and at most 200 characters", () => {
  const reason = `expected one finite number, got "\x1b]0;pwned\x07\x1b[31m${"x".repeat(300)}"`;
  const headers = deadLetterCopy({ ...HOSTILE, reason }).properties.headers!;
  const shown = String(headers["dead-letter-reason"]);
  assert.ok(shown.startsWith('expected one finite number, got "\\u{1b}]0;pwned\\u{7}\\u{1b}[31m'));
  assert.equal(shown.length, 200);
  assert.equal(headers["dead-letter-code"], "malformed_json");
});

Deno.test("minimalEnvelope() keeps the reason, queue, a safe id and the start of the body", async (t) => {
  await t.step("with a valid id", () => {
    const envelope = minimalEnvelope(
      { ...HOSTILE, body: new Uint8Array(5000) },
      "Offset is outside the bounds of the DataView",
    );
    assert.deepEqual(envelope.properties, {
      messageId: "f-1",
      deliveryMode: 2,
      headers: {
        "dead-letter-code": "malformed_json",
        "dead-letter-reason": "body is not JSON: Unexpected token",
        "dead-lettered-at-ms": 1_717_000_000_500,
        "dead-letter-queue": "features",
        "dead-letter-replica": "model-1",
        "dead-letter-minimal": "Offset is outside the bounds of the DataView",
        "dead-letter-truncated": 5000,
      },
    });
    assert.equal(envelope.body!.byteLength, MINIMAL_BODY_BYTES);
  });
  await t.step("without an id that is not one", () => {
    const envelope = minimalEnvelope(
      { ...HOSTILE, properties: { messageId: "a\nb" } },
      "failed",
    );
    assert.equal(envelope.properties.messageId, undefined);
  });
});
