import assert from "node:assert/strict";
import { startPeriodic, type TimerPorts } from "./periodic.ts";

/** Timers that fire only when the test says so. */
function fakeTimers() {
  const callbacks = new Map<number, () => void>();
  let next = 1;
  const timers: TimerPorts = {
    setInterval(callback, _ms) {
      callbacks.set(next, callback);
      return next++;
    },
    clearInterval(id) {
      callbacks.delete(id as number);
    },
  };
  return {
    timers,
    fire: () => [...callbacks.values()].forEach((callback) => callback()),
    callbacks,
  };
}

Deno.test("startPeriodic() times the synchronous part of every run", () => {
  const { timers, fire } = fakeTimers();
  let clock = 0;
  const observed: [string, number][] = [];
  const job = startPeriodic({
    name: "stats_reading",
    everyMs: 1000,
    run: () => void (clock += 0.25),
    observe: (name, seconds) => observed.push([name, seconds]),
    now: () => clock,
    timers,
  });
  fire();
  fire();
  assert.equal(job.runs, 2);
  assert.deepEqual(observed, [["stats_reading", 0.00025], ["stats_reading", 0.00025]]);
});

Deno.test("startPeriodic() skips a tick while the previous run is still going", async () => {
  const { timers, fire } = fakeTimers();
  let finish = () => {};
  let started = 0;
  const job = startPeriodic({
    name: "plot",
    everyMs: 10_000,
    run: () => {
      started++;
      return new Promise<void>((resolve) => (finish = resolve));
    },
    timers,
  });
  fire();
  assert.equal(job.busy, true);
  fire();
  fire();
  assert.deepEqual([started, job.skipped], [1, 2], "no run queued behind the slow one");
  finish();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(job.busy, false);
  fire();
  assert.deepEqual([started, job.runs], [2, 2]);
});

Deno.test("startPeriodic() reports a failed run and keeps its schedule", async () => {
  const { timers, fire } = fakeTimers();
  const errors: string[] = [];
  let calls = 0;
  startPeriodic({
    name: "expiry",
    everyMs: 500,
    run: () => {
      calls++;
      if (calls === 1) throw new Error("boom");
      return Promise.reject(new Error("later"));
    },
    onError: (name, error) => errors.push(`${name}: ${(error as Error).message}`),
    timers,
  });
  fire();
  fire();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(errors, ["expiry: boom", "expiry: later"]);
});

Deno.test("startPeriodic() with everyMs 0 sets no timer, and stop() clears it", () => {
  const { timers, callbacks } = fakeTimers();
  const off = startPeriodic({ name: "mae_log", everyMs: 0, run: () => {}, timers });
  assert.equal(callbacks.size, 0);
  off.stop();
  const on = startPeriodic({ name: "mae_log", everyMs: 5000, run: () => {}, timers });
  assert.equal(callbacks.size, 1);
  on.stop();
  assert.equal(callbacks.size, 0);
});
