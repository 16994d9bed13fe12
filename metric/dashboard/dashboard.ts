/**
 * The metric service's dashboard, wired to its state: reads the statistics
 * once a second into a {@link DashboardHistory}, serves the page, its assets
 * and `/api/stats` through the service's `route` hook, adds the dashboard's
 * numbers to `/metrics`, and writes `error_distribution.svg` (and, rendered
 * from it, `error_distribution.png`) beside `metric_log.csv` every
 * `plotEveryMs` (when the count changed) and at shutdown. The numbers
 * themselves are computed in `history.ts` and `view.ts`, the gauges defined
 * in `../telemetry.ts`.
 *
 * @module
 */
import { errorText } from "../../stack/async.ts";
import type { Logger } from "../../stack/log.ts";
import type { Telemetry } from "../../stack/telemetry.ts";
import type { ErrorStats } from "../pairing/stats.ts";
import { registerDashboardGauges } from "../telemetry.ts";
import { ASSETS } from "./assets.ts";
import { DashboardHistory, readingOf } from "./history.ts";
import { createPngRenderer, PNG_FILE, type PngRenderer } from "./png.ts";
import { renderHistogramSvg } from "./svg_histogram.ts";
import { binErrors, type DashboardView, dashboardView } from "./view.ts";

/** The file written beside `metric_log.csv`. */
export const PLOT_FILE = "error_distribution.svg";

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
}

/** See {@link startDashboard}. */
export interface Dashboard {
  /** The service's `route` hook: the page, its assets, `/api/stats` and the live SVG. */
  route(request: Request, url: URL): Promise<Response> | Response | undefined;
  /** The numbers `/api/stats` returns. */
  view(): Promise<DashboardView>;
  /** Takes one reading now (the timer does this every second). */
  tick(): void;
  /** Writes the SVG if the count changed since the last write; true when it wrote. */
  writePlot(): Promise<boolean>;
  /** Stops the timers and writes the plot a last time. */
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
 * Starts the reading timer and the plot timer and registers the dashboard's
 * gauges on the service's registry. Call {@link Dashboard.close} before exit.
 */
export function startDashboard(options: DashboardOptions): Dashboard {
  const { stats, telemetry, log } = options;
  const now = options.now ?? (() => Date.now());
  const history = new DashboardHistory();

  registerDashboardGauges(telemetry.registry, { stats, history });

  const tick = () => history.record(readingOf(stats.snapshot(), now()));
  tick();
  const ticker = setInterval(tick, TICK_MS);

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
    }, history);
  }

  function svg(): string {
    const snapshot = stats.snapshot();
    return renderHistogramSvg(binErrors(stats.bins), snapshot, {
      title: `Absolute error of ${snapshot.count} predictions`,
    });
  }

  // Loaded on the first write, once: the PNG is a convenience, so a renderer
  // that cannot load (a file missing or not readable) leaves the SVG alone.
  let renderer: Promise<PngRenderer | undefined> | undefined;
  function pngRenderer(): Promise<PngRenderer | undefined> {
    renderer ??= createPngRenderer().catch((error) => {
      log.warn("cannot render {file}: {error}; writing the SVG only", {
        file: PNG_FILE,
        error: errorText(error),
      });
      return undefined;
    });
    return renderer;
  }

  let plottedCount = -1;
  let writing: Promise<boolean> | undefined;
  async function write(dir: string): Promise<boolean> {
    const count = stats.count;
    if (count === plottedCount) return false;
    const path = `${dir}/${PLOT_FILE}`;
    // Write aside and rename: a reader never sees a half-written file.
    const temporary = `${path}.tmp`;
    let writingTo = path;
    try {
      const document = svg();
      await Deno.writeTextFile(temporary, document);
      await Deno.rename(temporary, path);
      const render = await pngRenderer();
      if (render) {
        writingTo = `${dir}/${PNG_FILE}`;
        await Deno.writeFile(`${writingTo}.tmp`, render(document));
        await Deno.rename(`${writingTo}.tmp`, writingTo);
      }
      plottedCount = count;
      return true;
    } catch (error) {
      // The plot is a convenience: failing to write it must not stop the metric.
      log.error("cannot write {path}: {error}", { path: writingTo, error: errorText(error) });
      return false;
    }
  }
  function writePlot(): Promise<boolean> {
    if (options.logDir === undefined) return Promise.resolve(false);
    // One write at a time; a call during a write waits for it and then checks again.
    const previous = writing ?? Promise.resolve(false);
    const next = previous.then(() => write(options.logDir!));
    writing = next;
    return next;
  }
  const plotter = options.plotEveryMs > 0
    ? setInterval(() => void writePlot(), options.plotEveryMs)
    : undefined;

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
      body = svg();
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
    async close() {
      clearInterval(ticker);
      clearInterval(plotter);
      await writePlot();
    },
  };
}
