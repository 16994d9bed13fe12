import assert from "node:assert/strict";
import { PNG_FONT, pngSize, RESVG_WASM } from "./png.ts";
import type { PngReply, PngRequest } from "./png_worker.ts";
import {
  PngUnavailable,
  PngWorkerDown,
  PngWorkerHost,
  type PngWorkerHostOptions,
  restartDelayMs,
  startPngWorker,
  type WorkerLike,
} from "./png_worker_host.ts";
import { renderHistogramSvg } from "./svg_histogram.ts";

/** A worker the test answers for; it records what it was sent and whether it was terminated. */
class FakeWorker implements WorkerLike {
  onmessage: ((event: MessageEvent<PngReply>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  readonly received: PngRequest[] = [];
  terminated = false;

  postMessage(message: PngRequest): void {
    this.received.push(message);
  }
  terminate(): void {
    this.terminated = true;
  }
  reply(data: PngReply): void {
    this.onmessage?.({ data } as MessageEvent<PngReply>);
  }
  crash(message: string): void {
    this.onerror?.(new ErrorEvent("error", { message, cancelable: true }));
  }
  /** Answers the last request as a healthy worker would. */
  answer(): void {
    const request = this.received.at(-1)!;
    this.reply(
      request.kind === "load" ? { kind: "loaded", ms: 5 } : {
        kind: "rendered",
        id: request.id,
        png: new TextEncoder().encode(`png of ${request.svg}`),
        ms: 2,
      },
    );
  }
}

/**
 * The `index`-th worker once the host has sent it `count` messages (the host reads its files
 * asynchronously before it starts a worker).
 */
async function sent(workers: FakeWorker[], index: number, count: number): Promise<FakeWorker> {
  for (let i = 0; i < 100; i++) {
    const worker = workers[index];
    if (worker && worker.received.length >= count) return worker;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  throw new Error(`the host sent worker ${index} fewer than ${count} messages`);
}

function harness(overrides: Partial<PngWorkerHostOptions> = {}) {
  const workers: FakeWorker[] = [];
  const events: string[] = [];
  const clock = { time: 0 };
  const host = new PngWorkerHost({
    readFiles: () => Promise.resolve({ wasm: new Uint8Array([0, 97]), font: new Uint8Array(3) }),
    createWorker: () => {
      const worker = new FakeWorker();
      workers.push(worker);
      return worker;
    },
    now: () => clock.time,
    events: {
      loaded: (ms) => events.push(`loaded ${ms}`),
      rendered: (ms) => events.push(`rendered ${ms}`),
      failed: (reason, failures, retryInMs) =>
        events.push(`failed ${failures} (${reason}), again in ${retryInMs}`),
      restarted: () => events.push("restarted"),
      running: (running) => events.push(running ? "running" : "stopped"),
    },
    ...overrides,
  });
  return { host, workers, events, clock };
}

Deno.test("PngWorkerHost starts its worker at the first render, loads resvg there and renders", async () => {
  const h = harness();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.workers.length, 0, "no worker before a render is asked for");
  assert.equal(h.host.running, false);
  const rendering = h.host.render("<svg/>");
  (await sent(h.workers, 0, 1)).answer();
  const worker = await sent(h.workers, 0, 2);
  assert.deepEqual(worker.received.map((m) => m.kind), ["load", "render"]);
  worker.answer();
  assert.equal(new TextDecoder().decode(await rendering), "png of <svg/>");
  assert.deepEqual(h.events, ["running", "loaded 5", "rendered 2"]);
  assert.equal(h.host.started, 1);
  assert.equal(h.host.running, true);
  h.host.close();
  assert.equal(worker.terminated, true);
  assert.equal(h.host.running, false);
});

Deno.test("PngWorkerHost stops its worker once no render came for idleMs", async (t) => {
  const h = harness({ idleMs: 300 });
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const renderNow = async (index: number, svg: string) => {
    const rendering = h.host.render(svg);
    const worker = h.workers[index];
    const before = worker?.received.length ?? 0;
    if (!worker || worker.terminated) (await sent(h.workers, index, 1)).answer();
    (await sent(h.workers, index, worker && !worker.terminated ? before + 1 : 2)).answer();
    return await rendering;
  };
  await t.step(
    "when renders come closer together than idleMs, one worker does them all",
    async () => {
      await renderNow(0, "<svg>1</svg>");
      await wait(150);
      await renderNow(0, "<svg>2</svg>");
      // 350 ms after the first render: only a timer put off by the second keeps the worker.
      await wait(200);
      assert.equal(h.host.running, true, "the second render put the idle stop off");
      assert.equal(h.workers[0].terminated, false);
    },
  );
  await t.step("when idleMs passes without a render, the worker is terminated", async () => {
    await wait(250);
    assert.equal(h.host.running, false);
    assert.equal(h.workers[0].terminated, true);
    assert.deepEqual(h.events.filter((e) => e === "running" || e === "stopped"), [
      "running",
      "stopped",
    ]);
  });
  await t.step(
    "when a render comes after that, a new worker starts and it is no restart",
    async () => {
      assert.equal(
        new TextDecoder().decode(await renderNow(1, "<svg>3</svg>")),
        "png of <svg>3</svg>",
      );
      assert.equal(h.host.started, 2);
      assert.ok(!h.events.includes("restarted"), "an idle stop is not a failure");
    },
  );
  h.host.close();
});

Deno.test("PngWorkerHost replaces a worker that dies, after a delay", async (t) => {
  const h = harness();
  const first = h.host.render("<svg>1</svg>");
  (await sent(h.workers, 0, 1)).answer();
  const worker = await sent(h.workers, 0, 2);

  await t.step("when the worker dies mid-render, the render is rejected", async () => {
    worker.crash("wasm trap: unreachable");
    await assert.rejects(first, /the PNG worker failed: wasm trap: unreachable/);
    assert.equal(worker.terminated, true);
    assert.deepEqual(h.events, [
      "running",
      "loaded 5",
      "stopped",
      "failed 1 (the PNG worker failed: wasm trap: unreachable), again in 1000",
    ]);
  });
  await t.step("when a render comes before the delay is over, it is refused", async () => {
    h.clock.time = 999;
    await assert.rejects(h.host.render("<svg>2</svg>"), PngWorkerDown);
    assert.equal(h.workers.length, 1, "no worker started meanwhile");
  });
  await t.step("when the delay is over, a new worker renders", async () => {
    h.clock.time = 1000;
    const rendering = h.host.render("<svg>3</svg>");
    (await sent(h.workers, 1, 1)).answer();
    (await sent(h.workers, 1, 2)).answer();
    assert.equal(new TextDecoder().decode(await rendering), "png of <svg>3</svg>");
    assert.equal(h.host.started, 2);
    assert.ok(h.events.includes("restarted"));
  });
  h.host.close();
});

Deno.test("PngWorkerHost gives up on a render that outlasts its timeout", async () => {
  const h = harness({ timeoutMs: 30 });
  const rendering = h.host.render("<svg/>");
  (await sent(h.workers, 0, 1)).answer();
  const stuck = await sent(h.workers, 0, 2);
  await assert.rejects(rendering, /no answer from the PNG worker within 30 ms/);
  assert.equal(stuck.terminated, true);
  // A late answer of the stuck worker settles nothing.
  stuck.answer();
  h.host.close();
});

Deno.test("PngWorkerHost says for good when resvg cannot load", async (t) => {
  await t.step("when its files cannot be read", async () => {
    const h = harness({
      readFiles: () => Promise.reject(new Deno.errors.NotCapable("Requires read access")),
    });
    await assert.rejects(h.host.render("<svg/>"), PngUnavailable);
    await assert.rejects(h.host.render("<svg/>"), /Requires read access/);
    assert.equal(h.workers.length, 0);
  });
  await t.step("when the worker cannot instantiate it", async () => {
    const h = harness();
    const rendering = h.host.render("<svg/>");
    (await sent(h.workers, 0, 1)).reply({ kind: "failed", error: "CompileError: bad magic" });
    await assert.rejects(rendering, PngUnavailable);
    assert.equal(h.workers[0].terminated, true);
    await assert.rejects(h.host.render("<svg/>"), /bad magic/);
    assert.equal(h.workers.length, 1, "not started again");
  });
});

Deno.test("PngWorkerHost rejects what is waiting when closed", async () => {
  const h = harness();
  const rendering = h.host.render("<svg/>");
  await sent(h.workers, 0, 1);
  h.host.close();
  await assert.rejects(rendering, /closed/);
  await assert.rejects(h.host.render("<svg/>"), /closed/);
});

Deno.test("restartDelayMs() doubles from 1 s up to 5 minutes", () => {
  assert.deepEqual([0, 1, 2, 3, 9, 10, 50].map(restartDelayMs), [
    0,
    1000,
    2000,
    4000,
    256_000,
    300_000,
    300_000,
  ]);
});

Deno.test("startPngWorker() renders the histogram in a real worker", async () => {
  const host = new PngWorkerHost({
    readFiles: async () => ({
      wasm: await Deno.readFile(RESVG_WASM),
      font: await Deno.readFile(PNG_FONT),
    }),
    createWorker: startPngWorker,
  });
  try {
    const svg = renderHistogramSvg(
      { width: 10, counts: [3, 5, 8, 13, 21], overflow: 0, overflowFrom: 400 },
      { count: 50, mae: 31, median: 33 },
    );
    assert.deepEqual(pngSize(await host.render(svg)), { width: 720, height: 400 });
  } finally {
    host.close();
  }
});
