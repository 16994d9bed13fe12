import assert from "node:assert/strict";
import { RecentSet } from "./recent_set.ts";

Deno.test("RecentSet remembers the last capacity keys, oldest first, each once", () => {
  const set = new RecentSet(3);
  for (const key of ["a", "b", "a", "c", "d"]) set.add(key);
  assert.deepEqual(set.newest(), ["b", "c", "d"]);
  assert.deepEqual(set.newest(2), ["c", "d"]);
  assert.equal(set.has("a"), false, "the oldest went past the capacity");
  assert.equal(set.has("d"), true);
  assert.deepEqual(new RecentSet(2).newest(), []);
});

Deno.test("RecentSet refuses a capacity that is not a positive integer, naming its owner", () => {
  assert.throws(
    () => new RecentSet(0, "Pairer"),
    new RangeError(
      "Cannot create Pairer as 'seenCapacity' must be a positive integer: current value is 0",
    ),
  );
});
