/**
 * What metric needs to go on after a restart, kept beside its log so that a
 * restart costs the same on day 30 as on day 1: the running statistics (with
 * the version and replica labels), the recorded ids a broker redelivery can
 * still bring (`dedup_window.ts`), and where in `metric_log.csv` the rows
 * they cover end. At start, `restore.ts` takes the snapshot and reads only
 * the rows written after it.
 *
 * The snapshot is written whole or not at all: to a temporary file, synced,
 * then renamed over the last one. A crash leaves the old snapshot or the new
 * one, never half of one; a snapshot that is missing, does not parse or does
 * not match the log makes the restore read the log's files instead, and say
 * why.
 *
 * Its state is read when the log's writer is idle, in one synchronous step, so
 * the statistics and ids are exactly those of the rows before its position:
 * the service adds a pair to its statistics and hands its row to the writer
 * in the same step, so nothing counted can be unwritten at that moment. It is
 * then serialised from that copy in pieces, one per turn of the event loop.
 *
 * @module
 */
import type { ErrorStatsState } from "../pairing/stats.ts";
import { type Step, untimed } from "../periodic.ts";
import { redeliveryWindow } from "./dedup_window.ts";
import type { LogPosition } from "./writer.ts";

/** The snapshot's file, beside `metric_log.csv` in `LOG_DIR`. */
export const SNAPSHOT_FILE = "metric_state.json";

/** The version of the snapshot's layout; another one is not read (the log is). */
export const SNAPSHOT_VERSION = 1;

/** The path of the snapshot in `logDir`. */
export function snapshotPath(logDir: string): string {
  return `${logDir.replace(/\/+$/, "")}/${SNAPSHOT_FILE}`;
}

/** See the module documentation. */
export interface MetricSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  /** Wall-clock ms when it was taken. */
  readonly takenAtMs: number;
  /** Where the rows it covers end in `metric_log.csv`'s files (`writer.ts`). */
  readonly log: LogPosition;
  /** The running statistics (`ErrorStats.state`); checked when restored. */
  readonly stats: ErrorStatsState;
  /** The recorded ids remembered for de-duplication, oldest first; the last is the last row's. */
  readonly seen: readonly string[];
}

/**
 * The snapshot in `text`. Throws a `SyntaxError` naming what is wrong when
 * it is not one (its statistics are checked by `ErrorStats.fromState`).
 */
export function parseSnapshot(text: string): MetricSnapshot {
  let value: Partial<MetricSnapshot>;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read the snapshot as it is not JSON: ${(error as Error).message}`,
    );
  }
  const fail = (what: string, current: unknown): never => {
    throw new SyntaxError(
      `Cannot read the snapshot as ${what}: current value is ${JSON.stringify(current)}`,
    );
  };
  if (typeof value !== "object" || value === null) fail("it is not an object", value);
  if (value.version !== SNAPSHOT_VERSION) {
    fail(`its version is not ${SNAPSHOT_VERSION}`, value.version);
  }
  if (!Number.isFinite(value.takenAtMs)) fail("'takenAtMs' is not a time", value.takenAtMs);
  const log = value.log;
  if (
    typeof log !== "object" || log === null || !Number.isSafeInteger(log.seq) || log.seq < 1 ||
    !Number.isSafeInteger(log.offset) || log.offset < 0
  ) fail("'log' is not a file number and an offset", log);
  if (!Array.isArray(value.seen) || !value.seen.every((id) => typeof id === "string")) {
    fail("'seen' is not a list of ids", typeof value.seen);
  }
  if (typeof value.stats !== "object" || value.stats === null) {
    fail("'stats' is missing", value.stats);
  }
  return value as MetricSnapshot;
}

/** The bytes of `snapshot` as its file holds them. */
export function encodeSnapshot(snapshot: MetricSnapshot): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(snapshot) + "\n");
}

/** What a snapshot holds besides the log's position, and the count it was taken at. */
export interface SnapshotState {
  readonly stats: ErrorStatsState;
  /** The recorded ids it carries, oldest first. */
  readonly seen: readonly string[];
  readonly count: number;
}

/**
 * The state a snapshot of metric carries: `stats`' whole state and the last of the recorded ids
 * `recordedIds` gives that a broker redelivery can still bring (`redeliveryWindow(prefetch)`,
 * `dedup_window.ts`), no more, so the step does not copy the whole window.
 */
export function snapshotState(
  stats: { state(): ErrorStatsState; readonly count: number },
  recordedIds: (last: number) => readonly string[],
  prefetch: number,
): SnapshotState {
  const last = redeliveryWindow(prefetch);
  return { stats: stats.state(), seen: recordedIds(last).slice(-last), count: stats.count };
}

/** Recorded ids serialised in one piece of a snapshot: about 9 KB of JSON. */
export const SEEN_PER_PIECE = 250;

/**
 * The bytes of the snapshot of `state` at `log`, taken at `takenAtMs` (wall-clock ms), as pieces
 * to make one at a time, in order: the head (version, time, position, statistics), then the ids
 * {@link SEEN_PER_PIECE} at a time, then the end. {@link SnapshotTaker} gives the event loop back
 * between two pieces, so no stretch of a snapshot holds it for the whole serialisation (2,000
 * ids, ~80 KB, at the default PREFETCH); the bench times the same pieces
 * (`bench/periodic_work.ts`). `state` must not change until the last is made: pass a copy.
 * Joined, the pieces are exactly {@link encodeSnapshot}'s bytes.
 */
export function snapshotPieces(
  log: LogPosition,
  state: Pick<SnapshotState, "stats" | "seen">,
  takenAtMs: number,
): (() => Uint8Array)[] {
  const encoder = new TextEncoder();
  const { seen } = state;
  const head = () => {
    const text = JSON.stringify(
      {
        version: SNAPSHOT_VERSION,
        takenAtMs,
        log: { seq: log.seq, offset: log.offset },
        stats: state.stats,
      } satisfies Omit<MetricSnapshot, "seen">,
    );
    return encoder.encode(`${text.slice(0, -1)},"seen":[`);
  };
  const ids = (from: number) => () => {
    const text = JSON.stringify(seen.slice(from, from + SEEN_PER_PIECE)).slice(1, -1);
    return encoder.encode(from === 0 ? text : `,${text}`);
  };
  const pieces = [head];
  for (let from = 0; from < seen.length; from += SEEN_PER_PIECE) pieces.push(ids(from));
  pieces.push(() => encoder.encode("]}\n"));
  return pieces;
}

/** Writes `snapshot` to `path` atomically (temporary file, sync, rename). */
export function writeSnapshot(path: string, snapshot: MetricSnapshot): Promise<void> {
  return writeSnapshotBytes(path, [encodeSnapshot(snapshot)]);
}

/** Writes a snapshot's bytes, `parts` in order, to `path` atomically (temporary file, sync, rename). */
async function writeSnapshotBytes(path: string, parts: readonly Uint8Array[]): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
  try {
    for (const bytes of parts) {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    }
    // On disk before the rename makes it the snapshot: a power cut never leaves an empty one.
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(temporary, path);
}

/** What {@link readSnapshot} found. */
export type SnapshotRead =
  | { readonly ok: true; readonly snapshot: MetricSnapshot }
  | { readonly ok: false; readonly missing: boolean; readonly reason: string };

/** The snapshot at `path`, or why there is none to use. */
export async function readSnapshot(path: string): Promise<SnapshotRead> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, missing: true, reason: `there is no snapshot ${path}` };
    }
    return {
      ok: false,
      missing: false,
      reason: `cannot read ${path}: ${(error as Error).message}`,
    };
  }
  try {
    return { ok: true, snapshot: parseSnapshot(text) };
  } catch (error) {
    return { ok: false, missing: false, reason: `${path}: ${(error as Error).message}` };
  }
}

/** What {@link SnapshotTaker} takes a snapshot of. */
export interface SnapshotSources {
  /** The CSV's writer: the snapshot waits until it is idle and takes its position. */
  readonly writer: {
    readonly idle: boolean;
    readonly position: LogPosition;
    flush(): Promise<void>;
  };
  /**
   * The statistics and remembered ids now ({@link snapshotState}); called in the same step as
   * the position is read.
   */
  state(): SnapshotState;
  /** Wall-clock ms. Default `Date.now`. */
  now?: () => number;
}

/** Takes snapshots to one path, one at a time, skipping those that would say nothing new. */
export class SnapshotTaker {
  readonly path: string;
  readonly #sources: SnapshotSources;
  #taking: Promise<boolean> | undefined;
  #last: { seq: number; offset: number; count: number } | undefined;

  constructor(path: string, sources: SnapshotSources) {
    this.path = path;
    this.#sources = sources;
  }

  /**
   * Takes a snapshot once the writer is idle; resolves true when it wrote
   * one, false when nothing changed since the last. A call while one is
   * being taken waits for that one. `step` runs each stretch that holds the
   * event loop (reading the state; then each piece of its serialisation,
   * `snapshotPieces`: about 80 KB in all), so the periodic job can time it
   * (`../periodic.ts`).
   */
  take(step: Step = untimed): Promise<boolean> {
    this.#taking ??= this.#take(step).finally(() => (this.#taking = undefined));
    return this.#taking;
  }

  async #take(step: Step): Promise<boolean> {
    const { writer } = this.#sources;
    // Appends may come while the flush runs: check idle again in the same step as the read.
    while (!writer.idle) await writer.flush();
    const taken = step(() => {
      const { seq, offset } = writer.position;
      const state = this.#sources.state();
      const { count } = state;
      const last = this.#last;
      if (last && last.seq === seq && last.offset === offset && last.count === count) return;
      const takenAtMs = (this.#sources.now ?? Date.now)();
      // A copy of the ids: the pieces are made over several turns, while pairs go on.
      const copy = { stats: state.stats, seen: [...state.seen] };
      return {
        pieces: snapshotPieces({ seq, offset }, copy, takenAtMs),
        at: { seq, offset, count },
      };
    });
    if (taken === undefined) return false;
    // One piece per turn of the event loop: deliveries that came meanwhile are paired in between.
    const parts: Uint8Array[] = [];
    for (const piece of taken.pieces) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      parts.push(step(piece));
    }
    await writeSnapshotBytes(this.path, parts);
    this.#last = taken.at;
    return true;
  }
}
