import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { createTelemetry } from "../../stack/telemetry.ts";
import { type Dashboard, PLOT_FILE, startDashboard } from "./dashboard.ts";
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
    await t.step("the PNG is rendered from the same SVG, beside it", async () => {
      const png = await Deno.readFile(`${dir}/${PNG_FILE}`);
      const svg = await Deno.readTextFile(path);
      const [width, height] = ["width", "height"].map((a) =>
        Number(svg.match(new RegExp(`<svg[^>]* ${a}="(\\d+)"`))![1])
      );
      assert.deepEqual(pngSize(png), { width, height });
    });
    await t.step("when two writes overlap", async () => {
      stats.add({ absoluteError: 17, modelVersion: "v1", replica: "model-a" });
      const results = await Promise.all([dashboard.writePlot(), dashboard.writePlot()]);
      assert.deepEqual(results, [true, false]);
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(names, [PNG_FILE, PLOT_FILE], "no temporary file left behind");
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

Deno.test("dashboard starts a PNG worker again after one died, and writes the SVG meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ml-dashboard-test-" });
  const telemetry = createTelemetry("metric", "test");
  const stats = new ErrorStats();
  const workers = [dyingWorker, startPngWorker];
  const dashboard = startDashboard({
    stats,
    unpaired: () => 0,
    telemetry,
    log: getLogger(["metric-test"]),
    logDir: dir,
    plotEveryMs: 0,
    png: { createWorker: () => workers.shift()!(), restartDelayMs: () => 0 },
  });
  try {
    stats.add({ absoluteError: 3, modelVersion: "v1", replica: "model-a" });
    assert.equal(await dashboard.writePlot(), false, "the PNG failed with its worker");
    assert.match(await Deno.readTextFile(`${dir}/${PLOT_FILE}`), /n = 1/, "the SVG is there");
    assert.equal(await dashboard.writePlot(), true, "a new worker rendered the PNG");
    assert.deepEqual(pngSize(await Deno.readFile(`${dir}/${PNG_FILE}`)), {
      width: 720,
      height: 400,
    });
    const text = await telemetry.registry.metrics();
    assert.match(text, /^ml_metric_plot_worker_restarts_total\{[^}]*\} 1$/m);
    assert.match(text, /^ml_metric_plot_render_seconds_count\{[^}]*\} 1$/m);
  } finally {
    await dashboard.close();
    await Deno.remove(dir, { recursive: true });
  }
});
