import assert from "node:assert/strict";
import { ErrorStats } from "../pairing/stats.ts";
import { DashboardHistory, type Reading, readingOf, Ring } from "./history.ts";

function statsOf(errors: number[], replica = "model-a", version = "v1"): ErrorStats {
  const stats = new ErrorStats();
  for (const absoluteError of errors) stats.add({ absoluteError, modelVersion: version, replica });
  return stats;
}

function reading(atMs: number, count: number, errorSum: number, byReplica = {}): Reading {
  return { atMs, count, errorSum, byReplica };
}
Deno.test("Ring keeps the newest items up to its capacity, oldest first", async (t) => {
  await t.step("when not yet full", () => {
    const ring = new Ring<number>(3);
    ring.push(1);
    ring.push(2);
    assert.deepEqual(ring.toArray(), [1, 2]);
    assert.equal(ring.length, 2);
  });
  await t.step("when pushed past its capacity", () => {
    const ring = new Ring<number>(3);
    for (let i = 1; i <= 7; i++) ring.push(i);
    assert.deepEqual(ring.toArray(), [5, 6, 7]);
    assert.equal(ring.length, 3);
    assert.equal(ring.capacity, 3);
  });
  await t.step("when indexed from either end", () => {
    const ring = new Ring<string>(2);
    for (const s of ["a", "b", "c"]) ring.push(s);
    assert.equal(ring.at(0), "b");
    assert.equal(ring.at(-1), "c");
    assert.equal(ring.at(2), undefined);
    assert.equal(ring.at(-3), undefined);
  });
  await t.step("when the capacity is not a positive integer", () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new Ring(capacity), RangeError);
    }
  });
});

Deno.test("readingOf() turns a snapshot into counts and an error sum", () => {
  const stats = statsOf([10, 20, 30]);
  const r = readingOf(stats.snapshot(), 5_000);
  assert.equal(r.atMs, 5_000);
  assert.equal(r.count, 3);
  assert.ok(Math.abs(r.errorSum - 60) < 1e-9);
  assert.deepEqual(r.byReplica, { "model-a": 3 });
  assert.equal(readingOf(new ErrorStats().snapshot(), 0).errorSum, 0);
});

Deno.test("DashboardHistory derives time series from one reading a second", async (t) => {
  await t.step("when samples come in at a steady rate", () => {
    const history = new DashboardHistory({ historySeconds: 600, windowSeconds: 10 });
    // 5 samples a second, each with an error of 2.
    for (let s = 0; s <= 20; s++) history.record(reading(s * 1000, s * 5, s * 10));
    const series = history.series();
    assert.equal(series.t.length, 21);
    assert.equal(series.t[3], 3);
    assert.equal(series.samplesPerSecond[0], null);
    assert.deepEqual(series.samplesPerSecond.slice(1), new Array(20).fill(5));
    assert.equal(series.mae[0], null, "no MAE before the first sample");
    assert.deepEqual(series.mae.slice(1), new Array(20).fill(2));
    assert.equal(history.samplesPerSecond(), 5);
  });
  await t.step("when the recent MAE changes but the running MAE lags", () => {
    const history = new DashboardHistory({ windowSeconds: 2 });
    history.record(reading(0, 0, 0));
    history.record(reading(1000, 10, 10)); // ten samples with error 1
    history.record(reading(2000, 20, 20));
    history.record(reading(3000, 30, 120)); // ten samples with error 10
    history.record(reading(4000, 40, 220));
    const { mae, recentMae } = history.series();
    assert.deepEqual(mae, [null, 1, 1, 4, 5.5]);
    // Over the last 2 s: (120 - 10) / 20 and (220 - 20) / 20.
    assert.deepEqual(recentMae, [null, 1, 1, 5.5, 10]);
  });
  await t.step("when nothing arrives for a while", () => {
    const history = new DashboardHistory({ windowSeconds: 3 });
    history.record(reading(0, 4, 8));
    for (let s = 1; s <= 5; s++) history.record(reading(s * 1000, 4, 8));
    const series = history.series();
    assert.deepEqual(series.recentMae.slice(-2), [null, null]);
    assert.deepEqual(series.mae.slice(-1), [2]);
    assert.equal(history.samplesPerSecond(), 0);
  });
  await t.step("when more readings come than the history holds", () => {
    const history = new DashboardHistory({ historySeconds: 5 });
    for (let s = 0; s < 12; s++) history.record(reading(s * 1000, s, s));
    assert.equal(history.length, 5);
    assert.deepEqual(history.series().t, [7, 8, 9, 10, 11]);
  });
  await t.step("when there are fewer than two readings", () => {
    const history = new DashboardHistory();
    assert.equal(history.samplesPerSecond(), null);
    assert.deepEqual(history.replicas(), []);
    history.record(reading(0, 0, 0, { a: 0 }));
    assert.equal(history.samplesPerSecond(), null);
    assert.deepEqual(history.replicas(), [{ name: "a", perSecond: 0, total: 0 }]);
  });
  await t.step("when a reading goes back in time", () => {
    const history = new DashboardHistory();
    history.record(reading(2000, 0, 0));
    assert.throws(() => history.record(reading(1000, 0, 0)), RangeError);
  });
  await t.step("when the window is not positive", () => {
    assert.throws(() => new DashboardHistory({ windowSeconds: 0 }), RangeError);
  });
});

Deno.test("DashboardHistory.replicas() shows each model replica's recent throughput", async (t) => {
  await t.step("when a second replica joins", () => {
    const history = new DashboardHistory({ windowSeconds: 10 });
    for (let s = 0; s <= 10; s++) {
      const b = Math.max(0, s - 5) * 4; // model-b starts at 5 s, 4 per second
      history.record(
        reading(s * 1000, s * 2 + b, 0, { "model-a": s * 2, ...(b ? { "model-b": b } : {}) }),
      );
    }
    assert.deepEqual(history.replicas(), [
      { name: "model-a", perSecond: 2, total: 20 },
      { name: "model-b", perSecond: 2, total: 20 },
    ]);
  });
  await t.step("when a replica stopped before the window", () => {
    const history = new DashboardHistory({ windowSeconds: 2 });
    history.record(reading(0, 5, 0, { old: 5 }));
    for (let s = 1; s <= 4; s++) {
      history.record(reading(s * 1000, 5 + s * 3, 0, { old: 5, new: s * 3 }));
    }
    const replicas = history.replicas();
    assert.deepEqual(replicas.find((r) => r.name === "old"), {
      name: "old",
      perSecond: 0,
      total: 5,
    });
    assert.equal(replicas.find((r) => r.name === "new")?.perSecond, 3);
  });
});
