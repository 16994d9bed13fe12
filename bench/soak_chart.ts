/**
 * A soak's series as a small standalone SVG line chart, hand-written like metric's
 * `error_distribution.svg` (`metric/dashboard/svg_histogram.ts`, whose helpers it shares): text,
 * no renderer, opens in any browser and shows in the markdown beside it. Pure.
 *
 * @module
 */
import { COLORS, escapeXml, niceStep } from "../metric/dashboard/svg_histogram.ts";

/** One line of a chart: a value per x; NaN leaves a gap. */
export interface ChartSeries {
  readonly name: string;
  readonly values: readonly number[];
}

/** What {@link renderLineChart} draws. */
export interface LineChart {
  readonly title: string;
  /** The y axis' unit, e.g. `MiB`. */
  readonly unit: string;
  /** The x of every point, in seconds. */
  readonly xs: readonly number[];
  readonly series: readonly ChartSeries[];
}

const PALETTE = [COLORS.bar, COLORS.mae, COLORS.median, "#ff7f0e", "#9467bd", "#8c564b"];
const MARGIN = { top: 40, right: 130, bottom: 40, left: 60 };
const WIDTH = 640;
const HEIGHT = 280;

/** Renders `chart` with its y axis from 0, a legend on the right and the x axis in minutes. */
export function renderLineChart(chart: LineChart): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const finite = chart.series.flatMap((s) => s.values.filter(Number.isFinite));
  const yStep = niceStep(Math.max(0, ...finite), 4);
  const yMax = Math.max(yStep, Math.ceil(Math.max(0, ...finite) / yStep) * yStep);
  const xMax = Math.max(1, ...chart.xs);
  const x = (value: number) => MARGIN.left + (value / xMax) * plotW;
  const y = (value: number) => MARGIN.top + plotH - (value / yMax) * plotH;
  const parts: string[] = [];
  for (let tick = 0; tick <= yMax + 1e-9; tick += yStep) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${num(y(tick))}" y2="${
        num(y(tick))
      }" stroke="${COLORS.grid}"/>`,
      `<text x="${MARGIN.left - 6}" y="${num(y(tick) + 4)}" text-anchor="end">${num(tick)}</text>`,
    );
  }
  const minuteStep = niceStep(xMax / 60, 5);
  for (let minute = 0; minute * 60 <= xMax + 1e-9; minute += minuteStep) {
    parts.push(
      `<text x="${num(x(minute * 60))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${
        num(minute)
      }</text>`,
    );
  }
  chart.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length];
    const segments: string[][] = [[]];
    series.values.forEach((value, j) => {
      if (Number.isFinite(value)) segments.at(-1)!.push(`${num(x(chart.xs[j]))},${num(y(value))}`);
      else if (segments.at(-1)!.length > 0) segments.push([]);
    });
    for (const points of segments.filter((s) => s.length > 0)) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(" ")}"/>`,
      );
    }
    const legendY = MARGIN.top + 14 + i * 18;
    parts.push(
      `<line x1="${WIDTH - MARGIN.right + 10}" x2="${
        WIDTH - MARGIN.right + 28
      }" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${WIDTH - MARGIN.right + 34}" y="${legendY + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="15">${escapeXml(chart.title)} (${
      escapeXml(chart.unit)
    })</text>`,
    ...parts,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${
      MARGIN.top + plotH
    }" stroke="${COLORS.axis}"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">minutes</text>`,
    "</svg>",
    "",
  ].join("\n");
}

function num(value: number): string {
  return Number(value.toFixed(2)).toString();
}
