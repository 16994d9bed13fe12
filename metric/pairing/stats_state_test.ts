import assert from "node:assert/strict";
import { OTHER } from "./label_cap.ts";
import { ErrorStats } from "./stats.ts";

const HOUR = 3_600_000;

/** A day of rows: a rolling update to v2 at noon, replicas r1 and r2 (r2 gone at noon). */
function day(): {
  absoluteError: number;
  modelVersion: string;
  replica: string;
  pairedAtMs: number;
}[] {
  return Array.from({ length: 24 * 60 }, (_, minute) => ({
    absoluteError: (minute * 7.3) % 120,
    modelVersion: minute < 12 * 60 ? "v1" : "v2",
    replica: minute < 12 * 60 && minute % 2 ? "r2" : "r1",
    pairedAtMs: minute * 60_000,
  }));
}

Deno.test("ErrorStats.fromState(state()) goes on exactly as the statistics it came from", () => {
  const rows = day();
  const whole = new ErrorStats();
  const first = new ErrorStats();
  rows.forEach((row) => whole.add(row));
  rows.slice(0, 700).forEach((row) => first.add(row));
  const restored = ErrorStats.fromState(JSON.parse(JSON.stringify(first.state())));
  rows.slice(700).forEach((row) => restored.add(row));
  assert.deepEqual(restored.state(), whole.state());
  assert.deepEqual(restored.snapshot(), whole.snapshot());
});

Deno.test("ErrorStats counts a version under other once it retired, and shows the new one", () => {
  const stats = new ErrorStats();
  // Sixteen versions in a row, an hour each: the cap is full.
  for (let v = 0; v < 16; v++) {
    stats.add({ absoluteError: 1, modelVersion: `v${v}`, replica: "r", pairedAtMs: v * HOUR });
  }
  stats.add({ absoluteError: 3, modelVersion: "v16", replica: "r", pairedAtMs: 16 * HOUR });
  const { byVersion, count } = stats.snapshot();
  assert.equal(count, 17);
  assert.deepEqual(byVersion.v16, { count: 1, mae: 3 });
  // v0 retired (idle longest, for 16 hours): its row moved to other.
  assert.equal(byVersion.v0, undefined);
  assert.deepEqual(byVersion[OTHER], { count: 1, mae: 1 });
  const total = Object.values(byVersion).reduce((sum, { count }) => sum + count, 0);
  assert.equal(total, count);
});

Deno.test("ErrorStats.fromState() refuses a damaged state and names the field", () => {
  const good = new ErrorStats().state();
  const cases: [string, unknown][] = [
    ["state", null],
    ["count", { ...good, count: -1 }],
    ["sum", { ...good, sum: "12" }],
    ["bins", { ...good, bins: [1, 2, 3] }],
    ["byVersion", { ...good, byVersion: [["v1", 1]] }],
    ["versions", { ...good, versions: [[1, 2]] }],
  ];
  for (const [field, state] of cases) {
    assert.throws(() => ErrorStats.fromState(state), new RegExp(`'${field}'`), field);
  }
});
