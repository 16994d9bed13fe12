/**
 * `error_distribution.svg`, written beside `metric_log.csv`, aside and renamed so a reader never
 * sees a half-written file. Drawing it holds the event loop for about 0.1 ms with a million
 * samples (`plot_svg_bench.ts`), which is why the periodic plot is this file alone: the PNG is
 * rendered only when someone asks the dashboard for it (`png_cache.ts`).
 *
 * @module
 */
import { errorText } from "../../stack/async.ts";
import type { Logger } from "../../stack/log.ts";
import type { ErrorStats } from "../pairing/stats.ts";
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

/** What {@link PlotWriter} reads and where it writes. */
export interface PlotWriterOptions {
  readonly stats: ErrorStats;
  readonly log: Logger;
  /** The directory of `metric_log.csv`. */
  readonly dir: string;
}

/** Writes the plot when the count changed since the last write; see the module documentation. */
export class PlotWriter {
  readonly #options: PlotWriterOptions;
  #plottedCount = -1;
  #writing: Promise<boolean> | undefined;

  constructor(options: PlotWriterOptions) {
    this.#options = options;
  }

  /** Whether a write is going on now. */
  get busy(): boolean {
    return this.#writing !== undefined;
  }

  /**
   * Writes the SVG if the count changed since the last write; true when it wrote.
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
    const { stats, dir, log } = this.#options;
    const count = stats.count;
    if (count === this.#plottedCount) return false;
    const path = `${dir}/${PLOT_FILE}`;
    try {
      await writeAside(path, plotSvg(stats));
      this.#plottedCount = count;
      return true;
    } catch (error) {
      // The plot is a convenience: failing to write it must not stop the metric.
      log.error("cannot write {path}: {error}", { path, error: errorText(error) });
      return false;
    }
  }
}

/** Writes `data` to `path` through a temporary file and a rename. */
async function writeAside(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, text);
  await Deno.rename(temporary, path);
}
