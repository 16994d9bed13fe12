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

Deno.test("startPeriodic() times the synchronous part of every run, on the wall clock and in CPU", () => {
  const { timers, fire } = fakeTimers();
  let clock = 0;
  let cpu = 100;
  const observed: [string, number, number][] = [];
  const job = startPeriodic({
    name: "stats_reading",
    everyMs: 1000,
    // 0.25 ms of wall time, of which 0.05 ms of CPU: the rest the core was given to others.
    run: () => {
      clock += 0.25;
      cpu += 0.05;
    },
    observe: (name, seconds, cpuSeconds) => observed.push([name, seconds, cpuSeconds]),
    now: () => clock,
    cpuMs: () => cpu,
    timers,
  });
  fire();
  cpu += 3; // between runs: not the job's
  fire();
  assert.equal(job.runs, 2);
  const rounded = observed.map(([name, s, c]) => [name, s, Number(c.toFixed(6))]);
  assert.deepEqual(rounded, [["stats_reading", 0.00025, 0.00005], [
    "stats_reading",
    0.00025,
    0.00005,
  ]]);
});

Deno.test("startPeriodic() times each stretch a run wraps in its step, after an await too", async () => {
  const { timers, fire } = fakeTimers();
  let clock = 0;
  const observed: [string, number][] = [];
  let done: Promise<unknown> = Promise.resolve();
  startPeriodic({
    name: "snapshot",
    everyMs: 60_000,
    run: (step) => {
      clock += 0.1; // the synchronous part: 0.1 ms
      done = (async () => {
        await Promise.resolve(); // e.g. the writer's flush
        const bytes = step(() => {
          clock += 0.75; // reading and serialising the state
          return 80_000;
        });
        clock += 5; // waiting for the file: not the loop's time
        return bytes;
      })();
      return done;
    },
    observe: (name, seconds) => observed.push([name, seconds]),
    now: () => clock,
    cpuMs: () => 0,
    timers,
  });
  fire();
  assert.equal(await done, 80_000, "the step passes its stretch's result through");
  assert.deepEqual(observed.map(([name, s]) => [name, Number((s * 1000).toFixed(6))]), [
    ["snapshot", 0.1],
    ["snapshot", 0.75],
  ]);
});

Deno.test("startPeriodic() reads the process's CPU time by default", () => {
  const { timers, fire } = fakeTimers();
  let cpuSeconds = -1;
  startPeriodic({
    name: "busy",
    everyMs: 1000,
    run: () => {
      // About 20 ms of work on this thread.
      const until = performance.now() + 20;
      let x = 0;
      while (performance.now() < until) x += Math.sqrt(x + 1);
      return void x;
    },
    observe: (_name, _seconds, cpu) => (cpuSeconds = cpu),
    timers,
  });
  fire();
  // Spinning for 20 ms uses CPU unless the core was taken away for most of it: loose bounds.
  assert.ok(cpuSeconds > 0.002 && cpuSeconds < 1, `${cpuSeconds} s of CPU`);
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
