/**
 * The last lines of a log, found by reading it backwards: the caller feeds
 * each file's bytes from its end towards its start in chunks of any size,
 * the newest file first, and stops reading as soon as {@link LastLines.done}.
 * Lines are found by their newline bytes alone, never decoded or parsed (a
 * UTF-8 character never contains the byte 0x0a), so the cost is the bytes
 * read and nothing more. Pure: the caller does the reading (`last_rows.ts`).
 *
 * A file's bytes after its last newline are a line still being written (or
 * torn by a crash) and are left out. A file's first line may be left out too,
 * when it is a header (`isHeader`): each file of `metric_log.csv` starts with
 * one.
 *
 * @module
 */

/** Settings of {@link LastLines}. */
export interface LastLinesOptions {
  /** How many lines to keep: the newest ones. */
  readonly count: number;
  /**
   * Most bytes the kept lines may take, a newline each included: a line that would pass it (a
   * header too) ends the search, so fewer than `count` are kept. Default: no bound.
   */
  readonly maxBytes?: number;
  /** True of a file's first line when it is to be left out (its header). Only first lines are asked. */
  readonly isHeader?: (line: Uint8Array) => boolean;
}

const NEWLINE = 0x0a;

/** See the module documentation. */
export class LastLines {
  readonly #count: number;
  readonly #maxBytes: number;
  readonly #isHeader: (line: Uint8Array) => boolean;
  /** The lines kept, newest first, each as its pieces in order. */
  readonly #kept: Uint8Array[][] = [];
  #keptBytes = 0;
  #done: boolean;
  /** Whether the current file's last newline was seen: bytes before it belong to complete lines. */
  #open = false;
  /** The start of the line being assembled, in order: what came before its first piece is not read yet. */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;

  constructor(options: LastLinesOptions) {
    if (!Number.isSafeInteger(options.count) || options.count < 0) {
      throw new RangeError(
        `Cannot keep the last lines as 'count' must be a non-negative integer: current value is ${options.count}`,
      );
    }
    this.#count = options.count;
    this.#maxBytes = options.maxBytes ?? Infinity;
    this.#isHeader = options.isHeader ?? (() => false);
    this.#done = this.#count === 0;
  }

  /** True once `count` lines are kept or the next older one would pass `maxBytes`: read no further. */
  get done(): boolean {
    return this.#done;
  }

  /** How many lines are kept so far. */
  get count(): number {
    return this.#kept.length;
  }

  /**
   * Feeds the bytes of the current file that come just before those fed so
   * far (the first chunk of a file ends at its end). `chunk` is kept by
   * reference, not copied: do not reuse its buffer.
   */
  prepend(chunk: Uint8Array): void {
    let end = chunk.length;
    while (!this.#done) {
      // lastIndexOf's fromIndex counts from the end when negative: an empty rest has no newline.
      const newline = end === 0 ? -1 : chunk.lastIndexOf(NEWLINE, end - 1);
      if (newline === -1) {
        if (this.#open && end > 0) this.#addPartial(chunk.subarray(0, end));
        return;
      }
      // Bytes after the file's last newline are not a line yet: dropped.
      if (this.#open) this.#keep([chunk.subarray(newline + 1, end), ...this.#partial]);
      this.#open = true;
      this.#partial = [];
      this.#partialBytes = 0;
      end = newline;
    }
  }

  /** The current file was fed up to its start: its first line is complete. The next file is older. */
  endFile(): void {
    if (!this.#done && this.#open) {
      const line = concat(this.#partial, this.#partialBytes);
      if (this.#keptBytes + line.length + 1 > this.#maxBytes) this.#done = true;
      else if (!this.#isHeader(line)) this.#keep([line]);
    }
    this.#open = false;
    this.#partial = [];
    this.#partialBytes = 0;
  }

  /** The lines kept, oldest first, each followed by a newline. */
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.#keptBytes);
    let at = 0;
    for (let i = this.#kept.length - 1; i >= 0; i--) {
      for (const piece of this.#kept[i]) {
        out.set(piece, at);
        at += piece.length;
      }
      out[at++] = NEWLINE;
    }
    return out;
  }

  #keep(pieces: Uint8Array[]): void {
    const bytes = pieces.reduce((sum, piece) => sum + piece.length, 1);
    if (this.#keptBytes + bytes > this.#maxBytes) {
      this.#done = true;
      return;
    }
    this.#kept.push(pieces);
    this.#keptBytes += bytes;
    if (this.#kept.length >= this.#count) this.#done = true;
  }

  #addPartial(piece: Uint8Array): void {
    this.#partial.unshift(piece);
    this.#partialBytes += piece.length;
    // A line this long cannot be kept: no use reading the rest of it.
    if (this.#keptBytes + this.#partialBytes + 1 > this.#maxBytes) this.#done = true;
  }
}

function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}
