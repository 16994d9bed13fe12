import assert from "node:assert/strict";
import { DeadLetter, reasonLabel } from "./broker.ts";

Deno.test("reasonLabel() keeps the words before the first colon, at most 40 characters", async (t) => {
  const cases: [string, string][] = [
    ["body too large: 5000 bytes, limit 4096", "body too large"],
    ["unpaired: no y_pred for this id within 300000 ms", "unpaired"],
    ["handler failed: Cannot publish to 'y_pred': not connected", "handler failed"],
    ["empty body", "empty body"],
    ["  padded reason  : detail", "padded reason"],
    ["x".repeat(60), "x".repeat(40)],
    ["", ""],
  ];
  for (const [reason, label] of cases) {
    await t.step(JSON.stringify(reason), () => {
      assert.equal(reasonLabel(reason), label);
    });
  }
});

Deno.test("DeadLetter carries its reason", () => {
  const error = new DeadLetter("expected 10 features, got 9");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "DeadLetter");
  assert.equal(error.reason, "expected 10 features, got 9");
  assert.equal(error.message, "expected 10 features, got 9");
});
