import assert from "node:assert/strict";
import process from "node:process";
import { backoffMs, errorText, sleep } from "./async.ts";

Deno.test("backoffMs() doubles from the first delay up to the cap", async (t) => {
  const middle = () => 0.5;
  const cases: [number, number][] = [
    [0, 500],
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [4, 8000],
    [5, 10_000],
    [6, 10_000],
    [30, 10_000],
    [1000, 10_000],
  ];
  for (const [attempt, expected] of cases) {
    await t.step(`attempt ${attempt} waits ${expected} ms`, () => {
      assert.equal(backoffMs(attempt, 500, 10_000, middle), expected);
    });
  }
});

Deno.test("backoffMs() jitters within ±20 % of the capped delay", async (t) => {
  const cases: [string, () => number, number, number][] = [
    ["lowest random, first attempt", () => 0, 0, 400],
    ["highest random, first attempt", () => 0.999999, 0, 600],
    ["lowest random, capped", () => 0, 20, 8000],
    ["highest random, capped", () => 0.999999, 20, 12_000],
    ["a quarter, second attempt", () => 0.25, 1, 900],
  ];
  for (const [name, random, attempt, expected] of cases) {
    await t.step(name, () => {
      assert.equal(backoffMs(attempt, 500, 10_000, random), expected);
    });
  }
  await t.step("with Math.random it stays in bounds", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const base = Math.min(10_000, 100 * 2 ** attempt);
      const delay = backoffMs(attempt, 100, 10_000);
      assert.ok(delay >= 0.8 * base && delay <= 1.2 * base, `attempt ${attempt}: ${delay}`);
    }
  });
  await t.step("an initial delay above the cap is capped", () => {
    assert.equal(backoffMs(0, 20_000, 5_000, () => 0.5), 5_000);
  });
});

Deno.test("errorText() gives the message of an Error and the text of anything else", () => {
  assert.equal(errorText(new Error("boom")), "boom");
  assert.equal(errorText(new RangeError("bad input")), "bad input");
  assert.equal(errorText("plain"), "plain");
  assert.equal(errorText(42), "42");
  assert.equal(errorText(undefined), "undefined");
});

Deno.test("sleep() waits, or stops waiting when its signal aborts", async (t) => {
  await t.step("it resolves after the time given", async () => {
    const started = performance.now();
    await sleep(30);
    assert.ok(performance.now() - started >= 29, `${performance.now() - started} ms`);
  });
  await t.step("a negative time resolves at once, without a warning on stderr", async () => {
    // features sleeps until a due time that may have passed already.
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      const started = performance.now();
      await sleep(-100);
      assert.ok(performance.now() - started < 1000);
      await sleep(5);
    } finally {
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings, []);
  });
  await t.step("an already aborted signal resolves at once", async () => {
    const controller = new AbortController();
    controller.abort();
    const started = performance.now();
    await sleep(60_000, controller.signal);
    assert.ok(performance.now() - started < 1000);
  });
  await t.step("an abort while waiting resolves early and leaves no timer", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(60_000, controller.signal);
    const waited = performance.now() - started;
    assert.ok(waited >= 15 && waited < 1000, `${waited} ms`);
    // The test sanitizer fails this step if the 60 s timer were still pending.
  });
  await t.step("an abort after the time is harmless", async () => {
    const controller = new AbortController();
    let settled = 0;
    await sleep(5, controller.signal).then(() => settled++);
    controller.abort();
    assert.equal(settled, 1);
  });
});
