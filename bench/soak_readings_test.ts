import assert from "node:assert/strict";
import type { PairRecord } from "../metric/metric_log/format.ts";
import { readingEveryMs, readingStep, soakReading } from "./soak_readings.ts";

function row(latencyMs: number): PairRecord {
  return {
    id: crypto.randomUUID(),
    yTrue: 1,
    yPred: 2,
    absoluteError: 1,
    modelVersion: "v1",
    replica: "model-1",
    latencyMs,
    pairedAtMs: 0,
  };
}

Deno.test("readingEveryMs() reads each minute, or a tenth of a soak shorter than ten minutes", () => {
  assert.equal(readingEveryMs(60 * 60_000), 60_000);
  assert.equal(readingEveryMs(10 * 60_000), 60_000);
  assert.equal(readingEveryMs(2 * 60_000), 12_000);
  assert.throws(() => readingEveryMs(0), /duration must be positive: current value is 0 ms/);
});

Deno.test("soakReading() takes the percentiles of the rows since the reading before only", () => {
  const earlier = Array.from({ length: 50 }, () => row(1000));
  const interval = Array.from({ length: 100 }, (_, i) => row(i + 1));
  const reading = soakReading({
    atS: 20,
    previousAtS: 10,
    records: [...earlier, ...interval, row(Number.NaN)],
    previousRows: 50,
    memory: { metric: { rssBytes: 5, peakRssBytes: 7 } },
    diskBytes: 1234,
    queues: { features: 3 },
  });
  assert.equal(reading.rows, 151);
  assert.equal(reading.intervalRows, 101);
  assert.equal(reading.rowsPerSecond, 10.1);
  assert.equal(reading.p50Ms, 50.5);
  assert.ok(Math.abs(reading.p99Ms - 99.01) < 1e-9);
  assert.equal(reading.maxMs, 100);
  assert.equal(reading.diskBytes, 1234);
  assert.deepEqual(reading.queues, { features: 3 });
});

Deno.test("soakReading() gives NaN latencies for an interval without rows", () => {
  const reading = soakReading({
    atS: 5,
    previousAtS: 0,
    records: [],
    previousRows: 0,
    memory: {},
    diskBytes: 0,
    queues: {},
  });
  assert.equal(reading.intervalRows, 0);
  assert.equal(reading.rowsPerSecond, 0);
  assert.ok(Number.isNaN(reading.p99Ms));
});

Deno.test("readingStep() reads each interval, then once more when the last rows are in", async (t) => {
  const clock = { everyMs: 10_000, taken: 2, lastAtS: 20, seenRows: 500, count: 1000 };
  const cases = [
    { elapsedMs: 29_999, rows: 900, step: "wait" },
    { elapsedMs: 30_000, rows: 900, step: "read" },
    { elapsedMs: 26_000, rows: 1000, step: "read" },
    { elapsedMs: 22_000, rows: 1000, step: "fold" },
    { elapsedMs: 22_000, rows: 500, step: "wait" },
  ] as const;
  for (const { elapsedMs, rows, step } of cases) {
    await t.step(`${rows} rows at ${elapsedMs} ms: ${step}`, () => {
      assert.equal(readingStep({ ...clock, elapsedMs, rows }), step);
    });
  }
  assert.equal(
    readingStep({ ...clock, taken: 0, lastAtS: undefined, elapsedMs: 100, rows: 1000 }),
    "read",
  );
});
