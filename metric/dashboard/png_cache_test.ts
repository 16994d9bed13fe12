import assert from "node:assert/strict";
import { PngCache } from "./png_cache.ts";

/** A cache over a version the test sets and renders the test settles by hand. */
function harness() {
  const state = { version: 1, clock: 0 };
  const renders: { svg: string; done: PromiseWithResolvers<Uint8Array> }[] = [];
  const cache = new PngCache({
    version: () => state.version,
    svg: () => `<svg>${state.version}</svg>`,
    render(svg) {
      const done = Promise.withResolvers<Uint8Array>();
      renders.push({ svg, done });
      return done.promise;
    },
    minIntervalMs: 1000,
    now: () => state.clock,
  });
  /** Lets the cache call `render` (it does so a microtask after `get`). */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  const png = (text: string) => new TextEncoder().encode(text);
  return { state, renders, cache, settle, png };
}

Deno.test("PngCache renders once per version and serves the cached PNG meanwhile", async (t) => {
  const h = harness();
  await t.step("when the first request comes, it renders the current SVG", async () => {
    const first = h.cache.get();
    await h.settle();
    assert.deepEqual(h.renders.map((r) => r.svg), ["<svg>1</svg>"]);
    h.renders[0].done.resolve(h.png("one"));
    assert.equal(new TextDecoder().decode(await first), "one");
  });
  await t.step("when the version did not change, the cached PNG is served", async () => {
    assert.equal(new TextDecoder().decode(await h.cache.get()), "one");
    assert.equal(h.renders.length, 1);
  });
  await t.step(
    "when the version changed within minIntervalMs, the cached PNG is served",
    async () => {
      h.state.version = 2;
      h.state.clock = 999;
      assert.equal(new TextDecoder().decode(await h.cache.get()), "one");
      assert.equal(h.renders.length, 1);
    },
  );
  await t.step("when the version changed and minIntervalMs passed, it renders again", async () => {
    h.state.clock = 1000;
    const next = h.cache.get();
    await h.settle();
    assert.deepEqual(h.renders.map((r) => r.svg), ["<svg>1</svg>", "<svg>2</svg>"]);
    h.renders[1].done.resolve(h.png("two"));
    assert.equal(new TextDecoder().decode(await next), "two");
    assert.equal(h.cache.renders, 2);
  });
});

Deno.test("PngCache shares one render among the requests that come while it runs", async () => {
  const h = harness();
  const first = h.cache.get();
  // Samples keep coming during the render: the version moves on, the render is still shared.
  h.state.version = 2;
  const second = h.cache.get();
  h.state.version = 3;
  const third = h.cache.get();
  await h.settle();
  assert.equal(h.renders.length, 1);
  h.renders[0].done.resolve(h.png("one"));
  assert.deepEqual(await Promise.all([first, second, third]), [1, 2, 3].map(() => h.png("one")));
  // The picture is of version 1, so version 3 is drawn at the next request once it is old enough.
  h.state.clock = 5000;
  const fourth = h.cache.get();
  await h.settle();
  assert.deepEqual(h.renders.map((r) => r.svg), ["<svg>1</svg>", "<svg>3</svg>"]);
  h.renders[1].done.resolve(h.png("three"));
  await fourth;
});

Deno.test("PngCache rejects every sharer of a failed render and tries again at the next request", async () => {
  const h = harness();
  const requests = [h.cache.get(), h.cache.get()];
  await h.settle();
  h.renders[0].done.reject(new Error("the PNG worker failed: wasm trap"));
  for (const request of requests) await assert.rejects(request, /wasm trap/);
  const retry = h.cache.get();
  await h.settle();
  assert.equal(h.renders.length, 2, "the failure was not cached");
  h.renders[1].done.resolve(h.png("one"));
  assert.equal(new TextDecoder().decode(await retry), "one");
});

Deno.test("PngCache turns an SVG that cannot be drawn into a rejection", async () => {
  const cache = new PngCache({
    version: () => 1,
    svg: () => {
      throw new RangeError("Cannot bin errors");
    },
    render: () => Promise.resolve(new Uint8Array()),
  });
  await assert.rejects(cache.get(), RangeError);
});
