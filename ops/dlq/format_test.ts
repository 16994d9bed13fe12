import assert from "node:assert/strict";
import { hasControlCharacter } from "../../stack/printable.ts";
import {
  describeEntry,
  formatEntries,
  formatGroups,
  formatReplay,
  groupDeadLetters,
  type ListedMessage,
} from "./format.ts";

const body = (text: string) => new TextEncoder().encode(text);

/** A dead letter as the services write it. */
function dl(id: string, queue: string, code: string, reason: string, text = "[1]", atMs = 0) {
  return {
    messageId: id,
    headers: {
      "dead-letter-queue": queue,
      "dead-letter-code": code,
      "dead-letter-reason": reason,
      "dead-lettered-at-ms": atMs,
    },
    body: body(text),
  };
}

/** ESC ] 0 ; title BEL, ESC [ 31 m, the 8-bit CSI, a right-to-left override. */
const HOSTILE = "\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202eevil";
const HOSTILE_SHOWN = "\\u{1b}]0;pwned\\u{7}\\u{1b}[31mred\\u{9b}2J\\u{202e}evil";

Deno.test("groupDeadLetters() counts by source and code, first message as example", () => {
  const groups = groupDeadLetters([
    dl("a", "y_pred", "malformed_json", "body is not JSON: Unexpected token 'x'", "x", 3_000),
    dl("b", "features", "wrong_length", "expected 10 features, got 3", "[1]", 1_000),
    dl("c", "y_pred", "malformed_json", "body is not JSON: Unexpected end of input", "[", 1_000),
    dl("d", "y_pred", "malformed_json", "body is not JSON: whatever", "{", 2_000),
  ]);
  assert.deepEqual(groups.map((g) => [g.count, g.source, g.code, g.firstAtMs, g.lastAtMs]), [
    [3, "y_pred", "malformed_json", 1_000, 3_000],
    [1, "features", "wrong_length", 1_000, 1_000],
  ]);
  assert.deepEqual(groups[0].example, {
    source: "y_pred",
    code: "malformed_json",
    atMs: 3_000,
    id: "a",
    reason: "body is not JSON: Unexpected token 'x'",
    body: "x",
    truncated: false,
  });
  const table = formatGroups(groups, 4);
  assert.match(table, /^dead_letter: 4 messages in 2 groups\n/);
  assert.match(
    table,
    /\n {6}3 {2}y_pred {4}malformed_json {2}1970-01-01T00:00:01Z {2}1970-01-01T00:00:03Z\n/,
  );
  assert.match(table, /\n {9}e\.g\. id 'a': body is not JSON: Unexpected token 'x'\n/);
  assert.equal(formatGroups([], 0), "dead_letter is empty");
});

Deno.test("groupDeadLetters() keeps 501 dead letters of 3 kinds to 3 groups, 11 lines", () => {
  const messages: ListedMessage[] = [];
  for (let length = 11; length < 311; length++) {
    messages.push(
      dl(`f-${length}`, "features", "wrong_length", `expected 10 features, got ${length}`),
    );
  }
  for (let i = 0; i < 200; i++) {
    messages.push(
      dl(`t-${i}`, "y_true", "wrong_type", `expected one finite number, got "text ${i}"`),
    );
  }
  messages.push({
    headers: { "x-first-death-queue": "features", "x-first-death-reason": "delivery_limit" },
    body: null,
  });
  const groups = groupDeadLetters(messages);
  assert.deepEqual(groups.map((g) => [g.count, g.source, g.code]), [
    [300, "features", "wrong_length"],
    [200, "y_true", "wrong_type"],
    [1, "features", "delivery_limit"],
  ]);
  assert.equal(formatGroups(groups, messages.length).split("\n").length, 2 + 1 + 3 * 3);
  assert.equal(formatEntries(messages.map(describeEntry)).split("\n").length, 1 + 501);
});

Deno.test("dlq output escapes every control a dead letter carries", async (t) => {
  const message: ListedMessage = {
    messageId: `id-${HOSTILE}`,
    headers: {
      "dead-letter-queue": `q-${HOSTILE}`,
      "dead-letter-code": HOSTILE,
      "dead-letter-reason": `reason-${HOSTILE}`,
    },
    body: body(`body-${HOSTILE}`),
  };
  const entry = describeEntry(message);
  await t.step("each value of an entry", () => {
    assert.deepEqual(entry, {
      source: `q-${HOSTILE_SHOWN}`,
      code: "unknown",
      id: `id-${HOSTILE_SHOWN}`,
      reason: `reason-${HOSTILE_SHOWN}`,
      body: `body-${HOSTILE_SHOWN}`,
      truncated: false,
    });
  });
  await t.step("the table, --each and --json", () => {
    const groups = groupDeadLetters([message]);
    for (
      const text of [
        formatGroups(groups, 1),
        formatEntries([entry]),
        JSON.stringify({ total: 1, groups }),
        JSON.stringify({ total: 1, entries: [entry] }),
      ]
    ) {
      assert.equal(hasControlCharacter(text.replaceAll("\n", "")), false, text);
      assert.ok(text.includes("pwned"), text);
    }
  });
  await t.step("the replay summary", () => {
    const lines = formatReplay({
      replayed: { [`q${HOSTILE}`]: 1 },
      skipped: { [`queue '${HOSTILE}' does not exist`]: 1 },
      seen: 2,
    });
    for (const line of lines) assert.equal(hasControlCharacter(line), false, line);
  });
});

Deno.test("groupDeadLetters() shortens a long example body and reason", () => {
  const [group] = groupDeadLetters([{
    headers: { "dead-letter-reason": "r".repeat(500) },
    body: body("9".repeat(500)),
  }]);
  assert.equal(group.example.body, `${"9".repeat(120)}…`);
  assert.equal(group.example.reason, `${"r".repeat(200)}…`);
  assert.equal(group.source, "");
  assert.equal(group.code, "unknown");
  assert.equal(group.firstAtMs, undefined);
  assert.match(formatGroups([group], 1), /\n {6}1 {2}\? {7}unknown {2}\? {21}\?\n/);
});

Deno.test("formatReplay() says how many went back where, and why the others stayed", async (t) => {
  await t.step("some replayed, some left", () => {
    assert.deepEqual(
      formatReplay({
        replayed: { y_pred: 2, features: 1 },
        skipped: { "body truncated when dead-lettered": 1, "queue 'gone' does not exist": 2 },
        seen: 7,
      }),
      [
        "replayed 3 of 7 dead letters (2 to y_pred, 1 to features)",
        "left 1 in dead_letter: body truncated when dead-lettered",
        "left 2 in dead_letter: queue 'gone' does not exist",
      ],
    );
  });
  await t.step("nothing replayed", () => {
    assert.deepEqual(formatReplay({ replayed: {}, skipped: {}, seen: 0 }), [
      "replayed 0 of 0 dead letters",
    ]);
  });
});
