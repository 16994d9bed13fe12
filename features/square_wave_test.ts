import assert from "node:assert/strict";
import { Pacer } from "./pacer.ts";
import { parseSquareWave, squareWaveOf, wavePhase, waveSchedule } from "./square_wave.ts";

const WAVE = squareWaveOf({ ratePerSec: 50, highMs: 1_000, lowMs: 3_000 }, 100)!;

Deno.test("parseSquareWave() reads rate/highMs/lowMs, and empty as no wave", () => {
  assert.deepEqual(parseSquareWave("60/90000/600000"), {
    ratePerSec: 60,
    highMs: 90_000,
    lowMs: 600_000,
  });
  assert.deepEqual(parseSquareWave(" 2.5/10/20 "), { ratePerSec: 2.5, highMs: 10, lowMs: 20 });
  assert.equal(parseSquareWave(""), undefined);
  for (const bad of ["60", "60/90000", "0/1/1", "60/0/1", "a/b/c", "60/1.5/1", "-1/1/1"]) {
    assert.throws(() => parseSquareWave(bad), SyntaxError, bad);
  }
  assert.throws(() => parseSquareWave("60"), /like 60\/90000\/600000: current value is "60"/);
});

Deno.test("squareWaveOf() is off without a setting", () => {
  assert.equal(squareWaveOf(undefined, 100), undefined);
  assert.deepEqual(WAVE, { highIntervalMs: 20, lowIntervalMs: 100, highMs: 1_000, lowMs: 3_000 });
});

Deno.test("wavePhase() starts high, then alternates", () => {
  const at = (ms: number) => {
    const p = wavePhase(WAVE, ms);
    return `${p.level}${p.index}@${p.intervalMs}`;
  };
  assert.deepEqual([0, 999, 1_000, 3_999, 4_000, 5_000, 8_000].map(at), [
    "high0@20",
    "high0@20",
    "low1@100",
    "low1@100",
    "high2@20",
    "low3@100",
    "high4@20",
  ]);
});

Deno.test("waveSchedule() tells each phase once, as it begins", () => {
  const phases: string[] = [];
  const interval = waveSchedule(WAVE, (p) => phases.push(`${p.level} ${p.lengthMs}`));
  for (let ms = 0; ms < 9_000; ms += 50) interval(ms);
  assert.deepEqual(phases, ["high 1000", "low 3000", "high 1000", "low 3000", "high 1000"]);
});

Deno.test("a Pacer on a wave sends at each phase's rate, from the first sample of a phase", async () => {
  let now = 0;
  const pacer = new Pacer({
    intervalMs: waveSchedule(WAVE, () => {}),
    now: () => now,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
  });
  const sent: number[] = [];
  while (now < 8_000) {
    await pacer.wait();
    sent.push(now);
  }
  const within = (from: number, to: number) => sent.filter((t) => t >= from && t < to).length;
  assert.ok(Math.abs(within(0, 1_000) - 50) <= 1, `high: ${within(0, 1_000)}`);
  assert.ok(Math.abs(within(1_000, 4_000) - 30) <= 1, `low: ${within(1_000, 4_000)}`);
  assert.ok(Math.abs(within(4_000, 5_000) - 50) <= 1, `high again: ${within(4_000, 5_000)}`);
});
