import assert from "node:assert/strict";
import {
  bucketQuantile,
  bucketsBetween,
  carriedTimes,
  hopDurations,
  HOPS,
  summarizeHop,
} from "./hops.ts";

Deno.test("hopDurations() splits a sample's time into its four hops", async (t) => {
  await t.step("when every time stamp is there, hops 1–3 add up to the end-to-end latency", () => {
    const hops = hopDurations({
      sentAtMs: 1000,
      receivedAtMs: 1001.5,
      predictedAtMs: 1002,
      pairedAtMs: 1004.25,
      writtenAndAckedMs: 0.75,
    });
    assert.deepEqual(hops, {
      features_to_model: 1.5,
      model: 0.5,
      model_to_metric: 2.25,
      metric: 0.75,
    });
    assert.equal(hops.features_to_model + hops.model + hops.model_to_metric, 1004.25 - 1000);
  });
  await t.step("when model's clock runs ahead, its skew cancels in the sum", () => {
    const skew = 7;
    const hops = hopDurations({
      sentAtMs: 1000,
      receivedAtMs: 1001.5 + skew,
      predictedAtMs: 1002 + skew,
      pairedAtMs: 1004.25,
      writtenAndAckedMs: 0.75,
    });
    assert.equal(hops.features_to_model, 8.5);
    assert.equal(hops.model_to_metric, -4.75, "shorter than the skew: negative, not a duration");
    assert.equal(hops.features_to_model + hops.model + hops.model_to_metric, 4.25);
  });
  await t.step("when a message lacks a time stamp, only the hops it bounds are NaN", () => {
    const hops = hopDurations({ sentAtMs: 1000, pairedAtMs: 1005, writtenAndAckedMs: 1 });
    assert.ok(Number.isNaN(hops.features_to_model));
    assert.ok(Number.isNaN(hops.model));
    assert.ok(Number.isNaN(hops.model_to_metric));
    assert.equal(hops.metric, 1);
  });
});

Deno.test("carriedTimes() reads the time stamps from the two halves' headers", () => {
  assert.deepEqual(
    carriedTimes(
      { "sent-at-ms": 1000 },
      { "sent-at-ms": 999, "received-at-ms": "1001.5", "predicted-at-ms": 1002 },
    ),
    { sentAtMs: 1000, receivedAtMs: 1001.5, predictedAtMs: 1002 },
  );
  assert.deepEqual(carriedTimes(undefined, { "sent-at-ms": 999 }), {
    sentAtMs: 999,
    receivedAtMs: undefined,
    predictedAtMs: undefined,
  });
});

Deno.test("bucketQuantile() interpolates inside a bucket like histogram_quantile", async (t) => {
  const buckets = { bounds: [1, 2, 5, 10, Infinity], cumulative: [0, 50, 90, 99, 100] };
  await t.step("when the rank falls inside a bucket", () => {
    assert.equal(bucketQuantile(buckets, 0.5), 2);
    assert.equal(bucketQuantile(buckets, 0.7), 3.5);
    assert.equal(bucketQuantile(buckets, 0.25), 1.5);
  });
  await t.step("when it falls in the first bucket, which starts at 0", () => {
    assert.equal(bucketQuantile({ bounds: [4, Infinity], cumulative: [10, 10] }, 0.5), 2);
  });
  await t.step("when it falls in the +Inf bucket: the largest finite bound", () => {
    assert.equal(bucketQuantile(buckets, 0.995), 10);
  });
  await t.step("when nothing was observed: NaN", () => {
    assert.ok(Number.isNaN(bucketQuantile({ bounds: [1, Infinity], cumulative: [0, 0] }, 0.5)));
  });
  await t.step("when q or the shape is wrong: a RangeError that quotes it", () => {
    assert.throws(
      () => bucketQuantile(buckets, 1.5),
      /'q' must be in \[0, 1\]: current value is 1.5/,
    );
    assert.throws(
      () => bucketQuantile({ bounds: [1], cumulative: [1, 2] }, 0.5),
      /1 bounds and 2 counts/,
    );
  });
});

Deno.test("bucketsBetween() keeps what was observed between two snapshots", () => {
  const before = { bounds: [1, 2, Infinity], cumulative: [3, 5, 6] };
  const after = { bounds: [1, 2, Infinity], cumulative: [4, 9, 12] };
  assert.deepEqual(bucketsBetween(before, after).cumulative, [1, 4, 6]);
  assert.equal(bucketsBetween(undefined, after), after);
  assert.throws(
    () => bucketsBetween({ bounds: [1, Infinity], cumulative: [0, 0] }, after),
    RangeError,
  );
});

Deno.test("summarizeHop() gives the count, the mean from the sum, and p50 and p99", () => {
  const summary = summarizeHop({
    bounds: [1, 2, Infinity],
    cumulative: [50, 100, 100],
    sumMs: 120,
  });
  assert.deepEqual(summary, { count: 100, meanMs: 1.2, p50Ms: 1, p99Ms: 1.98 });
  assert.ok(Number.isNaN(summarizeHop({ bounds: [1], cumulative: [0], sumMs: 0 }).meanMs));
  assert.deepEqual(HOPS, ["features_to_model", "model", "model_to_metric", "metric"]);
});
