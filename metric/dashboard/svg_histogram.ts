/**
 * The error histogram as a standalone SVG document, pure: the metric
 * service writes it beside `metric_log.csv` as `error_distribution.svg`, so
 * the distribution can be looked at (or attached to a report) without the
 * dashboard running. SVG rather than PNG: text, no renderer, no fonts to
 * ship, and every browser and image viewer opens it.
 *
 * @module
 */
import type { BinnedHistogram } from "./view.ts";

/** What the plot marks besides the bars. */
export interface HistogramMarks {
  /** Samples in the histogram. */
  readonly count: number;
  /** Mean absolute error; `null` or NaN when there are no samples. */
  readonly mae: number | null;
  /** Median absolute error; `null` or NaN when there are no samples. */
  readonly median: number | null;
}

/** Size and title of the plot. */
export interface SvgOptions {
  width?: number;
  height?: number;
  title?: string;
}

/** Colours shared with the dashboard page, so the two read the same. */
export const COLORS = {
  bar: "#4c78a8",
  mae: "#d62728",
  median: "#2ca02c",
  axis: "#444",
  grid: "#ddd",
} as const;

const MARGIN = { top: 48, right: 24, bottom: 52, left: 60 };

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ "<": "lt", ">": "gt", "&": "amp", '"': "quot", "'": "apos" }[c]};`,
  );
}

/** A round step so that `max / step` is about `ticks`: 1, 2 or 5 times a power of ten. */
export function niceStep(max: number, ticks: number): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  return Math.max(1, step);
}

function num(value: number): string {
  return Number(value.toFixed(2)).toString();
}

function usable(value: number | null): value is number {
  return value !== null && Number.isFinite(value);
}

/**
 * Renders `histogram` with the MAE and the median marked as vertical lines.
 * Errors at or above `overflowFrom` get one last bar labelled `≥ overflowFrom`.
 */
export function renderHistogramSvg(
  histogram: BinnedHistogram,
  marks: HistogramMarks,
  options: SvgOptions = {},
): string {
  const width = options.width ?? 720;
  const height = options.height ?? 400;
  const title = options.title ?? "Absolute error of the model's predictions";
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const { width: binWidth, counts, overflow, overflowFrom } = histogram;
  const bars = overflow > 0 ? [...counts, overflow] : [...counts];
  // The x axis is in error units up to the last regular bin. With overflow, one empty bin's
  // width stands for the errors between that bin and `overflowFrom` (none were seen), and the
  // overflow bar comes after it, so it does not read as the next regular bin.
  const regularSpan = counts.length * binWidth;
  const span = Math.max(binWidth, overflow > 0 ? regularSpan + 2 * binWidth : regularSpan);
  const x = (value: number) => MARGIN.left + (Math.min(value, span) / span) * plotW;
  /** Where an error value goes, the overflow and the gap before it included. */
  const position = (value: number) => {
    if (value <= regularSpan || overflow === 0) return x(value);
    if (value >= overflowFrom) return x(regularSpan + 1.5 * binWidth);
    return x(regularSpan + ((value - regularSpan) / (overflowFrom - regularSpan)) * binWidth);
  };
  /** Left edge of bar `k`, in error units. */
  const barStart = (k: number) =>
    overflow > 0 && k === bars.length - 1 ? regularSpan + binWidth : k * binWidth;
  const maxCount = Math.max(0, ...bars);
  const yStep = niceStep(maxCount, 5);
  const yMax = Math.max(yStep, Math.ceil(maxCount / yStep) * yStep);
  const y = (value: number) => MARGIN.top + plotH - (value / yMax) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  );

  // Horizontal grid and y labels.
  for (let v = 0; v <= yMax; v += yStep) {
    parts.push(
      `<line class="grid" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${num(y(v))}" y2="${
        num(y(v))
      }" stroke="${COLORS.grid}"/>`,
      `<text x="${MARGIN.left - 6}" y="${num(y(v) + 4)}" text-anchor="end">${v}</text>`,
    );
  }

  // Bars, one per bin, with a hairline gap so neighbours stay distinct.
  bars.forEach((count, k) => {
    if (count === 0) return;
    const left = x(barStart(k));
    const right = x(barStart(k) + binWidth);
    const isOverflow = overflow > 0 && k === bars.length - 1;
    const label = isOverflow
      ? `≥ ${overflowFrom}: ${count}`
      : `${k * binWidth}–${(k + 1) * binWidth}: ${count}`;
    parts.push(
      `<rect class="bar" x="${num(left + 0.5)}" y="${num(y(count))}" width="${
        num(Math.max(0.5, right - left - 1))
      }" height="${num(MARGIN.top + plotH - y(count))}" fill="${COLORS.bar}"><title>${
        escapeXml(label)
      }</title></rect>`,
    );
  });

  // X axis labels at round error values.
  const xStep = niceStep(regularSpan || binWidth, 8);
  for (
    let v = 0;
    v <= regularSpan;
    v += Math.max(binWidth, Math.ceil(xStep / binWidth) * binWidth)
  ) {
    parts.push(
      `<text x="${num(x(v))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${v}</text>`,
    );
  }
  if (overflow > 0) {
    parts.push(
      `<text x="${num(x(regularSpan + 1.5 * binWidth))}" y="${
        MARGIN.top + plotH + 16
      }" text-anchor="middle">≥ ${overflowFrom}</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${
      MARGIN.top + plotH
    }" stroke="${COLORS.axis}"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${
      MARGIN.top + plotH
    }" stroke="${COLORS.axis}"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${
      height - 12
    }" text-anchor="middle">absolute error (bins of ${binWidth})</text>`,
    `<text transform="translate(16 ${
      MARGIN.top + plotH / 2
    }) rotate(-90)" text-anchor="middle">samples</text>`,
  );

  // The marks, and a legend that also says how many samples there are.
  const legend = [`n = ${marks.count}`];
  for (
    const [name, value, color, dash] of [
      ["MAE", marks.mae, COLORS.mae, "6 4"],
      ["median", marks.median, COLORS.median, "2 3"],
    ] as const
  ) {
    if (!usable(value)) continue;
    legend.push(`${name} ${value.toFixed(1)}`);
    const at = num(position(value));
    // A white line under the dashes keeps the mark visible where it crosses a bar.
    parts.push(
      `<line x1="${at}" x2="${at}" y1="${MARGIN.top}" y2="${
        MARGIN.top + plotH
      }" stroke="#fff" stroke-width="4" opacity="0.8"/>`,
      `<line class="mark" data-mark="${name}" x1="${at}" x2="${at}" y1="${MARGIN.top}" y2="${
        MARGIN.top + plotH
      }" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"><title>${name} ${
        value.toFixed(2)
      }</title></line>`,
    );
  }
  if (marks.count === 0) {
    parts.push(
      `<text x="${MARGIN.left + plotW / 2}" y="${
        MARGIN.top + plotH / 2
      }" text-anchor="middle" fill="${COLORS.axis}">no samples yet</text>`,
    );
  }
  parts.push(
    `<text x="${width - MARGIN.right}" y="22" text-anchor="end">${
      escapeXml(legend.join(" · "))
    }</text>`,
  );
  // Small coloured keys under the title so the dashed lines can be told apart.
  parts.push(
    `<line x1="${MARGIN.left}" x2="${
      MARGIN.left + 24
    }" y1="36" y2="36" stroke="${COLORS.mae}" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${MARGIN.left + 30}" y="40">MAE (mean)</text>`,
    `<line x1="${MARGIN.left + 120}" x2="${
      MARGIN.left + 144
    }" y1="36" y2="36" stroke="${COLORS.median}" stroke-width="2" stroke-dasharray="2 3"/>`,
    `<text x="${MARGIN.left + 150}" y="40">median</text>`,
    "</svg>",
  );
  return parts.join("\n") + "\n";
}
