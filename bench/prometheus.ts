/**
 * What the bench reads from metric's `/metrics` during a latency run: the per-hop histogram
 * (`ml_metric_hop_seconds`), the time each periodic job held the event loop
 * (`ml_metric_periodic_job_seconds`) and the PNG renders on the worker
 * (`ml_metric_plot_render_seconds`). Two scrapes, at the end of the cold start and at the end of
 * the run, give the steady state as their difference. Pure: text in, numbers out.
 *
 * @module
 */
import { bucketQuantile, type Buckets, bucketsBetween } from "../metric/hops.ts";

/** One histogram series of a scrape: buckets in ms, and the sum of its observations in ms. */
export interface ScrapedHistogram extends Buckets {
  readonly sumMs: number;
}

/** What a histogram's observations between two scrapes amount to, in ms. */
export interface HistogramFigures {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /**
   * The upper bound of the highest bucket anything fell in: no observation was longer (the
   * largest finite bound when something fell beyond it).
   */
  readonly maxBoundMs: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)\{([^}]*)\} (\S+)/;
const LABEL = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Each series of histogram `name` in a Prometheus text exposition, keyed by the value of label
 * `by` (e.g. `hop`), in ms (the exposition is in seconds).
 */
export function scrapedHistograms(
  text: string,
  name: string,
  by?: string,
): Record<string, ScrapedHistogram> {
  const series = new Map<string, { bounds: number[]; cumulative: number[]; sumMs: number }>();
  const entry = (key: string) => {
    let found = series.get(key);
    if (!found) series.set(key, found = { bounds: [], cumulative: [], sumMs: 0 });
    return found;
  };
  for (const line of text.split("\n")) {
    const match = SAMPLE.exec(line);
    if (!match || !match[1].startsWith(name)) continue;
    const suffix = match[1].slice(name.length);
    const labels = Object.fromEntries([...match[2].matchAll(LABEL)].map((m) => [m[1], m[2]]));
    const key = by ? labels[by] ?? "" : "";
    const value = parseValue(match[3]);
    if (suffix === "_bucket") {
      const le = labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(labels.le) * 1000;
      const found = entry(key);
      found.bounds.push(le);
      found.cumulative.push(value);
    } else if (suffix === "_sum") {
      entry(key).sumMs = value * 1000;
    }
  }
  return Object.fromEntries(series);
}

function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  return Number(text);
}

/** The figures of what `after` observed since `before` (or since the start without `before`). */
export function histogramFigures(
  before: ScrapedHistogram | undefined,
  after: ScrapedHistogram,
): HistogramFigures {
  const between = bucketsBetween(before, after);
  const count = between.cumulative.at(-1) ?? 0;
  const sumMs = after.sumMs - (before?.sumMs ?? 0);
  let highest = -1;
  for (let i = 0; i < between.cumulative.length; i++) {
    const inBucket = between.cumulative[i] - (i === 0 ? 0 : between.cumulative[i - 1]);
    if (inBucket > 0) highest = i;
  }
  const finiteBounds = between.bounds.filter(Number.isFinite);
  const maxBoundMs = highest < 0
    ? Number.NaN
    : Number.isFinite(between.bounds[highest])
    ? between.bounds[highest]
    : finiteBounds.at(-1) ?? Number.NaN;
  return {
    count,
    meanMs: count > 0 ? sumMs / count : Number.NaN,
    p50Ms: bucketQuantile(between, 0.5),
    p99Ms: bucketQuantile(between, 0.99),
    maxBoundMs,
  };
}

/**
 * The figures of every series of histogram `name` (keyed by label `by`) between two scrapes;
 * a series missing from `after` is left out.
 */
export function figuresBetween(
  before: string | undefined,
  after: string,
  name: string,
  by?: string,
): Record<string, HistogramFigures> {
  const from = before === undefined ? {} : scrapedHistograms(before, name, by);
  const to = scrapedHistograms(after, name, by);
  return Object.fromEntries(
    Object.entries(to).map(([key, histogram]) => [key, histogramFigures(from[key], histogram)]),
  );
}
