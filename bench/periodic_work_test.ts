import assert from "node:assert/strict";
import { parseSnapshot } from "../metric/metric_log/snapshot.ts";
import {
  clockStepMs,
  largestOwnWork,
  type LongRunState,
  measurePeriodicWork,
  ownWorkFigures,
  PERIODIC_JOBS,
  periodicWork,
  timeJobs,
} from "./periodic_work.ts";

/** A long run's state, scaled down so that a test builds it at once. */
const SMALL: LongRunState = {
  errors: 2_000,
  modelVersions: 3,
  replicas: 3,
  prefetch: 10,
  pendingHalves: 5,
  readings: 30,
};

Deno.test("ownWorkFigures() gives the p50, p99 and max of a job's durations", async (t) => {
  const cases: [string, number[], { p50Ms: number; p99Ms: number; maxMs: number }][] = [
    ["one run", [0.25], { p50Ms: 0.25, p99Ms: 0.25, maxMs: 0.25 }],
    ["in any order", [3, 1, 2], { p50Ms: 2, p99Ms: 2.98, maxMs: 3 }],
    [
      "a hundred and one runs, one slow",
      [...Array.from({ length: 100 }, (_, i) => 0.01 * (i + 1)), 5],
      { p50Ms: 0.51, p99Ms: 1, maxMs: 5 },
    ],
  ];
  for (const [name, durations, expected] of cases) {
    await t.step(name, () => {
      const figures = ownWorkFigures(durations);
      for (const key of ["p50Ms", "p99Ms", "maxMs"] as const) {
        assert.ok(Math.abs(figures[key] - expected[key]) < 1e-9, `${key}: ${figures[key]}`);
      }
    });
  }
  await t.step("no runs", () => {
    assert.deepEqual(ownWorkFigures([]), { p50Ms: NaN, p99Ms: NaN, maxMs: NaN });
  });
});

Deno.test("largestOwnWork() names the job with the largest p99", () => {
  const at = (p99Ms: number) => ({ p50Ms: p99Ms / 2, p99Ms, maxMs: p99Ms * 2 });
  assert.deepEqual(
    largestOwnWork({ jobs: { expiry: at(0.05), plot: at(0.4), snapshot: at(0.3) } }),
    { job: "plot", p99Ms: 0.4 },
  );
  assert.equal(largestOwnWork({ jobs: {} }), undefined);
});

Deno.test("timeJobs() runs every job once a round, in turn, timing only the rounds after the warm-up", () => {
  let clock = 0;
  const calls: string[] = [];
  const job = (name: string, ms: number) => () => {
    calls.push(name);
    clock += ms;
  };
  const durations = timeJobs(
    { plot: job("plot", 0.5), expiry: job("expiry", 0.125) },
    { runs: 3, warmup: 2, now: () => clock },
  );
  assert.deepEqual(calls, Array.from({ length: 5 }, () => ["plot", "expiry"]).flat());
  assert.deepEqual(durations.plot, [0.5, 0.5, 0.5]);
  assert.deepEqual(durations.expiry, [0.125, 0.125, 0.125]);
});

Deno.test("timeJobs() refuses run counts that are not whole numbers", () => {
  const jobs = { plot: () => {} };
  assert.throws(
    () => timeJobs(jobs, { runs: 0, warmup: 0 }),
    new RangeError(
      "Cannot time the periodic jobs as 'runs' must be a positive integer: current value is 0",
    ),
  );
  assert.throws(
    () => timeJobs(jobs, { runs: 1, warmup: 1.5 }),
    new RangeError(
      "Cannot time the periodic jobs as 'warmup' must be a whole number: current value is 1.5",
    ),
  );
});

Deno.test("clockStepMs() gives the smallest step the clock moved by", () => {
  const readings = [0, 0, 0.5, 0.5, 0.5, 0.75, 1, 2];
  let i = 0;
  assert.equal(clockStepMs(() => readings[Math.min(i++, readings.length - 1)], 3), 0.25);
});

Deno.test("periodicWork() does each of metric's periodic jobs over a long run's state", async (t) => {
  const work = periodicWork(SMALL);
  assert.deepEqual(Object.keys(work).sort(), [...PERIODIC_JOBS]);
  const text = (bytes: unknown) => new TextDecoder().decode(bytes as Uint8Array);

  await t.step("plot: the SVG of every error, encoded", () => {
    const svg = text(work.plot());
    assert.match(svg, /^<svg/);
    assert.match(svg, /Absolute error of 2000 predictions/);
  });

  await t.step("snapshot: the state read, then its pieces, a run each, make the snapshot", () => {
    // The first run reads the state; the pieces follow: the head, the 20 ids in one, the end.
    work.snapshot();
    const pieces = [work.snapshot(), work.snapshot(), work.snapshot()] as Uint8Array[];
    const snapshot = parseSnapshot(pieces.map(text).join(""));
    assert.equal(snapshot.stats.count, 2_000);
    assert.equal(snapshot.stats.byVersion.length, 3);
    assert.equal(snapshot.stats.byReplica.length, 3);
    // 2 x PREFETCH of the window's 20,000 ids (its least), the newest.
    assert.equal(snapshot.seen.length, 20);
    assert.equal(snapshot.seen.at(-1), "00000000-0000-4000-8000-000000004e1f");
  });

  await t.step("mae_log: the JSON line metric logs", () => {
    const line = JSON.parse(text(work.mae_log()));
    assert.match(line.message, /^running MAE \d+(\.\d+)? over 2000 samples$/);
    assert.equal(line.count, 2_000);
  });

  await t.step("stats_reading and expiry run again and again, nothing due", () => {
    for (let i = 0; i < 3; i++) {
      work.stats_reading();
      work.expiry();
    }
  });
});

Deno.test("measurePeriodicWork() times every job and says over what state", () => {
  let clock = 0;
  const figures = measurePeriodicWork({
    runs: 4,
    warmup: 1,
    state: SMALL,
    now: () => (clock += 0.001),
  });
  assert.deepEqual(Object.keys(figures.jobs), [...PERIODIC_JOBS]);
  for (const job of Object.values(figures.jobs)) {
    assert.ok(Math.abs(job.p99Ms - 0.001) < 1e-9);
  }
  assert.equal(figures.runs, 4);
  assert.equal(figures.warmupRuns, 1);
  assert.ok(Math.abs(figures.clockStepMs - 0.001) < 1e-9);
  assert.deepEqual(figures.state, {
    errors: 2_000,
    modelVersions: 3,
    replicas: 3,
    recordedIds: 20_000,
    pendingHalves: 5,
    readings: 30,
  });
});
