import assert from "node:assert/strict";
import { intervalMsOf, MIN_CATCH_UP_MS, nextDue, Pacer } from "./pacer.ts";

Deno.test("nextDue() keeps a steady pace and restarts after a stall", async (t) => {
  const cases: [string, number, number, number, number][] = [
    ["on time: one interval later", 1000, 100, 1000, 1100],
    ["early: one interval later", 1000, 100, 950, 1100],
    ["a little late: still one interval later, to catch up", 1000, 100, 1150, 1100],
    ["exactly one interval behind: still catching up", 1000, 100, 1200, 1100],
    ["more than one interval behind: start afresh from now", 1000, 100, 1201, 1201],
    ["after a long stall: from now, no burst", 1000, 100, 60_000, 60_000],
    ["interval 0 never falls behind", 1000, 0, 5000, 5000],
  ];
  for (const [name, previous, interval, now, expected] of cases) {
    await t.step(name, () => {
      assert.equal(nextDue(previous, interval, now), expected);
    });
  }

  await t.step("a run with one stall keeps its pace before and after", () => {
    let due = 0;
    const dues: number[] = [];
    for (const now of [0, 100, 200, 900, 1000, 1100]) {
      due = nextDue(due, 100, now);
      dues.push(due);
    }
    assert.deepEqual(dues, [100, 200, 300, 900, 1000, 1100]);
  });
});

Deno.test("nextDue() catches up within max(interval, 100 ms)", async (t) => {
  const cases: [string, number, number, number, number][] = [
    ["1 ms interval, 50 ms late: catches up", 1000, 1, 1050, 1001],
    ["1 ms interval, exactly 100 ms late: catches up", 1000, 1, 1101, 1001],
    ["1 ms interval, more than 100 ms late: from now", 1000, 1, 1102, 1102],
    ["1 s interval, 1 s late: catches up", 0, 1000, 2000, 1000],
    ["1 s interval, more than 1 s late: from now", 0, 1000, 2001, 2001],
    ["a fractional interval keeps its fraction", 10, 0.5, 10, 10.5],
  ];
  for (const [name, previous, interval, now, expected] of cases) {
    await t.step(name, () => {
      assert.equal(nextDue(previous, interval, now), expected);
    });
  }
  await t.step("the floor is 100 ms", () => assert.equal(MIN_CATCH_UP_MS, 100));
});

Deno.test("intervalMsOf() lets RATE_PER_SEC override INTERVAL_MS", async (t) => {
  const cases: [string, number, number, number][] = [
    ["no rate: the interval", 250, 0, 250],
    ["a rate: its inverse", 250, 4, 250],
    ["1,000 per second: 1 ms", 1000, 1000, 1],
    ["3,000 per second: a third of a ms", 1000, 3000, 1000 / 3000],
    ["interval 0 and no rate: as fast as allowed", 0, 0, 0],
  ];
  for (const [name, intervalMs, ratePerSec, expected] of cases) {
    await t.step(name, () => assert.equal(intervalMsOf({ intervalMs, ratePerSec }), expected));
  }
});

/** A clock that only moves when slept on, or when the test moves it. */
function fakeClock(start = 0) {
  const clock = {
    time: start,
    slept: [] as number[],
    now: () => clock.time,
    sleep: (ms: number) => {
      clock.slept.push(ms);
      clock.time += ms;
      return Promise.resolve();
    },
  };
  return clock;
}

Deno.test("Pacer waits for each sample in turn", async (t) => {
  await t.step("the first sample is due at once, the rest one interval apart", async () => {
    const clock = fakeClock(1000);
    const pacer = new Pacer({ intervalMs: 100, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 4; i++) await pacer.wait();
    assert.deepEqual(clock.slept, [100, 100, 100]);
    assert.equal(clock.time, 1300);
  });

  await t.step("work between samples shortens the wait", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ intervalMs: 100, now: clock.now, sleep: clock.sleep });
    await pacer.wait();
    clock.time += 30;
    await pacer.wait();
    assert.deepEqual(clock.slept, [70]);
  });

  await t.step("a fractional wait is rounded up, never early", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ intervalMs: 0.5, now: clock.now, sleep: clock.sleep });
    await pacer.wait();
    await pacer.wait();
    assert.deepEqual(clock.slept, [1]);
  });

  await t.step("a short stall is caught up without sleeping", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ intervalMs: 10, now: clock.now, sleep: clock.sleep });
    await pacer.wait(); // due 10
    clock.time = 50; // 40 ms behind: within 100 ms
    for (let i = 0; i < 5; i++) await pacer.wait(); // 10, 20, 30, 40, 50 fell due
    assert.deepEqual(clock.slept, []);
    await pacer.wait();
    assert.deepEqual(clock.slept, [10]);
  });

  await t.step("after a long stall the schedule restarts from now", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ intervalMs: 10, now: clock.now, sleep: clock.sleep });
    await pacer.wait();
    clock.time = 5000;
    await pacer.wait(); // due 10 is far behind: the schedule restarts at 5000
    await pacer.wait(); // the sample due at 5000, not the 499 missed ones
    assert.deepEqual(clock.slept, []);
    await pacer.wait();
    assert.deepEqual(clock.slept, [10]);
    assert.equal(clock.time, 5010);
  });

  await t.step("interval 0 never waits", async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ intervalMs: 0, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 10; i++) await pacer.wait();
    assert.deepEqual(clock.slept, []);
  });

  await t.step("a NaN interval is refused", () => {
    assert.throws(
      () => new Pacer({ intervalMs: Number.NaN, now: () => 0, sleep: () => Promise.resolve() }),
      RangeError,
    );
  });
});
