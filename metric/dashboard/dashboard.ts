/**
 * The metric service's dashboard, wired to its state: reads the statistics
 * once a second into a {@link DashboardHistory}, serves the page, its assets,
 * `/api/stats` and the histogram as SVG and PNG through the service's `route`
 * hook, adds the dashboard's numbers to `/metrics`, and writes
 * `error_distribution.svg` beside `metric_log.csv` every `plotEveryMs` (when
 * the count changed) and at shutdown (`plot_writer.ts`).
 *
 * Nothing on a timer renders a PNG: `/error_distribution.png` is rendered when
 * asked for, cached until the count changes (and at least a second,
 * `png_cache.ts`), by a Web Worker
 * started at the first request and stopped after `png.idleMs` without one
 * (`png_worker_host.ts`), so the worker's memory is spent only while someone
 * looks. The numbers themselves are computed in `history.ts` and `view.ts`,
 * the gauges defined in `../telemetry.ts`.
 *
 * @module
 */
import { errorText } from "../../stack/async.ts";
import type { Logger } from "../../stack/log.ts";
import type { Telemetry } from "../../stack/telemetry.ts";
import type { ErrorStats } from "../pairing/stats.ts";
import { startPeriodic } from "../periodic.ts";
import { createPlotMetrics, type HopSource, registerDashboardGauges } from "../telemetry.ts";
import { ASSETS } from "./assets.ts";
import { DashboardHistory, readingOf } from "./history.ts";
import { PNG_FILE, PNG_FONT, RESVG_WASM } from "./png.ts";
import { PngCache, type PngCacheOptions } from "./png_cache.ts";
import { PLOT_FILE, plotSvg, PlotWriter } from "./plot_writer.ts";
import { PngWorkerHost, type PngWorkerHostOptions } from "./png_worker_host.ts";
import { type DashboardView, dashboardView } from "./view.ts";

export { PLOT_FILE, PNG_FILE };

/** How often the history takes a reading. */
const TICK_MS = 1000;

/** What the dashboard reads and where it writes. */
export interface DashboardOptions {
  readonly stats: ErrorStats;
  /** Truths and predictions waiting for their other half (`pairer.pendingCount`). */
  readonly unpaired: () => number;
  readonly telemetry: Telemetry;
  readonly log: Logger;
  /** Where `error_distribution.svg` goes; `undefined` writes nothing. */
  readonly logDir?: string;
  /** How often to rewrite the plot when the count changed; 0 writes it only at {@link Dashboard.close}. */
  readonly plotEveryMs: number;
  /** Wall clock (tests pass their own). */
  readonly now?: () => number;
  /** The per-hop histograms, for "where the time goes"; none leaves the panel empty. */
  readonly hops?: HopSource;
  /** Called with the event-loop time of each timer run (`ml_metric_periodic_job_seconds`). */
  readonly observe?: (job: string, seconds: number, cpuSeconds?: number) => void;
  /**
   * How the PNG worker is started, watched and stopped when idle (`PNG_IDLE_MS`; tests inject
   * slow or failing workers).
   */
  readonly png?:
    & Pick<PngWorkerHostOptions, "createWorker" | "timeoutMs" | "restartDelayMs" | "idleMs">
    & Pick<PngCacheOptions, "minIntervalMs">;
}

/** See {@link startDashboard}. */
export interface Dashboard {
  /**
   * The service's `route` hook: the page, its assets, `/api/stats`, the live SVG and its PNG
   * (503 when the PNG cannot be rendered).
   */
  route(request: Request, url: URL): Promise<Response> | Response | undefined;
  /** The numbers `/api/stats` returns. */
  view(): Promise<DashboardView>;
  /** Takes one reading now (the timer does this every second). */
  tick(): void;
  /** Writes the SVG if the count changed since the last write; true when it wrote. */
  writePlot(): Promise<boolean>;
  /** Whether a PNG worker is alive now (one asked for the PNG less than `png.idleMs` ago). */
  readonly pngWorkerRunning: boolean;
  /** Stops the timers, writes the plot a last time and stops the PNG worker. */
  close(): Promise<void>;
}

// The page loads only its own files; uPlot sets inline styles on its elements.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Starts the reading timer and the plot timer, and registers the dashboard's
 * gauges on the service's registry; no PNG worker until the PNG is asked for.
 * Call {@link Dashboard.close} before exit.
 */
export function startDashboard(options: DashboardOptions): Dashboard {
  const { stats, telemetry, log } = options;
  const now = options.now ?? (() => Date.now());
  const history = new DashboardHistory();

  registerDashboardGauges(telemetry.registry, { stats, history });

  const tick = () => history.record(readingOf(stats.snapshot(), now()));
  tick();
  const onError = (job: string, error: unknown) =>
    log.error("periodic job {job} failed: {error}", { job, error: errorText(error) });
  const ticker = startPeriodic({
    name: "stats_reading",
    everyMs: TICK_MS,
    run: tick,
    observe: options.observe,
    onError,
  });

  async function deadLettered(): Promise<number> {
    const { values } = await telemetry.deadLettered.get();
    return values.reduce((sum, v) => sum + v.value, 0);
  }

  async function view(): Promise<DashboardView> {
    return dashboardView({
      atMs: now(),
      stats: stats.snapshot(),
      bins: stats.bins,
      deadLettered: await deadLettered(),
      unpaired: options.unpaired(),
      hops: await options.hops?.hopHistograms(),
    }, history);
  }

  const png = pngWorker(options);
  const pngCache = new PngCache({
    version: () => stats.count,
    svg: () => plotSvg(stats),
    render: (svg) => png.render(svg),
    minIntervalMs: options.png?.minIntervalMs,
  });
  const writer = options.logDir === undefined
    ? undefined
    : new PlotWriter({ stats, log, dir: options.logDir });
  // Drawn once now: the first call compiles the SVG code (~20 ms), better at start than later.
  plotSvg(stats);
  const writePlot = () => writer?.write() ?? Promise.resolve(false);
  const plotter = startPeriodic({
    name: "plot",
    everyMs: writer ? options.plotEveryMs : 0,
    run: writePlot,
    observe: options.observe,
    onError,
  });

  function route(request: Request, url: URL): Promise<Response> | Response | undefined {
    const path = url.pathname;
    const known = path === "/api/stats" || path === `/${PLOT_FILE}` || path === `/${PNG_FILE}` ||
      ASSETS.has(path);
    // Unknown paths fall through to the service's 404.
    if (!known) return undefined;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    return serve(request, path);
  }

  async function serve(request: Request, path: string): Promise<Response> {
    const headers = new Headers({ "x-content-type-options": "nosniff" });
    let body: string | Uint8Array<ArrayBuffer>;
    if (path === `/${PNG_FILE}`) {
      try {
        body = (await pngCache.get()) as Uint8Array<ArrayBuffer>;
      } catch (error) {
        log.error("cannot render {file} for a request: {error}", {
          file: PNG_FILE,
          error: errorText(error),
        });
        return new Response(`cannot render ${PNG_FILE}: ${errorText(error)}\n`, {
          status: 503,
          headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
        });
      }
      headers.set("content-type", "image/png");
      headers.set("cache-control", "no-store");
    } else if (path === "/api/stats") {
      headers.set("content-type", "application/json; charset=utf-8");
      headers.set("cache-control", "no-store");
      body = JSON.stringify(await view());
    } else if (path === `/${PLOT_FILE}`) {
      headers.set("content-type", "image/svg+xml; charset=utf-8");
      headers.set("cache-control", "no-store");
      body = plotSvg(stats);
    } else {
      const asset = ASSETS.get(path)!;
      headers.set("content-type", asset.contentType);
      // Assets change only with a new build; revalidating is cheap on loopback.
      headers.set("cache-control", "no-cache");
      if (asset.contentType.startsWith("text/html")) {
        headers.set("content-security-policy", CONTENT_SECURITY_POLICY);
      }
      body = asset.body;
    }
    return new Response(request.method === "HEAD" ? null : body, { headers });
  }

  return {
    route,
    view,
    tick,
    writePlot,
    get pngWorkerRunning() {
      return png.running;
    },
    async close() {
      ticker.stop();
      plotter.stop();
      await writePlot();
      png.close();
    },
  };
}

/** The PNG worker of the dashboard, its events logged and counted. */
function pngWorker(options: DashboardOptions): PngWorkerHost {
  const { log } = options;
  const metrics = createPlotMetrics(options.telemetry.registry);
  return new PngWorkerHost({
    ...options.png,
    readFiles: async () => ({
      wasm: await Deno.readFile(RESVG_WASM),
      font: await Deno.readFile(PNG_FONT),
    }),
    events: {
      loaded: (ms) => log.debug("PNG worker ready in {ms} ms", { ms: Math.round(ms) }),
      running(running) {
        metrics.running(running);
        log.debug(running ? "PNG worker started" : "PNG worker stopped", {});
      },
      rendered: metrics.rendered,
      failed: (reason, failures, retryInMs) =>
        log.error("PNG worker stopped ({failures} in a row): {reason}; another in {seconds} s", {
          failures,
          reason,
          seconds: Math.round(retryInMs / 1000),
        }),
      restarted: () => {
        metrics.restarted();
        log.warn("PNG worker started again", {});
      },
    },
  });
}
