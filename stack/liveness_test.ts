import assert from "node:assert/strict";
import { Liveness, MAX_STALL_MS } from "./liveness.ts";

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

Deno.test("Liveness is live while the heartbeat is recent", async (t) => {
  await t.step("live right after it is made", () => {
    assert.equal(new Liveness({ now: clock().now }).problem(), undefined);
  });
  await t.step("live at the bound, stalled past it", () => {
    const time = clock();
    const liveness = new Liveness({ now: time.now, maxStallMs: 5_000 });
    time.advance(5_000);
    assert.equal(liveness.problem(), undefined);
    time.advance(1);
    assert.equal(
      liveness.problem(),
      "the event loop has not turned for 5001 ms (more than 5000 ms)",
    );
  });
  await t.step("a beat makes it live again", () => {
    const time = clock();
    const liveness = new Liveness({ now: time.now });
    time.advance(MAX_STALL_MS + 1);
    assert.notEqual(liveness.problem(), undefined);
    liveness.beat();
    assert.equal(liveness.problem(), undefined);
  });
});

Deno.test("Liveness is not live once the fatal-exit path started, beats or not", () => {
  const time = clock();
  const liveness = new Liveness({ now: time.now });
  liveness.fail("main loop failed: boom");
  liveness.fail("a second reason is ignored");
  liveness.beat();
  assert.equal(liveness.problem(), "exiting after a fatal error: main loop failed: boom");
});
