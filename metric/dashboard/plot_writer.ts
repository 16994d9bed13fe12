/**
 * `error_distribution.svg` and `error_distribution.png`, written beside `metric_log.csv`: the
 * SVG is drawn on the event loop (a fraction of a millisecond once warm), the PNG on the PNG
 * worker (`png_worker_host.ts`), and both are written aside and renamed so a reader never sees a
 * half-written file. The PNG is a convenience: without a worker, or while one restarts, the SVG
 * is still written.
 *
 * @module
 */
import { errorText } from "../../stack/async.ts";
import type { Logger } from "../../stack/log.ts";
import type { ErrorStats } from "../pairing/stats.ts";
import { PNG_FILE } from "./png.ts";
import { PngUnavailable, PngWorkerDown, type PngWorkerHost } from "./png_worker_host.ts";
import { renderHistogramSvg } from "./svg_histogram.ts";
import { binErrors } from "./view.ts";

/** The file written beside `metric_log.csv`. */
export const PLOT_FILE = "error_distribution.svg";

/** The histogram of `stats` as an SVG document: what the file and the dashboard's link show. */
export function plotSvg(stats: ErrorStats): string {
  const snapshot = stats.snapshot();
  return renderHistogramSvg(binErrors(stats.bins), snapshot, {
    title: `Absolute error of ${snapshot.count} predictions`,
  });
}

/**
 * A histogram drawn like the real ones (bars, the overflow bar, both marks, every kind of label),
 * for the PNG worker to warm up on before the first real plot.
 */
export function warmUpSvg(): string {
  const counts = Array.from({ length: 36 }, (_, k) => Math.round(900 * Math.exp(-k / 6)) + k % 3);
  return renderHistogramSvg(
    { width: 10, counts, overflow: 4, overflowFrom: 400 },
    { count: 5_000, mae: 43.21, median: 37.5 },
    { title: "Absolute error of 5000 predictions" },
  );
}

/** What {@link PlotWriter} reads and where it writes. */
export interface PlotWriterOptions {
  readonly stats: ErrorStats;
  readonly log: Logger;
  /** The directory of `metric_log.csv`. */
  readonly dir: string;
  /** Renders the PNG off the event loop; none writes the SVG alone. */
  readonly png?: Pick<PngWorkerHost, "render">;
}

/** Writes the plot when the count changed since the last write; see the module documentation. */
export class PlotWriter {
  readonly #options: PlotWriterOptions;
  #plottedCount = -1;
  #writing: Promise<boolean> | undefined;
  #pngUnavailable = false;

  constructor(options: PlotWriterOptions) {
    this.#options = options;
  }

  /** Whether a write is going on now. */
  get busy(): boolean {
    return this.#writing !== undefined;
  }

  /**
   * Writes the SVG and the PNG if the count changed since the last write; true when it wrote.
   * One write at a time: a call during a write waits for it and then checks again.
   */
  write(): Promise<boolean> {
    // Called directly when idle, so drawing the SVG happens within this call: the part a timer's
    // run holds the event loop for, and what `ml_metric_periodic_job_seconds` measures.
    const next = this.#writing ? this.#writing.then(() => this.#write()) : this.#write();
    this.#writing = next;
    void next.finally(() => {
      if (this.#writing === next) this.#writing = undefined;
    });
    return next;
  }

  async #write(): Promise<boolean> {
    const { stats, dir, log, png } = this.#options;
    const count = stats.count;
    if (count === this.#plottedCount) return false;
    let writingTo = `${dir}/${PLOT_FILE}`;
    try {
      const document = plotSvg(stats);
      await writeAside(writingTo, document);
      const image = png && !this.#pngUnavailable ? await this.#png(png, document) : undefined;
      if (image) {
        writingTo = `${dir}/${PNG_FILE}`;
        await writeAside(writingTo, image);
      }
      this.#plottedCount = count;
      return true;
    } catch (error) {
      // The plot is a convenience: failing to write it must not stop the metric.
      log.error("cannot write {path}: {error}", { path: writingTo, error: errorText(error) });
      return false;
    }
  }

  /** The PNG, or `undefined` when there is no worker to render it (now, or in this process). */
  async #png(png: Pick<PngWorkerHost, "render">, svg: string): Promise<Uint8Array | undefined> {
    try {
      return await png.render(svg);
    } catch (error) {
      if (error instanceof PngUnavailable) {
        this.#pngUnavailable = true;
        this.#options.log.warn("cannot render {file}: {error}; writing the SVG only", {
          file: PNG_FILE,
          error: errorText(error),
        });
        return undefined;
      }
      // The host logged the failure and starts another worker in a while.
      if (error instanceof PngWorkerDown) return undefined;
      throw error;
    }
  }
}

/** Writes `data` to `path` through a temporary file and a rename. */
async function writeAside(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp`;
  if (typeof data === "string") await Deno.writeTextFile(temporary, data);
  else await Deno.writeFile(temporary, data);
  await Deno.rename(temporary, path);
}
