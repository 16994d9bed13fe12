/**
 * `metric_log.csv` as others read it: `deno task start`, the integration
 * tests, the Swarm test and the benchmarks follow the log while metric
 * appends to it, across its rotations (`files.ts`: the rotated files by
 * number, then the live file). The metric service writes it (`writer.ts`
 * with `formatRecord`) and reads it back at start through `restore.ts`,
 * which also repairs it; this reader only reads.
 *
 * @module
 */
import { listRotated, liveSeq, rotatedPath } from "./files.ts";
import { type PairRecord, parseMetricLog } from "./format.ts";

/** What one read of the file found. */
export interface MetricLogChunk {
  /** The valid rows; the header and damaged lines are left out. */
  readonly records: PairRecord[];
  /** Where the complete lines read end in the live file: the `offset` of the next read. */
  readonly end: number;
  /** The live file's first line, when this read began at its start. */
  readonly header?: string;
  /** The file was shorter than `offset` (it was replaced), so this read began at its start. */
  readonly restarted: boolean;
}

/** The complete lines of one file from `offset`, or undefined when it is missing. */
async function readFile(path: string, offset: number): Promise<
  { text: string; start: number; end: number; restarted: boolean; ino: number | null } | undefined
> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let bytes: Uint8Array;
  let restarted = false;
  let ino: number | null;
  try {
    const info = await file.stat();
    ino = info.ino;
    if (info.size < offset) {
      restarted = true;
      offset = 0;
    }
    await file.seek(offset, Deno.SeekMode.Start);
    bytes = new Uint8Array(await new Response(file.readable).arrayBuffer());
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
  const complete = bytes.lastIndexOf(0x0a) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, complete));
  return { text, start: offset, end: offset + complete, restarted, ino };
}

/** Every row of the rotated files of the log at `path`. */
async function rotatedRecords(path: string): Promise<PairRecord[]> {
  const records: PairRecord[] = [];
  for (const rotated of listRotated(path)) {
    const read = await readFile(rotated.path, 0);
    if (read) { for (const record of parseMetricLog(read.text)) records.push(record); }
  }
  return records;
}

/**
 * Reads the complete lines of the log at `path` from byte `offset` of its
 * live file on; from 0 (the default), the rotated files' rows come first,
 * so the records are every row of the log. A last line without its newline
 * is still being written: it is left for the next read. A missing file
 * reads as empty.
 */
export async function readMetricLog(path: string, offset = 0): Promise<MetricLogChunk> {
  const earlier = offset === 0 ? await rotatedRecords(path) : [];
  const read = await readFile(path, offset);
  if (!read) return { records: earlier, end: 0, restarted: false };
  const records = [...earlier, ...parseMetricLog(read.text)];
  const header = read.start === 0 && read.end > 0
    ? read.text.slice(0, read.text.indexOf("\n"))
    : undefined;
  return { records, end: read.end, header, restarted: read.restarted };
}

/**
 * Follows a growing `metric_log.csv`: each `read()` parses only what was
 * appended since the last one, so polling stays cheap while the log grows.
 * It keeps its place as the file's number (`files.ts`) and an offset in it:
 * when the live file rotated meanwhile, the read finishes it under its new
 * name and goes on with the files after it. A log that went back (its
 * files deleted, the live file cut short) is read again from its start.
 */
export class MetricLogTail {
  readonly path: string;
  readonly #records: PairRecord[] = [];
  /** The number of the file being followed and the offset in it; undefined before the first read. */
  #seq: number | undefined;
  #offset = 0;

  /** Follows `path` from byte `from` of its live file on (0: every row, the rotated ones first). */
  constructor(path: string, options: { from?: number } = {}) {
    this.path = path;
    // The offset is in the live file as it is now: take its number before it can rotate.
    const from = options.from ?? 0;
    if (from > 0) [this.#seq, this.#offset] = [liveSeq(path), from];
  }

  /** The rows read so far. */
  get records(): readonly PairRecord[] {
    return this.#records;
  }

  /** Reads what was appended and returns every row so far (a copy). */
  async read(): Promise<PairRecord[]> {
    if (this.#seq === undefined) {
      const rotated = listRotated(this.path);
      const live = (rotated.at(-1)?.seq ?? 0) + 1;
      [this.#seq, this.#offset] = [rotated[0]?.seq ?? live, 0];
    }
    for (;;) {
      const rotated = listRotated(this.path);
      const live = (rotated.at(-1)?.seq ?? 0) + 1;
      if (this.#seq > live) {
        this.#startOver(rotated[0]?.seq ?? live);
        continue;
      }
      if (this.#seq < live) {
        // The file followed is rotated: its rest, then the next one (a retired one is skipped).
        const read = await readFile(rotatedPath(this.path, this.#seq), this.#offset);
        if (read && !read.restarted) this.#push(parseMetricLog(read.text));
        this.#seq++;
        this.#offset = 0;
        continue;
      }
      const read = await readFile(this.path, this.#offset);
      if (!read) break;
      // Did the live file rotate between the listing and the open? Then this may be the new one.
      const renamed = await Deno.stat(rotatedPath(this.path, this.#seq)).catch(() => undefined);
      if (renamed && renamed.ino !== read.ino) continue;
      if (read.restarted) {
        this.#startOver(rotated[0]?.seq ?? live);
        continue;
      }
      this.#push(parseMetricLog(read.text));
      this.#offset = read.end;
      break;
    }
    return [...this.#records];
  }

  #startOver(seq: number): void {
    this.#records.length = 0;
    this.#seq = seq;
    this.#offset = 0;
  }

  #push(records: readonly PairRecord[]): void {
    for (const record of records) this.#records.push(record);
  }
}
