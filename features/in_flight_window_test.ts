import assert from "node:assert/strict";
import { InFlightWindow } from "./in_flight_window.ts";

/** True when `promise` has settled after pending reactions ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

Deno.test("InFlightWindow bounds the work in flight", async (t) => {
  await t.step("room() resolves at once while below the limit", async () => {
    const window = new InFlightWindow(2);
    window.add(new Promise(() => {}));
    assert.equal(window.count, 1);
    assert.equal(await settled(window.room()), true);
  });

  await t.step("room() waits while full and resolves when one finishes", async () => {
    const window = new InFlightWindow(2);
    const first = Promise.withResolvers<void>();
    window.add(first.promise);
    window.add(new Promise(() => {}));
    const room = window.room();
    assert.equal(await settled(room), false);
    first.resolve();
    assert.equal(await settled(room), true);
    assert.equal(window.count, 1);
  });

  await t.step("a rejected piece frees its place too, and stays the caller's", async () => {
    const window = new InFlightWindow(1);
    const work = Promise.withResolvers<void>();
    window.add(work.promise);
    const room = window.room();
    work.reject(new Error("lost"));
    await assert.rejects(work.promise, /lost/);
    assert.equal(await settled(room), true);
    assert.equal(window.count, 0);
  });

  await t.step("several waiters share one promise and all wake", async () => {
    const window = new InFlightWindow(1);
    const work = Promise.withResolvers<void>();
    window.add(work.promise);
    const rooms = [window.room(), window.room(), window.drain()];
    work.resolve();
    for (const room of rooms) assert.equal(await settled(room), true);
  });

  await t.step("drain() waits for every piece", async () => {
    const window = new InFlightWindow(3);
    const pieces = [0, 1, 2].map(() => Promise.withResolvers<void>());
    for (const piece of pieces) window.add(piece.promise);
    const drained = window.drain();
    pieces[0].resolve();
    pieces[2].resolve();
    assert.equal(await settled(drained), false);
    pieces[1].resolve();
    assert.equal(await settled(drained), true);
  });

  await t.step("drain() of an empty window resolves at once", async () => {
    assert.equal(await settled(new InFlightWindow(1).drain()), true);
  });

  await t.step("a limit below 1 or not whole is refused", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new InFlightWindow(limit), RangeError, String(limit));
    }
  });
});
