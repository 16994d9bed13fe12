/**
 * The benchmark's pure helpers: percentiles, median/min/max of repeated
 * runs, reading a `metric_log.csv` back, parsing what `/proc` and the broker
 * say about the machine, and rendering markdown tables. No I/O here, so all
 * of it is unit-tested in `stats_test.ts`.
 *
 * @module
 */
import type { PairRecord } from "../metric/metric_log/format.ts";

/**
 * The `p`-th percentile (0–100) of `values`, interpolating linearly between
 * the two nearest ranks (NumPy's default, "type 7"). NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0–100, got ${p}`);
  const sorted = isSorted(values) ? values : [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
}

function isSorted(values: readonly number[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i - 1] > values[i]) return false;
  return true;
}

/** Several runs of one figure: the median and the spread. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Every run's value, in run order. */
  readonly runs: readonly number[];
}

/** Median (mean of the middle two for an even count), min and max of `runs`. */
export function summarize(runs: readonly number[]): Summary {
  if (runs.length === 0) {
    return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] };
  }
  return {
    median: percentile(runs, 50),
    min: Math.min(...runs),
    max: Math.max(...runs),
    runs: [...runs],
  };
}

/** The summary of the finite ones of `values` (a NaN comes back from benchmarks.json as null). */
export function summarizeFinite(values: readonly (number | null | undefined)[]): Summary {
  return summarize(values.filter((v): v is number => typeof v === "number" && Number.isFinite(v)));
}

/** A summary's median when it is a finite number (older results lack figures, or hold nulls). */
export function finiteMedian(summary: Summary | undefined): number | undefined {
  const median = summary?.median;
  return typeof median === "number" && Number.isFinite(median) ? median : undefined;
}

/** `a / b` for two summaries' medians; NaN when `b` is 0 or missing. */
export function ratio(a: number, b: number): number {
  return b === 0 || !Number.isFinite(b) ? Number.NaN : a / b;
}

/** What one pipeline run left in `metric_log.csv`. */
export interface LogTally {
  /** Rows (pairs) recorded. */
  readonly rows: number;
  /** Earliest features publish time (wall-clock ms): `paired_at - latency_ms` of each row. */
  readonly firstSentAtMs: number;
  /** Earliest `paired_at` (wall-clock ms). */
  readonly firstPairedAtMs: number;
  /** Latest `paired_at` (wall-clock ms). */
  readonly lastPairedAtMs: number;
  /** Every row's `latency_ms`, in the order the rows were written. */
  readonly latenciesMs: readonly number[];
  /** Rows per `replica` column value (which model replica predicted). */
  readonly byReplica: Readonly<Record<string, number>>;
}

/** Tallies the rows of a run, in the order they were written. */
export function tallyRecords(records: Iterable<PairRecord>): LogTally {
  let rows = 0;
  let firstSentAtMs = Number.POSITIVE_INFINITY;
  let firstPairedAtMs = Number.POSITIVE_INFINITY;
  let lastPairedAtMs = Number.NEGATIVE_INFINITY;
  const latencies: number[] = [];
  const byReplica: Record<string, number> = {};
  for (const record of records) {
    rows++;
    firstPairedAtMs = Math.min(firstPairedAtMs, record.pairedAtMs);
    lastPairedAtMs = Math.max(lastPairedAtMs, record.pairedAtMs);
    if (Number.isFinite(record.latencyMs)) {
      latencies.push(record.latencyMs);
      firstSentAtMs = Math.min(firstSentAtMs, record.pairedAtMs - record.latencyMs);
    }
    byReplica[record.replica] = (byReplica[record.replica] ?? 0) + 1;
  }
  return {
    rows,
    firstSentAtMs,
    firstPairedAtMs,
    lastPairedAtMs,
    latenciesMs: latencies,
    byReplica,
  };
}

/** How the samples slower than a threshold are grouped. */
export interface SlowRuns {
  /** Samples slower than the threshold. */
  readonly slow: number;
  /** Runs of consecutive slow samples (in recording order): pauses of the whole pipeline. */
  readonly runs: number;
  /** Samples in the longest run. */
  readonly longest: number;
}

/**
 * Groups the samples slower than `thresholdMs` into runs of consecutive
 * ones, in the order they were recorded: many slow samples in few long runs
 * mean the tail comes from pauses that hold up everything in flight, not
 * from every sample being a little slow.
 */
export function slowRuns(latenciesMs: readonly number[], thresholdMs: number): SlowRuns {
  let slow = 0;
  let runs = 0;
  let longest = 0;
  let current = 0;
  for (const latency of latenciesMs) {
    if (latency > thresholdMs) {
      slow++;
      if (current === 0) runs++;
      current++;
      longest = Math.max(longest, current);
    } else {
      current = 0;
    }
  }
  return { slow, runs, longest };
}

/** Samples per second from the first publish to the last recorded pair. */
export function samplesPerSecond(tally: LogTally): number {
  const seconds = (tally.lastPairedAtMs - tally.firstSentAtMs) / 1000;
  return seconds > 0 ? tally.rows / seconds : Number.NaN;
}

/**
 * Samples per second from the first recorded pair to the last: how fast the
 * consumers drained a backlog queued before they started.
 */
export function drainPerSecond(tally: LogTally): number {
  const seconds = (tally.lastPairedAtMs - tally.firstPairedAtMs) / 1000;
  return seconds > 0 && tally.rows > 1 ? (tally.rows - 1) / seconds : Number.NaN;
}

/** `VmHWM` (peak resident set) of a `/proc/<pid>/status` text, in bytes; undefined if absent. */
export function peakRssBytes(procStatus: string): number | undefined {
  return statusKb(procStatus, "VmHWM");
}

/**
 * `RssAnon` (private resident memory now) of a `/proc/<pid>/status` text, in bytes. VmHWM also
 * counts `RssFile`: the pages of the deno binary and ICU data the process has touched, shared
 * with every other Deno process and charged to one cgroup only.
 */
export function anonRssBytes(procStatus: string): number | undefined {
  return statusKb(procStatus, "RssAnon");
}

/** `VmRSS` (resident set now) of a `/proc/<pid>/status` text, in bytes; undefined if absent. */
export function rssBytes(procStatus: string): number | undefined {
  return statusKb(procStatus, "VmRSS");
}

function statusKb(procStatus: string, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, "m").exec(procStatus);
  return match ? Number(match[1]) * 1024 : undefined;
}

/**
 * CPU time (user + system, ms) of a `/proc/<pid>/stat` line, at the usual
 * 100 clock ticks per second.
 */
export function cpuMsOfStat(stat: string, ticksPerSecond = 100): number {
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/** Busy CPU time (ms) of the whole machine so far, from the `cpu` line of `/proc/stat`. */
export function machineCpuMs(procStat: string, ticksPerSecond = 100): number {
  const line = /^cpu\s+(.+)$/m.exec(procStat)?.[1];
  if (!line) return 0;
  // user nice system idle iowait irq softirq steal…; steal is the hypervisor's, not busy here
  const [user, nice, system, , , irq, softirq] = line.split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq) * 1000) / ticksPerSecond;
}

/** The CPU model and the number of logical CPUs listed in `/proc/cpuinfo`. */
export function cpuInfo(text: string): { model: string; cores: number } {
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1].trim() ?? "unknown";
  const cores = text.match(/^processor\s*:/gm)?.length ?? 0;
  return { model, cores };
}

/** `MemTotal` of `/proc/meminfo`, in bytes (0 when absent). */
export function memTotalBytes(text: string): number {
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * The `version` entry of the server-properties table in an AMQP 0-9-1
 * `connection.start` frame: what the broker says it is, with no management
 * plugin or `rabbitmqctl` needed. Undefined when not found.
 */
export function amqpServerVersion(startFrame: Uint8Array): string | undefined {
  // A table entry is: key length (1 byte), key, type 'S', length (4 bytes), value.
  const key = new TextEncoder().encode("\x07versionS");
  outer: for (let i = 0; i + key.length + 4 <= startFrame.length; i++) {
    for (let j = 0; j < key.length; j++) if (startFrame[i + j] !== key[j]) continue outer;
    const at = i + key.length;
    const view = new DataView(startFrame.buffer, startFrame.byteOffset + at, 4);
    const length = view.getUint32(0);
    if (at + 4 + length > startFrame.length) return undefined;
    return new TextDecoder().decode(startFrame.subarray(at + 4, at + 4 + length));
  }
  return undefined;
}

/** A number with thousands separators and `digits` decimals. */
export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `median (min–max)` of a summary; only the median when there was one run. */
export function formatSummary(summary: Summary, digits = 0, unit = ""): string {
  const median = formatNumber(summary.median, digits) + unit;
  if (summary.runs.length <= 1) return median;
  return `${median} (${formatNumber(summary.min, digits)}–${formatNumber(summary.max, digits)})`;
}

/** A ratio as a percentage, e.g. `82%`. */
export function formatPercent(value: number): string {
  return Number.isFinite(value) ? `${Math.round(value * 100)}%` : "–";
}

/** Met / missed mark for a target; a dash for a figure no target judges. */
export function verdict(met: boolean | undefined): string {
  return met === undefined ? "–" : met ? "met" : "**missed**";
}

/** Column alignment of {@link markdownTable}. */
export type Align = "left" | "right";

/**
 * A GitHub-flavoured markdown table. Cells are escaped (`|` and newlines),
 * and every row is padded or cut to the header's width.
 */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const escape = (cell: string) => cell.replaceAll("|", "\\|").replaceAll(/\r?\n/g, " ");
  const line = (cells: readonly string[]) =>
    `| ${headers.map((_, i) => escape(cells[i] ?? "")).join(" | ")} |`;
  const rule = `|${headers.map((_, i) => (align[i] === "right" ? "---:" : "---")).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}
