/**
 * Whether a soak stayed flat: its last third against its middle third (the first third holds the
 * cold start: JIT warm-up and heaps growing to their working size). Pure.
 *
 * @module
 */
import type { SoakReading } from "./soak_readings.ts";
import { formatNumber, percentile } from "./stats.ts";

const MIB = 1024 * 1024;

/** How far the last third may drift from the middle third and still count as flat. */
export const SOAK_TOLERANCE = {
  /** Each process's mean resident set may grow this much (bytes). */
  rssBytes: 10 * MIB,
  /** The median of the intervals' p99 may grow to this many times the middle third's, plus `p99SlackMs`. */
  p99Ratio: 1.5,
  p99SlackMs: 1,
  /** Disk bytes per recorded row may differ by this fraction (the log grows linearly with rows). */
  bytesPerRowRatio: 0.1,
  /** The deepest a queue gets may exceed the middle third's by this many messages (a second's worth). */
  queueMessages: 1000,
} as const;

/** One series compared between the thirds. */
export interface SoakCheck {
  /** E.g. `metric RSS`, `p99`, `disk per row`, `features queue`. */
  readonly series: string;
  readonly middle: number;
  readonly last: number;
  readonly unit: string;
  readonly flat: boolean;
}

/** The verdict on a soak. */
export interface SoakVerdict {
  /** Every check passed; false too when there were fewer than three readings. */
  readonly flat: boolean;
  readonly checks: readonly SoakCheck[];
  /** "flat", or the series that grew, or why no verdict could be given. */
  readonly text: string;
}

/** The readings in three thirds (the last takes the remainder); undefined with fewer than three. */
export function thirds(
  readings: readonly SoakReading[],
): [SoakReading[], SoakReading[], SoakReading[]] | undefined {
  const n = readings.length;
  if (n < 3) return undefined;
  const a = Math.floor(n / 3);
  const b = Math.floor((2 * n) / 3);
  return [readings.slice(0, a), readings.slice(a, b), readings.slice(b)];
}

/** Compares the last third of `readings` with its middle third against {@link SOAK_TOLERANCE}. */
export function soakVerdict(readings: readonly SoakReading[]): SoakVerdict {
  const split = thirds(readings);
  if (!split) {
    return {
      flat: false,
      checks: [],
      text: `no verdict: ${readings.length} reading(s), at least 3 needed`,
    };
  }
  const [first, middle, last] = split;
  const checks: SoakCheck[] = [];
  const processes = Object.keys(last.at(-1)!.memory);
  for (const name of processes) {
    const mean = (part: SoakReading[]) =>
      average(part.map((r) => r.memory[name]?.rssBytes).filter(isNumber)) / MIB;
    const [m, l] = [mean(middle), mean(last)];
    // A process not seen in one of the thirds has nothing to compare.
    if (!Number.isFinite(m) || !Number.isFinite(l)) continue;
    checks.push({
      series: `${name} RSS`,
      middle: m,
      last: l,
      unit: "MiB",
      flat: l - m <= SOAK_TOLERANCE.rssBytes / MIB,
    });
  }
  const p99 = (part: SoakReading[]) => median(part.map((r) => r.p99Ms).filter(Number.isFinite));
  const [p99Middle, p99Last] = [p99(middle), p99(last)];
  checks.push({
    series: "p99",
    middle: p99Middle,
    last: p99Last,
    unit: "ms",
    flat: p99Last <= p99Middle * SOAK_TOLERANCE.p99Ratio + SOAK_TOLERANCE.p99SlackMs,
  });
  const perRow = (from: SoakReading, to: SoakReading) =>
    (to.diskBytes - from.diskBytes) / (to.rows - from.rows);
  const [rowMiddle, rowLast] = [
    perRow(first.at(-1)!, middle.at(-1)!),
    perRow(middle.at(-1)!, last.at(-1)!),
  ];
  checks.push({
    series: "disk per row",
    middle: rowMiddle,
    last: rowLast,
    unit: "B",
    flat: Math.abs(rowLast - rowMiddle) <= Math.abs(rowMiddle) * SOAK_TOLERANCE.bytesPerRowRatio,
  });
  for (const queue of Object.keys(last.at(-1)!.queues)) {
    const deepest = (part: SoakReading[]) => Math.max(0, ...part.map((r) => r.queues[queue] ?? 0));
    const [m, l] = [deepest(middle), deepest(last)];
    checks.push({
      series: `${queue} queue`,
      middle: m,
      last: l,
      unit: "messages",
      flat: l <= m + SOAK_TOLERANCE.queueMessages,
    });
  }
  const grew = checks.filter((check) => !check.flat);
  return {
    flat: grew.length === 0,
    checks,
    text: grew.length === 0 ? "flat" : `grew: ${grew.map(describeGrowth).join("; ")}`,
  };
}

function describeGrowth(check: SoakCheck): string {
  const digits = check.unit === "messages" ? 0 : 1;
  return `${check.series} ${formatNumber(check.middle, digits)} → ${
    formatNumber(check.last, digits)
  } ${check.unit}`;
}

function isNumber(value: number | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function average(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function median(values: readonly number[]): number {
  return percentile(values, 50);
}
