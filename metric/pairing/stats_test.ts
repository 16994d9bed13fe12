import { MAX_MODEL_VERSIONS, MAX_REPLICAS, OTHER } from "./label_cap.ts";
import assert from "node:assert/strict";
import { MAX_TARGET_MAGNITUDE } from "../../stack/contracts.ts";
import { formatRecord, pairRecord, parseRecord } from "../metric_log/format.ts";
import { ErrorStats, HISTOGRAM_LIMIT } from "./stats.ts";

/** Stats of `errors`, with versions v1, v2, v1, … and replicas r0, r1, r2, r0, … */
function statsOf(errors: readonly number[]): ErrorStats {
  const stats = new ErrorStats();
  errors.forEach((absoluteError, i) =>
    stats.add({ absoluteError, modelVersion: i % 2 ? "v2" : "v1", replica: `r${i % 3}` })
  );
  return stats;
}

Deno.test("ErrorStats gives NaN before the first sample", () => {
  const stats = new ErrorStats();
  assert.equal(stats.count, 0);
  assert.ok(Number.isNaN(stats.mae));
  assert.ok(Number.isNaN(stats.rmse));
  assert.ok(Number.isNaN(stats.median));
  assert.deepEqual({ ...stats.snapshot(), mae: 0, rmse: 0, median: 0 }, {
    count: 0,
    mae: 0,
    rmse: 0,
    median: 0,
    byVersion: {},
    byReplica: {},
  });
});

Deno.test("ErrorStats computes MAE, RMSE and median exactly on small tables", async (t) => {
  // The median is interpolated inside its 1-unit bin: within one unit of the exact one.
  const cases: [number[], { mae: number; rmse: number; median: number }][] = [
    [[2], { mae: 2, rmse: 2, median: 2.5 }],
    [[3, 4], { mae: 3.5, rmse: Math.sqrt(12.5), median: 4 }],
    [[1, 2, 3, 4], { mae: 2.5, rmse: Math.sqrt(7.5), median: 3 }],
    [[1.5, 2.5, 3.5], { mae: 2.5, rmse: Math.sqrt(20.75 / 3), median: 2.5 }],
    [[0, 0, 0, 10], { mae: 2.5, rmse: 5, median: 2 / 3 }],
    [[0, 0], { mae: 0, rmse: 0, median: 0.5 }],
    [[10, 10, 10, 10, 10], { mae: 10, rmse: 10, median: 10.5 }],
  ];
  for (const [errors, expected] of cases) {
    await t.step(`errors ${errors.join(", ")}`, () => {
      const stats = statsOf(errors);
      assert.equal(stats.count, errors.length);
      assert.deepEqual({ mae: stats.mae, rmse: stats.rmse, median: stats.median }, expected);
    });
  }
});

Deno.test("ErrorStats.median stays within one unit of the exact median", async (t) => {
  await t.step("when errors are spread out", () => {
    const errors = Array.from({ length: 1001 }, (_, i) => (i * 37.1) % 300);
    const exact = [...errors].sort((a, b) => a - b)[500];
    const median = statsOf(errors).median;
    assert.ok(Math.abs(median - exact) <= 1, `median ${median}, exact ${exact}`);
  });
  await t.step("when every error is the same", () => {
    const median = statsOf([42.3, 42.3, 42.3]).median;
    assert.equal(median, 42.5);
  });
  await t.step("when most errors overflow the histogram it says only 'the limit or more'", () => {
    const median = statsOf([1, HISTOGRAM_LIMIT + 5, HISTOGRAM_LIMIT + 9]).median;
    assert.equal(median, HISTOGRAM_LIMIT + 0.25);
  });
});

Deno.test("ErrorStats.bins counts each error in its 1-unit bin, overflow in the last", async (t) => {
  const stats = statsOf([0, 0.5, 0.999, 1, 2.5, 399.9, 400, 1e6]);
  await t.step("there is one bin per unit up to the limit, and one beyond", () => {
    assert.equal(HISTOGRAM_LIMIT, 400);
    assert.equal(stats.bins.length, 401);
  });
  await t.step("each error lands in its bin", () => {
    const counts = Object.fromEntries(
      [...stats.bins.entries()].filter(([, count]) => count > 0),
    );
    assert.deepEqual(counts, { 0: 3, 1: 1, 2: 1, 399: 1, 400: 2 });
  });
  await t.step("the overflow bin still counts in MAE and RMSE", () => {
    assert.equal(stats.count, 8);
    assert.equal(stats.mae, (0 + 0.5 + 0.999 + 1 + 2.5 + 399.9 + 400 + 1e6) / 8);
  });
});

Deno.test("ErrorStats.snapshot() splits the counts by version and replica", async (t) => {
  const stats = statsOf([2, 4, 6, 8, 10]);
  const snapshot = stats.snapshot();
  await t.step("the totals match the getters", () => {
    assert.equal(snapshot.count, 5);
    assert.equal(snapshot.mae, 6);
    assert.equal(snapshot.rmse, Math.sqrt(220 / 5));
    assert.equal(snapshot.median, stats.median);
  });
  await t.step("byVersion has the count and MAE of each model version", () => {
    assert.deepEqual(snapshot.byVersion, {
      v1: { count: 3, mae: 6 },
      v2: { count: 2, mae: 6 },
    });
  });
  await t.step("byReplica counts the predictions of each replica", () => {
    assert.deepEqual(snapshot.byReplica, { r0: 2, r1: 2, r2: 1 });
  });
  await t.step("a later sample does not change an earlier snapshot", () => {
    stats.add({ absoluteError: 100, modelVersion: "v3", replica: "r9" });
    assert.equal(snapshot.count, 5);
    assert.deepEqual(Object.keys(snapshot.byVersion), ["v1", "v2"]);
    assert.deepEqual(stats.snapshot().byVersion.v3, { count: 1, mae: 100 });
    assert.equal(stats.snapshot().byReplica.r9, 1);
  });
});

Deno.test("ErrorStats stays finite for errors at the contract's bound", async (t) => {
  // |y_true|, |y_pred| ≤ MAX_TARGET_MAGNITUDE: the largest error is twice that.
  const largest = 2 * MAX_TARGET_MAGNITUDE;
  await t.step("a million samples at the bound", () => {
    const stats = new ErrorStats();
    for (let i = 0; i < 1_000_000; i++) {
      stats.add({ absoluteError: largest, modelVersion: "v", replica: "r" });
    }
    assert.equal(stats.mae, largest);
    assert.ok(Math.abs(stats.rmse / largest - 1) < 1e-9, String(stats.rmse));
    assert.ok(stats.median >= HISTOGRAM_LIMIT);
    assert.equal(stats.snapshot().byVersion.v.mae, largest);
  });
  await t.step("the sums overflow only past 1e283 such samples", () => {
    // The sum of squares goes first (4e24 a sample), the sum at about 9e295.
    assert.ok(Number.isFinite(largest * largest * 1e283));
    assert.ok(Number.isFinite(largest * 1e295));
  });
  await t.step("a record at the bound, written and read back, still adds up", () => {
    const record = pairRecord({
      id: "edge",
      yTrue: -MAX_TARGET_MAGNITUDE,
      yPred: MAX_TARGET_MAGNITUDE,
      modelVersion: "v",
      replica: "r",
      pairedAtMs: 0,
    });
    const stats = new ErrorStats();
    stats.add(parseRecord(formatRecord(record))!);
    stats.add(record);
    assert.equal(stats.mae, largest);
  });
});

Deno.test("ErrorStats keeps per-version and per-replica tallies bounded, the excess under other", () => {
  const stats = new ErrorStats();
  for (let i = 0; i < 1_000; i++) {
    stats.add({ absoluteError: 1, modelVersion: `v${i}`, replica: `r${i}` });
  }
  const { byVersion, byReplica, count } = stats.snapshot();
  assert.equal(Object.keys(byVersion).length, MAX_MODEL_VERSIONS + 1);
  assert.equal(Object.keys(byReplica).length, MAX_REPLICAS + 1);
  assert.equal(byVersion[OTHER].count, 1_000 - MAX_MODEL_VERSIONS);
  assert.equal(byReplica[OTHER], 1_000 - MAX_REPLICAS);
  assert.equal(count, 1_000);
});
