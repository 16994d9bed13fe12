/**
 * The metric service's dashboard, wired to its state: reads the statistics
 * once a second into a {@link DashboardHistory}, serves the page, its assets
 * and `/api/stats` through the service's `route` hook, adds the dashboard's
 * numbers to `/metrics`, and writes `error_distribution.svg` and
 * `error_distribution.png` beside `metric_log.csv` every `plotEveryMs` (when
 * the count changed) and at shutdown (`plot_writer.ts`). The PNG is rendered
 * by a Web Worker started here, at start-up (`png_worker_host.ts`), so no
 * render runs on the event loop that pairs and acknowledges samples. The
 * numbers themselves are computed in `history.ts` and `view.ts`, the gauges
 * defined in `../telemetry.ts`.
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
import { PNG_FONT, RESVG_WASM } from "./png.ts";
import { PLOT_FILE, plotSvg, PlotWriter, warmUpSvg } from "./plot_writer.ts";
import { PngWorkerHost, type PngWorkerHostOptions } from "./png_worker_host.ts";
import { type DashboardView, dashboardView } from "./view.ts";

export { PLOT_FILE };

/** How often the history takes a reading. */
const TICK_MS = 1000;
/** Renders of a histogram each PNG worker makes as it loads: V8 has optimised resvg by then. */
const WARM_UP_RENDERS = 14;

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
  readonly observe?: (job: string, seconds: number) => void;
  /** How the PNG worker is started and watched (tests inject slow or failing workers). */
  readonly png?: Pick<
    PngWorkerHostOptions,
    "createWorker" | "timeoutMs" | "restartDelayMs" | "warmUp"
  >;
}

/** See {@link startDashboard}. */
export interface Dashboard {
  /** The service's `route` hook: the page, its assets, `/api/stats` and the live SVG. */
  route(request: Request, url: URL): Promise<Response> | Response | undefined;
  /** The numbers `/api/stats` returns. */
  view(): Promise<DashboardView>;
  /** Takes one reading now (the timer does this every second). */
  tick(): void;
  /** Writes the SVG (and the PNG) if the count changed since the last write; true when it wrote. */
  writePlot(): Promise<boolean>;
  /** Settles once the PNG worker exists (it may still be loading resvg), or failed to start. */
  readonly ready: Promise<void>;
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
 * Starts the reading timer, the plot timer and the PNG worker (when the plot
 * is written periodically), and registers the dashboard's gauges on the
 * service's registry. Call {@link Dashboard.close} before exit.
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

  const png = options.logDir === undefined ? undefined : pngWorker(options);
  const writer = options.logDir === undefined
    ? undefined
    : new PlotWriter({ stats, log, dir: options.logDir, png });
  // Drawn once now: the first call compiles the SVG code (~20 ms), better at start than later.
  plotSvg(stats);
  // The worker starts now, before any delivery: making its isolate holds this thread for tens of
  // ms. It loads resvg and warms up on its own thread meanwhile (failures are logged by events).
  let ready = Promise.resolve();
  if (options.plotEveryMs > 0 && png) {
    void png.start().catch(() => {});
    ready = png.whenStarted();
  }
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
    const known = path === "/api/stats" || path === `/${PLOT_FILE}` || ASSETS.has(path);
    // Unknown paths fall through to the service's 404.
    if (!known) return undefined;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    return serve(request, path);
  }

  async function serve(request: Request, path: string): Promise<Response> {
    const headers = new Headers({ "x-content-type-options": "nosniff" });
    let body: string;
    if (path === "/api/stats") {
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
    ready,
    async close() {
      ticker.stop();
      plotter.stop();
      await writePlot();
      png?.close();
    },
  };
}

/** The PNG worker of the dashboard, its events logged and counted. */
function pngWorker(options: DashboardOptions): PngWorkerHost {
  const { log } = options;
  const metrics = createPlotMetrics(options.telemetry.registry);
  return new PngWorkerHost({
    // Only a worker that renders all along gains from a warm-up; one that renders once, at
    // shutdown, would only be slower.
    ...(options.plotEveryMs > 0 ? { warmUp: { svg: warmUpSvg(), renders: WARM_UP_RENDERS } } : {}),
    ...options.png,
    readFiles: async () => ({
      wasm: await Deno.readFile(RESVG_WASM),
      font: await Deno.readFile(PNG_FONT),
    }),
    events: {
      loaded: (ms) => log.debug("PNG worker ready in {ms} ms", { ms: Math.round(ms) }),
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
