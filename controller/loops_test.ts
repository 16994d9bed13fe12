import assert from "node:assert/strict";
import { type ControlLoop, runLoops } from "./loops.ts";

/** Runs `loops` on a fake clock until it reaches `untilMs`; the ticks and reports seen. */
async function runUntil(loops: ControlLoop[], untilMs: number) {
  let clock = 0;
  const stop = new AbortController();
  const seen: string[] = [];
  await runLoops(loops, {
    signal: stop.signal,
    now: () => clock,
    sleep: (ms) => {
      clock += ms;
      if (clock >= untilMs) stop.abort();
      return Promise.resolve();
    },
    observer: {
      ticked: (name, s) => seen.push(`${name} ok in ${s} s`),
      failed: (name, s, error) =>
        seen.push(`${name} failed in ${s} s: ${(error as Error).message}`),
    },
  });
  return { seen, advance: (ms: number) => clock += ms, now: () => clock };
}

function loop(name: string, intervalMs: number, ticks: number[], fail = false): ControlLoop {
  return {
    name,
    intervalMs,
    tick(nowMs) {
      ticks.push(nowMs);
      return fail ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
  };
}

Deno.test("runLoops() starts a tick every interval until aborted", async () => {
  const ticks: number[] = [];
  const { seen } = await runUntil([loop("a", 100, ticks)], 500);
  assert.deepEqual(ticks, [0, 100, 200, 300, 400]);
  assert.equal(seen[0], "a ok in 0 s");
});

Deno.test("runLoops() goes on after a tick that throws, and reports it", async () => {
  const ticks: number[] = [];
  const { seen } = await runUntil([loop("b", 250, ticks, true)], 500);
  assert.deepEqual(ticks, [0, 250]);
  assert.deepEqual(seen, ["b failed in 0 s: boom", "b failed in 0 s: boom"]);
});
