/**
 * metric's `/metrics` taken during a bench run, when the CSV holds given numbers of pairs: the
 * per-hop and periodic-job histograms of the cold start and of the steady state
 * (`prometheus.ts` reads them).
 *
 * @module
 */

/** metric's `/metrics` at a moment of the run. */
export interface MetricScrape {
  /** Pairs in the CSV when it was taken. */
  readonly rows: number;
  readonly text: string;
}

/** See {@link metricScraper}. */
export interface MetricScraper {
  /** The scrapes taken so far, in order. */
  readonly taken: MetricScrape[];
  /** Called with the pairs in the CSV now; scrapes when a threshold is reached, or when `last`. */
  at(rows: number, last?: boolean): Promise<void>;
}

/**
 * Scrapes metric's `/metrics` on `port` the first time the CSV holds each of `thresholds` pairs (and
 * when told to, at the end). A scrape that fails is left out.
 */
export function metricScraper(port: number, thresholds: readonly number[]): MetricScraper {
  const pending = [...thresholds].sort((a, b) => a - b);
  const taken: MetricScrape[] = [];
  const scrape = async (rows: number) => {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      taken.push({ rows, text: await response.text() });
    } catch { /* the figures of this run go without it */ }
  };
  return {
    taken,
    async at(rows: number, last = false) {
      while (pending.length > 0 && rows >= pending[0]) {
        pending.shift();
        await scrape(rows);
      }
      if (last) await scrape(rows);
    },
  };
}
