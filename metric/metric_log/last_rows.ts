/**
 * The last rows of `metric_log.csv`, read from the running metric service
 * without holding up its pairing: the live file and then, while more rows
 * are wanted, the rotated files before it (`files.ts`), each read backwards
 * from its end in chunks with async reads, counting newlines only
 * (`last_lines.ts`). Rows are passed on as bytes, never parsed. Each file's
 * header is left out, and so is a last line without its newline.
 *
 * @module
 */
import { listRotated } from "./files.ts";
import { isKnownHeader } from "./format.ts";
import { LastLines } from "./last_lines.ts";

/** Settings of {@link readLastRows}. */
export interface LastRowsOptions {
  /** How many rows: the newest ones. */
  readonly last: number;
  /** Most bytes of rows (newlines included); older rows past it are left out. Default: no bound. */
  readonly maxBytes?: number;
  /** Bytes per read. Default 64 KiB. */
  readonly chunkBytes?: number;
}

/** What {@link readLastRows} found. */
export interface LastRows {
  /** How many rows {@link bytes} holds. */
  readonly rows: number;
  /** The rows, oldest first, each ending in a newline; no header. */
  readonly bytes: Uint8Array<ArrayBuffer>;
}

const CHUNK_BYTES = 64 * 1024;
const decoder = new TextDecoder();

function isHeader(line: Uint8Array): boolean {
  return isKnownHeader(decoder.decode(line));
}

/**
 * The last `last` rows of the log whose live file is `livePath`, in log order. A missing log
 * has none; a rotated file deleted by retention meanwhile ends the search there.
 */
export async function readLastRows(livePath: string, options: LastRowsOptions): Promise<LastRows> {
  const tail = new LastLines({ count: options.last, maxBytes: options.maxBytes, isHeader });
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  // The live file first, then the listing: a rotation in between renames the file already read
  // (same inode; held open, so not reused), which is then skipped. One before the open is listed
  // as usual.
  using live = await openOrUndefined(livePath);
  let liveIno: number | null = null;
  if (live) {
    const info = await live.stat();
    liveIno = info.ino;
    await readBackwards(live, livePath, info.size, tail, chunkBytes);
  }
  for (const rotated of tail.done ? [] : listRotated(livePath).reverse()) {
    if (tail.done) break;
    const opened = await openOrUndefined(rotated.path);
    if (!opened) break;
    using file = opened;
    const info = await file.stat();
    if (liveIno !== null && info.ino === liveIno) continue;
    await readBackwards(file, rotated.path, info.size, tail, chunkBytes);
  }
  return { rows: tail.count, bytes: tail.bytes() };
}

/** Feeds the first `size` bytes of `file` (at `path`) to `tail`, from the end, until it is done. */
async function readBackwards(
  file: Deno.FsFile,
  path: string,
  size: number,
  tail: LastLines,
  chunkBytes: number,
): Promise<void> {
  let end = size;
  while (end > 0 && !tail.done) {
    const start = Math.max(0, end - chunkBytes);
    // A new buffer each time: the lines kept point into it.
    const chunk = new Uint8Array(end - start);
    await file.seek(start, Deno.SeekMode.Start);
    for (let filled = 0; filled < chunk.length;) {
      const read = await file.read(chunk.subarray(filled));
      // Only metric writes the log, and only by appending: a file never shrinks while it runs.
      if (read === null) throw new Error(`Cannot read ${path} as it shrank while being read`);
      filled += read;
    }
    tail.prepend(chunk);
    end = start;
  }
  tail.endFile();
}

async function openOrUndefined(path: string): Promise<Deno.FsFile | undefined> {
  try {
    return await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
