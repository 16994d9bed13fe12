import assert from "node:assert/strict";
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import type { Side } from "./pairer.ts";
import { type ParsedHalf, parseHalf } from "./parse_half.ts";
import { isReasonCode } from "../../stack/dead_letter_reasons.ts";

const ID = "3b241101-e2bb-4255-8caf-4136c566a962";
const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("parseHalf() reads the sample id and value of either side", async (t) => {
  const cases: [string, Side, string, AMQPProperties, ParsedHalf][] = [
    ["a truth by its messageId", "y_true", "302", { messageId: ID }, {
      ok: true,
      id: ID,
      side: "y_true",
      value: 302,
    }],
    ["a prediction by its correlationId", "y_pred", "151.25", {
      messageId: "other",
      correlationId: ID,
    }, { ok: true, id: ID, side: "y_pred", value: 151.25 }],
    ["a negative value", "y_pred", "-1.5e-7", { correlationId: ID }, {
      ok: true,
      id: ID,
      side: "y_pred",
      value: -1.5e-7,
    }],
    ["whitespace around the number", "y_true", " 42\n", { messageId: ID }, {
      ok: true,
      id: ID,
      side: "y_true",
      value: 42,
    }],
  ];
  for (const [name, side, body, properties, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(parseHalf(side, encode(body), properties, 4096), expected);
    });
  }
});

Deno.test("parseHalf() gives the reason to dead-letter a bad message", async (t) => {
  const cases: [string, Side, Uint8Array | null, AMQPProperties, number, string][] = [
    ["a truth without messageId", "y_true", encode("1"), {}, 4096, "missing messageId"],
    [
      "a prediction with only a messageId",
      "y_pred",
      encode("1"),
      { messageId: ID },
      4096,
      "missing correlationId",
    ],
    ["an empty id", "y_true", encode("1"), { messageId: "" }, 4096, "missing messageId"],
    [
      "a newline in the id",
      "y_true",
      encode("1"),
      { messageId: "a\nb" },
      4096,
      "messageId contains a control character",
    ],
    [
      "an id too long",
      "y_pred",
      encode("1"),
      { correlationId: "x".repeat(129) },
      4096,
      "correlationId too long: 129 characters, limit 128",
    ],
    ["no body", "y_true", null, { messageId: ID }, 4096, "empty body"],
    [
      "a body over the limit",
      "y_true",
      encode("12345"),
      { messageId: ID },
      4,
      "body too large: 5 bytes, limit 4",
    ],
    [
      "an array instead of a number",
      "y_true",
      encode("[1,2]"),
      { messageId: ID },
      4096,
      "expected one finite number, got [1,2]",
    ],
    [
      "a number as text",
      "y_pred",
      encode('"151"'),
      { correlationId: ID },
      4096,
      'expected one finite number, got "151"',
    ],
    ["not UTF-8", "y_true", new Uint8Array([0xff]), { messageId: ID }, 4096, "body is not UTF-8"],
  ];
  for (const [name, side, body, properties, maxBodyBytes, reason] of cases) {
    await t.step(name, () => {
      const parsed = parseHalf(side, body, properties, maxBodyBytes);
      assert.equal(parsed.ok, false);
      assert.ok(isReasonCode((parsed as { code: unknown }).code));
      assert.equal((parsed as { reason: string }).reason, reason);
    });
  }

  await t.step("the id is checked before the body", () => {
    assert.deepEqual(parseHalf("y_true", null, {}, 4096), {
      ok: false,
      code: "missing_id",
      reason: "missing messageId",
    });
  });

  await t.step("JSON that does not parse names the parser's complaint", () => {
    const parsed = parseHalf("y_true", encode("15x"), { messageId: ID }, 4096);
    assert.equal(parsed.ok, false);
    assert.match((parsed as { reason: string }).reason, /^body is not JSON: /);
  });
});
