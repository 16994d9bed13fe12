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

Deno.test("LabelCap retires the name seen longest ago once it has been idle long enough", () => {
  const retired: string[] = [];
  const cap = new LabelCap(2, { retireAfterMs: 100, onRetire: (name) => retired.push(name) });
  assert.equal(cap.of("v1", 0), "v1");
  assert.equal(cap.of("v2", 10), "v2");
  // v1 was seen 50 ms ago: too recent to give up its place.
  assert.equal(cap.of("v3", 50), OTHER);
  assert.deepEqual(retired, []);
  // 100 ms after v1 was last seen, v3 takes its place.
  assert.equal(cap.of("v3", 100), "v3");
  assert.deepEqual(retired, ["v1"]);
  assert.deepEqual(cap.names, ["v2", "v3"]);
  // v1 is new again: it takes the place of v2, idle since 10.
  assert.equal(cap.of("v1", 110), "v1");
  assert.deepEqual(retired, ["v1", "v2"]);
});

Deno.test("LabelCap never retires a name in use, however many new names come", () => {
  const cap = new LabelCap(3, { retireAfterMs: 1_000 });
  // A rolling update every hour for a day, junk headers every second, v-current seen always.
  for (let t = 0; t < 86_400_000; t += 1_000) {
    const current = `v${Math.floor(t / 3_600_000)}`;
    assert.equal(cap.of(current, t), current, `the current version at ${t} ms`);
    cap.of(`junk-${t}`, t);
  }
  assert.ok(cap.names.length <= 3);
});

Deno.test("LabelCap lets each new version of a rolling update appear after the first max", () => {
  const cap = new LabelCap(16, { retireAfterMs: 600_000 });
  // Forty rolling updates a day apart, each version in use until the next.
  for (let update = 0; update < 40; update++) {
    const start = update * 86_400_000;
    for (let t = start; t < start + 86_400_000; t += 3_600_000) {
      assert.equal(cap.of(`v${update}`, t), `v${update}`);
    }
  }
  assert.deepEqual(cap.names, Array.from({ length: 16 }, (_, i) => `v${24 + i}`));
});

Deno.test("LabelCap never moves a name back in time on a late or missing time", () => {
  const cap = new LabelCap(1, { retireAfterMs: 100 });
  cap.of("a", 1_000);
  // A row from before (clocks of two hosts, a replayed sample) does not make a look idle.
  assert.equal(cap.of("b", 950), OTHER);
  assert.equal(cap.of("b", Number.NaN), OTHER);
  assert.equal(cap.of("b", 1_100), "b");
});

Deno.test("LabelCap continues from its state: the same names, the same idle times", () => {
  const first = new LabelCap(2, { retireAfterMs: 100 });
  first.of("a", 0);
  first.of("b", 50);
  first.of("a", 60);
  const second = new LabelCap(2, {
    retireAfterMs: 100,
    state: JSON.parse(JSON.stringify(first.state())),
  });
  assert.deepEqual(second.names, ["b", "a"]);
  for (const cap of [first, second]) {
    assert.equal(cap.of("c", 149), OTHER);
    assert.equal(cap.of("c", 150), "c");
    assert.deepEqual(cap.names, ["a", "c"]);
  }
});

Deno.test("LabelCap keeps the most recent max names of a state larger than its cap", () => {
  const cap = new LabelCap(2, { state: [["a", 3], ["b", 1], ["c", 2]] });
  assert.deepEqual(cap.names, ["c", "a"]);
});
