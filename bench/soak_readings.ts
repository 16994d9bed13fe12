/**
 * A soak's readings: how often it takes one, and what one holds (memory, disk, queue depths and
 * the latency of the samples recorded since the reading before). Pure: the soak (`soak.ts`) reads
 * `/proc`, the disk and the broker, and hands the numbers in.
 *
 * Latency comes from the rows of `metric_log.csv` (`latency_ms`: features' publish to metric's
 * pairing, one exact figure per sample), not from metric's `ml_metric_hop_seconds` histogram, whose
 * percentiles are interpolated within buckets each 1.5 to 2 times as wide as the one below: a p99
 * read off them can be off by a third of its value, more than the drift a soak looks for.
 *
 * @module
 */
import type { PairRecord } from "../metric/metric_log/format.ts";
import { percentile } from "./stats.ts";

/** A reading each minute, or a tenth of the soak when it is shorter than ten minutes. */
export function readingEveryMs(durationMs: number): number {
  if (!(durationMs > 0)) {
    throw new RangeError(
      `Cannot space a soak's readings as its duration must be positive: current value is ${durationMs} ms`,
    );
  }
  return Math.min(60_000, durationMs / 10);
}

/** Where a soak stands at one poll, for {@link readingStep}. */
export interface SoakClock {
  /** Since features started. */
  readonly elapsedMs: number;
  readonly everyMs: number;
  /** Readings taken so far, and the last one's time (seconds since features started). */
  readonly taken: number;
  readonly lastAtS?: number;
  /** Rows in the log now, at the last reading, and when the soak is over. */
  readonly rows: number;
  readonly seenRows: number;
  readonly count: number;
}

/**
 * At a poll: `read` when a reading is due (every `everyMs`) or the last rows are in; `fold` when
 * the last rows came within a quarter interval of the reading before, which is then taken again
 * over both (not a sliver of an interval with a rate and percentiles of its own); else `wait`.
 */
export function readingStep(clock: SoakClock): "wait" | "read" | "fold" {
  if (clock.elapsedMs >= (clock.taken + 1) * clock.everyMs) return "read";
  if (clock.rows < clock.count || clock.rows <= clock.seenRows) return "wait";
  const sinceLastMs = clock.elapsedMs - (clock.lastAtS ?? Number.NEGATIVE_INFINITY) * 1000;
  return sinceLastMs < clock.everyMs / 4 ? "fold" : "read";
}

/** One process's memory at a reading, bytes. */
export interface ProcessMemory {
  /** Resident set now (VmRSS). */
  readonly rssBytes: number;
  /** Peak resident set so far (VmHWM). */
  readonly peakRssBytes: number;
}

/** What the soak measured at one moment. */
export interface SoakReading {
  /** Seconds since features started. */
  readonly atS: number;
  /** Rows in metric's log so far. */
  readonly rows: number;
  /** Rows recorded since the reading before, and their rate (per second). */
  readonly intervalRows: number;
  readonly rowsPerSecond: number;
  /** Latency of the interval's rows (ms); NaN when none was recorded. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Each process by name, e.g. `model-1`. */
  readonly memory: Readonly<Record<string, ProcessMemory>>;
  /** Bytes of every file in metric's log directory, rotated logs and the snapshot included. */
  readonly diskBytes: number;
  /** Messages ready in each queue; empty when the broker did not answer. */
  readonly queues: Readonly<Record<string, number>>;
}

/** What {@link soakReading} is given: the numbers of one moment and the rows since the last. */
export interface ReadingInput {
  readonly atS: number;
  /** Seconds since features started at the reading before (0 for the first). */
  readonly previousAtS: number;
  /** Every row so far, and how many of them the reading before had seen. */
  readonly records: readonly PairRecord[];
  readonly previousRows: number;
  readonly memory: Readonly<Record<string, ProcessMemory>>;
  readonly diskBytes: number;
  readonly queues: Readonly<Record<string, number>>;
}

/** The reading of `input`: the latency percentiles of the rows recorded since the reading before. */
export function soakReading(input: ReadingInput): SoakReading {
  const latencies: number[] = [];
  for (let i = input.previousRows; i < input.records.length; i++) {
    const latency = input.records[i].latencyMs;
    if (Number.isFinite(latency)) latencies.push(latency);
  }
  latencies.sort((a, b) => a - b);
  const intervalRows = Math.max(0, input.records.length - input.previousRows);
  const seconds = input.atS - input.previousAtS;
  return {
    atS: input.atS,
    rows: input.records.length,
    intervalRows,
    rowsPerSecond: seconds > 0 ? intervalRows / seconds : Number.NaN,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? Number.NaN,
    memory: input.memory,
    diskBytes: input.diskBytes,
    queues: input.queues,
  };
}
