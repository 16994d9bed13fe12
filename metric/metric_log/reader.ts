/**
 * `metric_log.csv` as others read it: `deno task start`, the integration
 * tests, the Swarm test and the benchmarks follow the file while metric
 * appends to it. The metric service writes it (`writer.ts` with
 * `formatRecord`) and reads it back at start through `restore.ts`, which
 * also repairs it; this reader only reads.
 *
 * @module
 */
import { type PairRecord, parseMetricLog } from "./format.ts";

/** What one read of the file found. */
export interface MetricLogChunk {
  /** The valid rows; the header and damaged lines are left out. */
  readonly records: PairRecord[];
  /** Where the complete lines read end: the `offset` of the next read. */
  readonly end: number;
  /** The first line, when this read began at the start of the file. */
  readonly header?: string;
  /** The file was shorter than `offset` (it was replaced), so this read began at its start. */
  readonly restarted: boolean;
}

/**
 * Reads the complete lines of the CSV at `path` from byte `offset` on. A
 * last line without its newline is still being written: it is left for the
 * next read. A missing file reads as empty.
 */
export async function readMetricLog(path: string, offset = 0): Promise<MetricLogChunk> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { records: [], end: 0, restarted: false };
    throw error;
  }
  let bytes: Uint8Array;
  let restarted = false;
  try {
    if ((await file.stat()).size < offset) {
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
  const end = bytes.lastIndexOf(0x0a) + 1;
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  const header = offset === 0 && end > 0 ? text.slice(0, text.indexOf("\n")) : undefined;
  return { records: parseMetricLog(text), end: offset + end, header, restarted };
}

/**
 * Follows a growing `metric_log.csv`: each `read()` parses only what was
 * appended since the last one, so polling stays cheap while the file grows
 * to megabytes.
 */
export class MetricLogTail {
  readonly path: string;
  readonly #records: PairRecord[] = [];
  #offset: number;

  /** Follows `path` from byte `from` on (0: every row). */
  constructor(path: string, options: { from?: number } = {}) {
    this.path = path;
    this.#offset = options.from ?? 0;
  }

  /** The rows read so far. */
  get records(): readonly PairRecord[] {
    return this.#records;
  }

  /** Reads what was appended and returns every row so far (a copy). */
  async read(): Promise<PairRecord[]> {
    const chunk = await readMetricLog(this.path, this.#offset);
    if (chunk.restarted) this.#records.length = 0;
    this.#offset = chunk.end;
    for (const record of chunk.records) this.#records.push(record);
    return [...this.#records];
  }
}
