/**
 * What metric picks up at start, so a restarted service keeps its running
 * statistics and recognises the ids it recorded before the restart (the
 * broker redelivers whatever was not acked when it stopped).
 *
 * {@link restoreMetricState}: the snapshot (`snapshot.ts`) and the rows
 * written after it, so the cost does not grow with the log; without a usable
 * snapshot, every row of the log's files (rotated ones first), and the
 * reason why. {@link restoreMetricLog} reads and repairs the live file.
 *
 * @module
 */
import { ErrorStats } from "../pairing/stats.ts";
import { listRotated, rotatedPath } from "./files.ts";
import {
  CSV_HEADER,
  isKnownHeader,
  metricLogPath,
  type PairRecord,
  parseRecord,
} from "./format.ts";
import { type MetricSnapshot, readSnapshot, snapshotPath } from "./snapshot.ts";

/** What a previous run left in the live file. */
export interface Restored {
  /** Valid rows read. */
  readonly rows: number;
  /** Lines that were not valid rows (a damaged line is skipped, not fatal). */
  readonly skipped: number;
  /** Bytes cut from the end: a line torn by a crash mid-write. */
  readonly truncatedBytes: number;
  /** The file had another header; it was moved aside to this path. */
  readonly movedTo?: string;
  /**
   * The file was of an earlier format (`EARLIER_CSV_HEADERS`): its rows were
   * read, and it was rotated to this path so new rows start a file of their own.
   */
  readonly rotatedTo?: string;
}

/** Bytes read at a time: plain reads into one buffer, no web streams (they cost megabytes). */
const READ_CHUNK = 64 * 1024;

/** Reads the lines of `path` from byte `from`; counts where the complete ones end. */
async function scanLines(
  path: string,
  from: number,
  onLine: (line: string) => boolean | void,
  write = false,
): Promise<{ bytesRead: number; completeBytes: number } | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let tail = "";
  // Counted on the raw bytes: decoding replaces invalid UTF-8 (a damaged
  // line) with U+FFFD, so the text's length does not say where to cut.
  let bytesRead = 0;
  let completeBytes = 0;
  const buffer = new Uint8Array(READ_CHUNK);
  const decoder = new TextDecoder();
  try {
    if (from > 0) await file.seek(from, Deno.SeekMode.Start);
    reading: for (;;) {
      const read = await file.read(buffer);
      if (read === null) break;
      const chunk = buffer.subarray(0, read);
      const newline = chunk.lastIndexOf(0x0a);
      if (newline !== -1) completeBytes = bytesRead + newline + 1;
      bytesRead += read;
      const parts = (tail + decoder.decode(chunk, { stream: true })).split("\n");
      tail = parts.pop()!;
      for (const line of parts) if (onLine(line) === false) break reading;
    }
  } finally {
    file.close();
  }
  return { bytesRead: from + bytesRead, completeBytes: from + completeBytes };
}

/** The first line of `path` (up to 4 KiB), or undefined when it is missing or has none. */
async function firstLine(path: string): Promise<string | undefined> {
  let header: string | undefined;
  await scanLines(path, 0, (line) => {
    header = line;
    return false;
  });
  return header;
}

/**
 * Streams the CSV at `path` (missing is fine) from byte `from` (a line's
 * start) and calls `onRecord` for each row. A last line without its newline
 * was torn by a crash: it is cut off, so the next append starts on a clean
 * line. A file with another header is renamed aside (`<path>.<time>.bak`)
 * rather than mixed with the new format. A file of an earlier format is read,
 * then rotated as file number `seq` (`files.ts`), when given.
 */
export async function restoreMetricLog(
  path: string,
  onRecord: (record: PairRecord) => void,
  now = new Date(),
  from = 0,
  seq?: number,
): Promise<Restored> {
  let rows = 0;
  let skipped = 0;
  let header = from > 0 ? await firstLine(path) : undefined;
  const scan = await scanLines(path, from, (line) => {
    if (header === undefined) {
      header = line;
      return isKnownHeader(header);
    }
    const record = parseRecord(line);
    if (record) {
      rows++;
      onRecord(record);
    } else if (line !== "") skipped++;
  }, true);
  if (!scan) return { rows: 0, skipped: 0, truncatedBytes: 0 };
  if (header !== undefined && !isKnownHeader(header)) {
    const movedTo = `${path}.${now.toISOString().replaceAll(":", "-")}.bak`;
    await Deno.rename(path, movedTo);
    return { rows: 0, skipped: 0, truncatedBytes: 0, movedTo };
  }
  const truncatedBytes = scan.bytesRead - scan.completeBytes;
  if (truncatedBytes > 0) await Deno.truncate(path, scan.completeBytes);
  if (header !== CSV_HEADER && header !== undefined && seq !== undefined) {
    const rotatedTo = rotatedPath(path, seq);
    await Deno.rename(path, rotatedTo);
    return { rows, skipped, truncatedBytes, rotatedTo };
  }
  return { rows, skipped, truncatedBytes };
}

/** The rows of a rotated file from `from` on (rotated files are never repaired). */
async function readRotated(
  path: string,
  from: number,
  onRecord: (record: PairRecord) => void,
): Promise<{ rows: number; skipped: number }> {
  let rows = 0;
  let skipped = 0;
  await scanLines(path, from, (line) => {
    const record = parseRecord(line);
    if (record) {
      rows++;
      onRecord(record);
    } else if (line !== "" && !isKnownHeader(line)) skipped++;
  });
  return { rows, skipped };
}

/** What {@link restoreMetricState} rebuilt, and how. */
export interface RestoredState extends Restored {
  /** The running statistics of every row recorded. */
  readonly stats: ErrorStats;
  /** The last recorded ids (at most the window asked for), oldest first. */
  readonly seen: string[];
  /** Where they came from: the snapshot and the rows after it, or the log's files alone. */
  readonly from: "snapshot" | "files";
  /** Why the snapshot was not used; undefined when it was, or when there was no log at all. */
  readonly fallback?: string;
  /** Files read (rotated and live). */
  readonly files: number;
  /** The number of the live file (`files.ts`): the writer's `minSeq`. */
  readonly seq: number;
}

/** A ring of the last `capacity` ids. */
class RecentIds {
  readonly #ids: string[];
  #next = 0;
  #size = 0;
  constructor(capacity: number) {
    this.#ids = new Array(capacity);
  }
  push(id: string): void {
    this.#ids[this.#next] = id;
    this.#next = (this.#next + 1) % this.#ids.length;
    this.#size = Math.min(this.#size + 1, this.#ids.length);
  }
  toArray(): string[] {
    const start = (this.#next - this.#size + this.#ids.length) % this.#ids.length;
    return Array.from({ length: this.#size }, (_, i) => this.#ids[(start + i) % this.#ids.length]);
  }
}

/** The last line before `offset` in `path`, if `offset` is at the start of a line. */
async function lineBefore(path: string, offset: number): Promise<string | undefined> {
  const file = await Deno.open(path);
  try {
    const start = Math.max(0, offset - 4096);
    await file.seek(start, Deno.SeekMode.Start);
    const bytes = new Uint8Array(offset - start);
    let read = 0;
    while (read < bytes.length) {
      const n = await file.read(bytes.subarray(read));
      if (n === null) return undefined;
      read += n;
    }
    if (bytes.at(-1) !== 0x0a) return undefined;
    const text = new TextDecoder().decode(bytes.subarray(0, -1));
    return text.slice(text.lastIndexOf("\n") + 1);
  } finally {
    file.close();
  }
}

/** Why the log's files do not go on from `snapshot`, or undefined when they do. */
async function mismatch(
  livePath: string,
  snapshot: MetricSnapshot,
  liveSeq: number,
): Promise<string | undefined> {
  const { seq, offset } = snapshot.log;
  const where = `file ${seq} at byte ${offset}`;
  if (seq > liveSeq) return `the snapshot ends in ${where}, but the log's live file is ${liveSeq}`;
  const path = seq === liveSeq ? livePath : rotatedPath(livePath, seq);
  const size = await Deno.stat(path).then((info) => info.size, () => undefined);
  if (size === undefined) return `the snapshot ends in ${where}, which is gone`;
  if (size < offset) return `the snapshot ends in ${where}, which holds ${size} bytes`;
  if (!isKnownHeader(await firstLine(path))) return `${path} does not start with a header`;
  const line = await lineBefore(path, offset);
  if (line === undefined) return `the snapshot's end, ${where}, is not the end of a line`;
  const record = parseRecord(line);
  const last = snapshot.seen.at(-1);
  if (record && record.id !== last) {
    return `the row before the snapshot's end, ${where}, is '${record.id}', not '${last}'`;
  }
}

/**
 * Rebuilds what metric needs from `logDir`: the snapshot and the rows after
 * it, or, when the snapshot is missing, damaged or does not match the log,
 * every row of the log's files. `seenCapacity` is the de-duplication window.
 */
export async function restoreMetricState(
  logDir: string,
  options: { seenCapacity: number; now?: Date },
): Promise<RestoredState> {
  const livePath = metricLogPath(logDir);
  const rotated = listRotated(livePath);
  const seen = new RecentIds(options.seenCapacity);
  let skipped = 0;
  let rows = 0;
  let files = 0;
  const read = await readSnapshot(snapshotPath(logDir));
  let stats: ErrorStats | undefined;
  let fallback: string | undefined;
  let start = { seq: 1, offset: 0 };
  let usedSnapshot = false;
  let liveSeq = (rotated.at(-1)?.seq ?? 0) + 1;
  if (read.ok) {
    const { snapshot } = read;
    // With every rotated file retired, only the snapshot knows the live file's number.
    if (rotated.length === 0) liveSeq = Math.max(liveSeq, snapshot.log.seq);
    try {
      fallback = await mismatch(livePath, snapshot, liveSeq);
      if (!fallback) {
        stats = ErrorStats.fromState(snapshot.stats);
        for (const id of snapshot.seen) seen.push(id);
        start = snapshot.log;
        usedSnapshot = true;
      }
    } catch (error) {
      fallback = `${snapshotPath(logDir)}: ${(error as Error).message}`;
    }
  } else {
    fallback = read.reason;
  }
  stats ??= new ErrorStats();
  const add = (record: PairRecord) => {
    stats.add(record);
    seen.push(record.id);
  };
  for (const file of rotated) {
    if (file.seq < start.seq) continue;
    const found = await readRotated(file.path, file.seq === start.seq ? start.offset : 0, add);
    rows += found.rows;
    skipped += found.skipped;
    files++;
  }
  const liveExists = await Deno.stat(livePath).then(() => true, () => false);
  const live = await restoreMetricLog(
    livePath,
    add,
    options.now,
    start.seq === liveSeq ? start.offset : 0,
    liveSeq,
  );
  if (liveExists) files++;
  const empty = !read.ok && read.missing && rotated.length === 0 && live.rows === 0;
  return {
    ...live,
    rows: rows + live.rows,
    skipped: skipped + live.skipped,
    stats,
    seen: seen.toArray(),
    from: usedSnapshot ? "snapshot" : "files",
    fallback: empty ? undefined : fallback,
    files,
    // A live file of an earlier format took the live number as it rotated.
    seq: live.rotatedTo ? liveSeq + 1 : liveSeq,
  };
}
