import assert from "node:assert/strict";
import { ErrorStats, HISTOGRAM_LIMIT } from "../pairing/stats.ts";
import { DashboardHistory, readingOf } from "./history.ts";
import { binErrors, dashboardView, finite, hopViews } from "./view.ts";

function statsOf(errors: number[], replica = "model-a", version = "v1"): ErrorStats {
  const stats = new ErrorStats();
  for (const absoluteError of errors) stats.add({ absoluteError, modelVersion: version, replica });
  return stats;
}

Deno.test("binErrors() regroups 1-unit bins into wider ones", async (t) => {
  await t.step("when errors fall on both sides of a bin edge", () => {
    const stats = statsOf([0, 9.99, 10, 19.5, 35]);
    const histogram = binErrors(stats.bins, 10);
    assert.deepEqual(histogram.counts, [2, 2, 0, 1]);
    assert.equal(histogram.width, 10);
    assert.equal(histogram.overflow, 0);
    assert.equal(histogram.overflowFrom, HISTOGRAM_LIMIT);
  });
  await t.step("when the largest errors overflow the fine bins", () => {
    const stats = statsOf([5, HISTOGRAM_LIMIT, HISTOGRAM_LIMIT + 1000]);
    const histogram = binErrors(stats.bins);
    assert.deepEqual(histogram.counts, [1]);
    assert.equal(histogram.overflow, 2);
  });
  await t.step("when an error sits just below the overflow edge", () => {
    const histogram = binErrors(statsOf([HISTOGRAM_LIMIT - 0.5]).bins, 10);
    assert.equal(histogram.counts.length, HISTOGRAM_LIMIT / 10);
    assert.equal(histogram.counts.at(-1), 1);
    assert.equal(histogram.overflow, 0);
  });
  await t.step("when the width does not divide the range", () => {
    // 7 fine bins and the overflow bin: [0,3) [3,6) [6,7).
    const histogram = binErrors([1, 0, 0, 2, 0, 0, 4, 9], 3);
    assert.deepEqual(histogram.counts, [1, 2, 4]);
    assert.equal(histogram.overflowFrom, 7);
    assert.equal(histogram.overflow, 9);
  });
  await t.step("when there are no samples", () => {
    const histogram = binErrors(new ErrorStats().bins);
    assert.deepEqual(histogram.counts, []);
    assert.equal(histogram.overflow, 0);
  });
  await t.step("when every sample is counted exactly once", () => {
    const errors = Array.from({ length: 500 }, (_, i) => (i * 7.3) % 450);
    const histogram = binErrors(statsOf(errors).bins);
    const total = histogram.counts.reduce((a, b) => a + b, 0) + histogram.overflow;
    assert.equal(total, errors.length);
  });
  await t.step("when the width is not a positive integer", () => {
    for (const width of [0, -10, 2.5]) {
      assert.throws(() => binErrors(new ErrorStats().bins, width), RangeError);
    }
    assert.throws(() => binErrors([]), RangeError);
  });
});
Deno.test("dashboardView() combines live statistics with the history", () => {
  const stats = statsOf([4, 6, 12, 50]);
  stats.add({ absoluteError: 10, modelVersion: "v2", replica: "model-b" });
  const history = new DashboardHistory();
  history.record(readingOf(new ErrorStats().snapshot(), 0));
  history.record(readingOf(stats.snapshot(), 1000));
  const view = dashboardView(
    { atMs: 1500, stats: stats.snapshot(), bins: stats.bins, deadLettered: 3, unpaired: 7 },
    history,
  );
  assert.equal(view.count, 5);
  assert.equal(view.mae, (4 + 6 + 12 + 50 + 10) / 5);
  assert.deepEqual(view.histogram.counts, [2, 2, 0, 0, 0, 1]);
  assert.equal(view.samplesPerSecond, 5);
  assert.deepEqual(view.versions, [
    { version: "v1", count: 4, mae: 18 },
    { version: "v2", count: 1, mae: 10 },
  ]);
  assert.deepEqual(view.replicas.map((r) => r.name), ["model-a", "model-b"]);
  assert.equal(view.deadLettered, 3);
  assert.equal(view.unpaired, 7);
  assert.equal(view.series.t.length, 2);
  // The view goes out as JSON as is.
  assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
});

Deno.test("dashboardView() reports missing statistics as null, not NaN", () => {
  const stats = new ErrorStats();
  const view = dashboardView(
    { atMs: 0, stats: stats.snapshot(), bins: stats.bins, deadLettered: 0, unpaired: 0 },
    new DashboardHistory(),
  );
  assert.equal(view.mae, null);
  assert.equal(view.rmse, null);
  assert.equal(view.median, null);
  assert.equal(view.samplesPerSecond, null);
  assert.equal(finite(Number.POSITIVE_INFINITY), null);
  assert.equal(finite(0), 0);
});

Deno.test("dashboardView() names every statistic that is null although samples were counted", () => {
  // Outside the contract's bound (|y| ≤ 1e12): only reachable by arithmetic on old rows.
  const stats = statsOf([Number.MAX_VALUE, Number.MAX_VALUE]);
  stats.add({ absoluteError: Number.MAX_VALUE, modelVersion: "v2", replica: "model-a" });
  const view = dashboardView(
    { atMs: 0, stats: stats.snapshot(), bins: stats.bins, deadLettered: 0, unpaired: 0 },
    new DashboardHistory(),
  );
  assert.equal(view.mae, null);
  assert.equal(view.rmse, null);
  assert.deepEqual(view.notFinite, ["mae", "rmse", 'versions["v1"].mae']);
  assert.deepEqual(view.versions, [
    { version: "v1", count: 2, mae: null },
    { version: "v2", count: 1, mae: Number.MAX_VALUE },
  ]);
  assert.deepEqual(JSON.parse(JSON.stringify(view)), view);
});

Deno.test("hopViews() lists the hops in a sample's order with their mean, p50 and p99", () => {
  const bounds = [1, 2, 5, Infinity];
  const empty = { bounds, cumulative: [0, 0, 0, 0], sumMs: 0 };
  const views = hopViews({
    features_to_model: { bounds, cumulative: [10, 20, 20, 20], sumMs: 25 },
    model: empty,
    model_to_metric: { bounds, cumulative: [0, 0, 100, 100], sumMs: 300 },
    metric: empty,
  });
  assert.deepEqual(views.map((v) => v.hop), [
    "features_to_model",
    "model",
    "model_to_metric",
    "metric",
  ]);
  assert.deepEqual(views[0], {
    hop: "features_to_model",
    label: "features publish → model receipt",
    count: 20,
    meanMs: 1.25,
    p50Ms: 1,
    p99Ms: 1.98,
  });
  assert.deepEqual([views[1].meanMs, views[1].p99Ms], [null, null], "nothing seen yet");
  assert.equal(views[2].p50Ms, 3.5);
  assert.deepEqual(hopViews(undefined), []);
});
