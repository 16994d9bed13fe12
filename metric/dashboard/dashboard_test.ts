import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { createTelemetry } from "../../stack/telemetry.ts";
import type { Logger } from "../../stack/log.ts";
import { type Dashboard, type DashboardOptions, PLOT_FILE, startDashboard } from "./dashboard.ts";
import { PNG_FILE, pngSize } from "./png.ts";
import { startPngWorker, type WorkerLike } from "./png_worker_host.ts";
import { ErrorStats } from "../pairing/stats.ts";

async function withDashboard(
  fn: (context: {
    dashboard: Dashboard;
    stats: ErrorStats;
    dir: string;
    metrics: () => Promise<string>;
  }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ml-dashboard-test-" });
  const stats = new ErrorStats();
  const telemetry = createTelemetry("metric", "test");
  telemetry.deadLettered.inc({ queue: "y_true", reason: "bad" }, 2);
  telemetry.deadLettered.inc({ queue: "y_pred", reason: "unpaired" });
  let clock = 1_000_000;
  const dashboard = startDashboard({
    stats,
    unpaired: () => 4,
    telemetry,
    // An unconfigured LogTape logger drops everything: quiet tests.
    log: getLogger(["metric-test"]),
    logDir: dir,
    plotEveryMs: 0,
    now: () => (clock += 1000),
  });
  try {
    await fn({ dashboard, stats, dir, metrics: () => telemetry.registry.metrics() });
  } finally {
    await dashboard.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function get(
  dashboard: Dashboard,
  path: string,
  method = "GET",
): Promise<Response> | Response | undefined {
  const url = new URL(path, "http://localhost:8003");
  return dashboard.route(new Request(url, { method }), url);
}

Deno.test("dashboard routes serve the page, its assets and the numbers", async (t) => {
  await withDashboard(async ({ dashboard, stats }) => {
    stats.add({ absoluteError: 12, modelVersion: "v1", replica: "model-a" });
    stats.add({ absoluteError: 30, modelVersion: "v1", replica: "model-b" });
    dashboard.tick();

    await t.step("when the page is asked for", async () => {
      const response = (await get(dashboard, "/"))!;
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type")!, /^text\/html/);
      assert.match(response.headers.get("content-security-policy")!, /default-src 'self'/);
      const html = await response.text();
      assert.ok(html.includes('src="vendor/uPlot.iife.min.js"'));
      assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(html), "the page loads nothing from elsewhere");
    });
    await t.step("when the vendored chart library is asked for", async () => {
      const response = (await get(dashboard, "/vendor/uPlot.iife.min.js"))!;
      assert.match(response.headers.get("content-type")!, /^text\/javascript/);
      assert.match(await response.text(), /var uPlot=/);
      const css = (await get(dashboard, "/vendor/uPlot.min.css"))!;
      assert.match(css.headers.get("content-type")!, /^text\/css/);
      await css.body?.cancel();
    });
    await t.step("when /api/stats is asked for", async () => {
      const response = (await get(dashboard, "/api/stats"))!;
      assert.equal(response.headers.get("cache-control"), "no-store");
      const view = await response.json();
      assert.equal(view.count, 2);
      assert.equal(view.mae, 21);
      assert.deepEqual(view.histogram.counts, [0, 1, 0, 1]);
      assert.equal(view.deadLettered, 3);
      assert.equal(view.unpaired, 4);
      assert.deepEqual(view.replicas.map((r: { name: string }) => r.name), ["model-a", "model-b"]);
      assert.deepEqual(view.versions, [{ version: "v1", count: 2, mae: 21 }]);
    });
    await t.step("when the live SVG is asked for", async () => {
      const response = (await get(dashboard, `/${PLOT_FILE}`))!;
      assert.match(response.headers.get("content-type")!, /^image\/svg\+xml/);
      assert.match(await response.text(), /<svg /);
    });
    await t.step("when the method is not GET or HEAD", async () => {
      const response = (await get(dashboard, "/api/stats", "POST"))!;
      assert.equal(response.status, 405);
      await response.body?.cancel();
      const head = (await get(dashboard, "/", "HEAD"))!;
      assert.equal(head.status, 200);
      assert.equal(head.body, null);
    });
    await t.step("when the path is not the dashboard's", () => {
      assert.equal(get(dashboard, "/nope"), undefined);
      assert.equal(get(dashboard, "/static/../main.ts"), undefined);
    });
  });
});

Deno.test("dashboard adds its gauges to /metrics", async () => {
  await withDashboard(async ({ stats, metrics }) => {
    stats.add({ absoluteError: 2, modelVersion: "v1", replica: "model-a" });
    stats.add({ absoluteError: 4, modelVersion: "v2", replica: "model-a" });
    const text = await metrics();
    for (
      const line of [
        'ml_metric_mae_by_version{model_version="v1",service="metric",replica="test"} 2',
        'ml_metric_mae_by_version{model_version="v2",service="metric",replica="test"} 4',
      ]
    ) assert.ok(text.includes(line), `${line} missing from:\n${text}`);
    for (
      const name of [
        "ml_metric_rmse",
        "ml_metric_median_absolute_error",
        "ml_metric_samples_per_second",
      ]
    ) {
      assert.match(text, new RegExp(`^${name}\\{`, "m"));
    }
  });
});

Deno.test("dashboard writes error_distribution.svg when the count changed", async (t) => {
  await withDashboard(async ({ dashboard, stats, dir }) => {
    const path = `${dir}/${PLOT_FILE}`;
    await t.step("when nothing was written yet", async () => {
      assert.equal(await dashboard.writePlot(), true);
      assert.match(await Deno.readTextFile(path), /no samples yet/);
    });
    await t.step("when no sample came in since", async () => {
      assert.equal(await dashboard.writePlot(), false);
    });
    await t.step("when samples came in", async () => {
      stats.add({ absoluteError: 7, modelVersion: "v1", replica: "model-a" });
      assert.equal(await dashboard.writePlot(), true);
      const svg = await Deno.readTextFile(path);
      assert.match(svg, /n = 1/);
      assert.equal(svg.match(/class="bar"/g)?.length, 1);
    });
    await t.step("when two writes overlap", async () => {
      stats.add({ absoluteError: 17, modelVersion: "v1", replica: "model-a" });
      const results = await Promise.all([dashboard.writePlot(), dashboard.writePlot()]);
      assert.deepEqual(results, [true, false]);
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, [PLOT_FILE], "no PNG and no temporary file");
      assert.equal(dashboard.pngWorkerRunning, false, "writing the plot starts no PNG worker");
    });
  });
});

Deno.test("dashboard writes the plot a last time on close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ml-dashboard-test-" });
  try {
    const stats = new ErrorStats();
    const dashboard = startDashboard({
      stats,
      unpaired: () => 0,
      telemetry: createTelemetry("metric", "test"),
      log: getLogger(["metric-test"]),
      logDir: dir,
      plotEveryMs: 60_000,
    });
    stats.add({ absoluteError: 3, modelVersion: "v1", replica: "model-a" });
    await dashboard.close();
    assert.match(await Deno.readTextFile(`${dir}/${PLOT_FILE}`), /n = 1/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A worker that loads, then dies of an uncaught error at its first render. */
function dyingWorker(): WorkerLike {
  const source = `self.onmessage = ({ data }) => {
    if (data.kind === "load") return self.postMessage({ kind: "loaded", ms: 0 });
    throw new Error("out of memory in the render");
  };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  return new Worker(url, { type: "module", name: "dying-png" });
}

/** A dashboard with no log directory whose PNG worker lives `idleMs`, and what it logged. */
function pngDashboard(png: DashboardOptions["png"]) {
  const telemetry = createTelemetry("metric", "test");
  const stats = new ErrorStats();
  const errors: string[] = [];
  const quiet = () => {};
  const log = {
    debug: quiet,
    info: quiet,
    warn: quiet,
    error: (message: string, properties: Record<string, unknown>) =>
      errors.push(message.replace(/\{(\w+)\}/g, (_, key) => String(properties[key]))),
  } as unknown as Logger;
  const dashboard = startDashboard({
    stats,
    unpaired: () => 0,
    telemetry,
    log,
    plotEveryMs: 0,
    png,
  });
  const metric = async (name: string) => {
    const text = await telemetry.registry.metrics();
    return Number(text.match(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, "m"))?.[1]);
  };
  return { dashboard, stats, errors, metric };
}

Deno.test("dashboard renders error_distribution.png on request, in a worker that lives while asked", async (t) => {
  const { dashboard, stats, metric } = pngDashboard({ idleMs: 1000, minIntervalMs: 0 });
  try {
    stats.add({ absoluteError: 3, modelVersion: "v1", replica: "model-a" });
    await t.step("when nobody asked, there is no worker", async () => {
      await dashboard.writePlot();
      assert.equal(dashboard.pngWorkerRunning, false);
      assert.equal(await metric("ml_metric_plot_worker_running"), 0);
    });
    await t.step("when the PNG is asked for, a worker starts and renders it", async () => {
      const response = (await get(dashboard, `/${PNG_FILE}`))!;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "image/png");
      assert.deepEqual(pngSize(await response.bytes()), { width: 720, height: 400 });
      assert.equal(dashboard.pngWorkerRunning, true);
      assert.equal(await metric("ml_metric_plot_worker_running"), 1);
      assert.equal(await metric("ml_metric_plot_render_seconds_count"), 1);
    });
    await t.step("when asked again with the same count, the cached PNG is served", async () => {
      const again = await (await get(dashboard, `/${PNG_FILE}`))!.bytes();
      assert.deepEqual(pngSize(again), { width: 720, height: 400 });
      assert.equal(await metric("ml_metric_plot_render_seconds_count"), 1);
    });
    await t.step("when the count changed, concurrent requests share one new render", async () => {
      stats.add({ absoluteError: 250, modelVersion: "v1", replica: "model-a" });
      const responses = await Promise.all([1, 2, 3].map(() => get(dashboard, `/${PNG_FILE}`)!));
      const bodies = await Promise.all(responses.map((r) => r.bytes()));
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
      assert.ok(bodies.every((b) => b.byteLength === bodies[0].byteLength));
      assert.equal(await metric("ml_metric_plot_render_seconds_count"), 2);
    });
    await t.step("when nobody asks for idleMs, the worker is stopped", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(dashboard.pngWorkerRunning, false);
      assert.equal(await metric("ml_metric_plot_worker_running"), 0);
    });
  } finally {
    await dashboard.close();
  }
});

Deno.test("dashboard answers 503 when the PNG worker fails, and keeps serving", async (t) => {
  const workers = [dyingWorker, startPngWorker];
  const { dashboard, stats, errors, metric } = pngDashboard({
    createWorker: () => workers.shift()!(),
    restartDelayMs: () => 0,
    minIntervalMs: 0,
  });
  try {
    stats.add({ absoluteError: 3, modelVersion: "v1", replica: "model-a" });
    await t.step(
      "when the worker dies in the render, the request gets a 503 and a log line",
      async () => {
        const response = (await get(dashboard, `/${PNG_FILE}`))!;
        assert.equal(response.status, 503);
        assert.match(
          await response.text(),
          /cannot render error_distribution.png: .*out of memory/,
        );
        assert.ok(
          errors.some((e) =>
            /cannot render error_distribution.png for a request: .*out of memory/.test(e)
          ),
          errors.join("\n"),
        );
      },
    );
    await t.step("when the rest of the dashboard is asked for, it answers", async () => {
      const response = (await get(dashboard, "/api/stats"))!;
      assert.equal(response.status, 200);
      assert.equal((await response.json()).count, 1);
    });
    await t.step("when the PNG is asked for again, a new worker renders it", async () => {
      const response = (await get(dashboard, `/${PNG_FILE}`))!;
      assert.equal(response.status, 200);
      assert.deepEqual(pngSize(await response.bytes()), { width: 720, height: 400 });
      assert.equal(await metric("ml_metric_plot_worker_restarts_total"), 1);
    });
  } finally {
    await dashboard.close();
  }
});
