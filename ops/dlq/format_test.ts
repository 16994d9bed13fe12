import assert from "node:assert/strict";
import { formatGroups, formatReplay, groupDeadLetters } from "./format.ts";

const body = (text: string) => new TextEncoder().encode(text);

Deno.test("groupDeadLetters() counts by source and short reason, first message as example", () => {
  const dl = (id: string, queue: string, reason: string, text = "[1]") => ({
    messageId: id,
    headers: { "dead-letter-queue": queue, "dead-letter-reason": reason },
    body: body(text),
  });
  const groups = groupDeadLetters([
    dl("a", "y_pred", "body is not JSON: Unexpected token 'x'", "x"),
    dl("b", "features", "expected 10 features, got 3"),
    dl("c", "y_pred", "body is not JSON: Unexpected end of input"),
    dl("d", "y_pred", "body is not JSON: whatever"),
  ]);
  assert.deepEqual(groups.map((g) => [g.count, g.source, g.reason]), [
    [3, "y_pred", "body is not JSON"],
    [1, "features", "expected 10 features, got 3"],
  ]);
  assert.deepEqual(groups[0].example, {
    id: "a",
    reason: "body is not JSON: Unexpected token 'x'",
    body: "x",
    truncated: false,
  });
  const table = formatGroups(groups, 4);
  assert.match(table, /^dead_letter: 4 messages/);
  assert.match(table, /\n {6}3 {2}y_pred {4}body is not JSON\n/);
  assert.equal(formatGroups([], 0), "dead_letter is empty");
});

Deno.test("groupDeadLetters() shortens a long example body", () => {
  const [group] = groupDeadLetters([{ headers: {}, body: body("9".repeat(500)) }]);
  assert.equal(group.example.body, `${"9".repeat(120)}…`);
  assert.equal(group.source, "");
  assert.equal(group.reason, "unknown");
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
