/**
 * The dashboard's memory, pure: the service feeds one {@link Reading} a
 * second into a {@link DashboardHistory}, which derives the time series
 * (running MAE, MAE of the last seconds, samples per second) and each model
 * replica's throughput from a bounded ring of readings, so memory does not
 * grow with uptime. A replica that joins shows up as a new bar: its rate is
 * the growth of its count over the last `windowSeconds`.
 *
 * @module
 */
import type { StatsSnapshot } from "../pairing/stats.ts";

/** Seconds of history kept for the time series (10 minutes at one reading a second). */
export const HISTORY_SECONDS = 600;
/** Seconds over which rates and the recent MAE are taken. */
export const WINDOW_SECONDS = 10;

/** A fixed-capacity FIFO: pushing onto a full ring drops the oldest item. */
export class Ring<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #length = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create Ring as 'capacity' must be a positive integer: current value is ${capacity}`,
      );
    }
    this.#items = new Array(capacity);
  }

  /** Most items the ring holds. */
  get capacity(): number {
    return this.#items.length;
  }

  /** Items held now. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item`, dropping the oldest when full. */
  push(item: T): void {
    const capacity = this.#items.length;
    if (this.#length < capacity) {
      this.#items[(this.#start + this.#length) % capacity] = item;
      this.#length++;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % capacity;
    }
  }

  /** The `index`-th item, oldest first; negative counts from the newest (-1 is the newest). */
  at(index: number): T | undefined {
    const i = index < 0 ? this.#length + index : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.#length) return undefined;
    return this.#items[(this.#start + i) % this.#items.length];
  }

  /** The items, oldest first. */
  toArray(): T[] {
    return Array.from({ length: this.#length }, (_, i) => this.at(i)!);
  }
}

/** What the service reads once a second. */
export interface Reading {
  /** Wall-clock ms. */
  readonly atMs: number;
  /** Samples recorded so far (restored ones included). */
  readonly count: number;
  /** Sum of their absolute errors. */
  readonly errorSum: number;
  /** Samples recorded so far, by the model replica that predicted them. */
  readonly byReplica: Readonly<Record<string, number>>;
}

/** The reading of a {@link StatsSnapshot} at `atMs`. */
export function readingOf(snapshot: StatsSnapshot, atMs: number): Reading {
  return {
    atMs,
    count: snapshot.count,
    errorSum: snapshot.count === 0 ? 0 : snapshot.mae * snapshot.count,
    byReplica: { ...snapshot.byReplica },
  };
}

/** The time series of the dashboard, oldest first; `null` where there is no value yet. */
export interface Series {
  /** Unix time in seconds (uPlot's x axis). */
  readonly t: readonly number[];
  /** Running MAE over every sample recorded up to then. */
  readonly mae: readonly (number | null)[];
  /** MAE of the samples recorded in the `windowSeconds` before then. */
  readonly recentMae: readonly (number | null)[];
  /** Samples recorded per second since the reading before. */
  readonly samplesPerSecond: readonly (number | null)[];
}

/** One model replica's share of the work. */
export interface ReplicaThroughput {
  readonly name: string;
  /** Samples recorded over the last window, per second. */
  readonly perSecond: number;
  /** Samples recorded in total. */
  readonly total: number;
}

/** Settings of {@link DashboardHistory}. */
export interface HistoryOptions {
  /** Readings kept for the time series. */
  historySeconds?: number;
  /** Seconds over which rates and the recent MAE are taken. */
  windowSeconds?: number;
}

/**
 * The readings of the last `historySeconds` (one a second) and what follows
 * from them. Per-replica counts are kept only for the rate window: restarts
 * give replicas new names, and copying every name ever seen into each of 600
 * readings would be waste.
 */
export class DashboardHistory {
  readonly windowSeconds: number;
  readonly #totals: Ring<Omit<Reading, "byReplica">>;
  readonly #recent: Ring<Reading>;

  constructor(options: HistoryOptions = {}) {
    const historySeconds = options.historySeconds ?? HISTORY_SECONDS;
    this.windowSeconds = options.windowSeconds ?? WINDOW_SECONDS;
    if (!(this.windowSeconds > 0)) {
      throw new RangeError(
        `Cannot create DashboardHistory as 'windowSeconds' must be positive: current value is ${this.windowSeconds}`,
      );
    }
    this.#totals = new Ring(historySeconds);
    // One more than the window: a rate over N seconds needs readings at both ends.
    this.#recent = new Ring(Math.ceil(this.windowSeconds) + 1);
  }

  /** Readings held (at most `historySeconds`). */
  get length(): number {
    return this.#totals.length;
  }

  /** Adds the newest reading; readings must come in time order. */
  record(reading: Reading): void {
    const last = this.#recent.at(-1);
    if (last && reading.atMs < last.atMs) {
      throw new RangeError(
        `Cannot record a reading at ${reading.atMs} as it is older than the last one at ${last.atMs}`,
      );
    }
    const { byReplica: _, ...totals } = reading;
    this.#totals.push(totals);
    this.#recent.push(reading);
  }

  /** The oldest reading in the rate window and the newest, or `undefined` with fewer than two. */
  #window(): [Reading, Reading] | undefined {
    const newest = this.#recent.at(-1);
    if (!newest || this.#recent.length < 2) return undefined;
    for (let i = 0; i < this.#recent.length - 1; i++) {
      const reading = this.#recent.at(i)!;
      if (newest.atMs - reading.atMs <= this.windowSeconds * 1000) return [reading, newest];
    }
    return undefined;
  }

  /** Samples recorded per second over the window; `null` before two readings. */
  samplesPerSecond(): number | null {
    const window = this.#window();
    if (!window) return null;
    const [from, to] = window;
    return rate(to.count - from.count, to.atMs - from.atMs);
  }

  /** Every replica seen, by name, with its rate over the window and its total. */
  replicas(): ReplicaThroughput[] {
    const newest = this.#recent.at(-1);
    if (!newest) return [];
    const from = this.#window()?.[0];
    return Object.keys(newest.byReplica).sort().map((name) => {
      const total = newest.byReplica[name];
      const perSecond = from
        ? rate(total - (from.byReplica[name] ?? 0), newest.atMs - from.atMs) ?? 0
        : 0;
      return { name, perSecond, total };
    });
  }

  /** The time series over the history, oldest first. */
  series(): Series {
    const readings = this.#totals.toArray();
    const t: number[] = [];
    const mae: (number | null)[] = [];
    const recentMae: (number | null)[] = [];
    const samplesPerSecond: (number | null)[] = [];
    let windowStart = 0;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i];
      t.push(r.atMs / 1000);
      mae.push(r.count === 0 ? null : r.errorSum / r.count);
      while (r.atMs - readings[windowStart].atMs > this.windowSeconds * 1000) windowStart++;
      const w = readings[windowStart];
      const added = r.count - w.count;
      recentMae.push(added > 0 ? (r.errorSum - w.errorSum) / added : null);
      samplesPerSecond.push(
        i === 0 ? null : rate(r.count - readings[i - 1].count, r.atMs - readings[i - 1].atMs),
      );
    }
    return { t, mae, recentMae, samplesPerSecond };
  }
}

function rate(count: number, ms: number): number | null {
  return ms > 0 ? count / (ms / 1000) : null;
}
