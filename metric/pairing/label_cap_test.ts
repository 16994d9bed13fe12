import assert from "node:assert/strict";
import { LabelCap, OTHER } from "./label_cap.ts";

Deno.test("LabelCap keeps the first names and counts every later new one as other", () => {
  const cap = new LabelCap(2);
  assert.deepEqual(["a", "b", "c", "a", "d", "b"].map((n) => cap.of(n)), [
    "a",
    "b",
    OTHER,
    "a",
    OTHER,
    "b",
  ]);
});

Deno.test("LabelCap holds at most max names however many it is shown", () => {
  const cap = new LabelCap(3);
  const names = new Set(Array.from({ length: 10_000 }, (_, i) => cap.of(`v${i}`)));
  assert.deepEqual([...names], ["v0", "v1", "v2", OTHER]);
});

Deno.test("LabelCap refuses a cap that keeps nothing", () => {
  assert.throws(() => new LabelCap(0), RangeError);
});
