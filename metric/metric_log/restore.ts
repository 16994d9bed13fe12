/**
 * Reads `metric_log.csv` back at start, so a restarted metric service keeps
 * its running MAE and recognises ids it recorded before the restart (the
 * broker redelivers whatever was not acked when it stopped).
 *
 * @module
 */
import { CSV_HEADER, type PairRecord, parseRecord } from "./format.ts";

/** What a previous run left. */
export interface Restored {
  /** Every valid row, in order; the caller keeps what it needs. */
  readonly rows: number;
  /** Lines that were not valid rows (a damaged line is skipped, not fatal). */
  readonly skipped: number;
  /** Bytes cut from the end: a line torn by a crash mid-write. */
  readonly truncatedBytes: number;
  /** The file had another header; it was moved aside to this path. */
  readonly movedTo?: string;
}

/**
 * Streams the CSV at `path` (missing is fine) and calls `onRecord` for each
 * row. A last line without its newline was torn by a crash: it is cut off,
 * so the next append starts on a clean line. A file with another header is
 * renamed aside (`<path>.<time>.bak`) rather than mixed with the new format.
 */
export async function restoreMetricLog(
  path: string,
  onRecord: (record: PairRecord) => void,
  now = new Date(),
): Promise<Restored> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { rows: 0, skipped: 0, truncatedBytes: 0 };
    throw error;
  }
  let rows = 0;
  let skipped = 0;
  let header: string | undefined;
  let tail = "";
  // Counted on the raw bytes: decoding replaces invalid UTF-8 (a damaged
  // line) with U+FFFD, so the text's length does not say where to cut.
  let bytesRead = 0;
  let completeBytes = 0;
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const newline = chunk.lastIndexOf(0x0a);
      if (newline !== -1) completeBytes = bytesRead + newline + 1;
      bytesRead += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  try {
    const lines = file.readable.pipeThrough(counted).pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      const parts = (tail + chunk).split("\n");
      tail = parts.pop()!;
      for (const line of parts) {
        if (header === undefined) {
          header = line;
          if (header !== CSV_HEADER) break;
          continue;
        }
        const record = parseRecord(line);
        if (record) {
          rows++;
          onRecord(record);
        } else if (line !== "") skipped++;
      }
      if (header !== undefined && header !== CSV_HEADER) break;
    }
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
  if (header !== undefined && header !== CSV_HEADER) {
    const movedTo = `${path}.${now.toISOString().replaceAll(":", "-")}.bak`;
    await Deno.rename(path, movedTo);
    return { rows: 0, skipped: 0, truncatedBytes: 0, movedTo };
  }
  const truncatedBytes = bytesRead - completeBytes;
  if (truncatedBytes > 0) await Deno.truncate(path, completeBytes);
  return { rows, skipped, truncatedBytes };
}
