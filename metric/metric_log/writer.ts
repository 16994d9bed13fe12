/**
 * The writer of `metric_log.csv` (and, the same way, of `labels_log.txt`):
 * an append-only text file with group commit. Lines appended in the same
 * burst (one macrotask) go out together in one write, so a burst of pairs
 * costs one syscall, and each `append` resolves only once its line is written.
 * The metric service acks a pair's two messages after that, never before.
 *
 * With `rotation` (`rotation.ts`) the file rotates between two writes, never
 * inside one: it is renamed whole to its number (`files.ts`), a new file
 * starts with the header, and rotated files past their retention are
 * deleted. Lines are never split or lost; a reader that follows the log
 * finishes the renamed file and goes on with the new one (`reader.ts`).
 *
 * @module
 */
import { listRotated, liveSeq, rotatedPath } from "./files.ts";
import { dueForRotation, filesToRetire, type RotationSettings } from "./rotation.ts";

/** Settings of {@link LogWriter.open}. */
export interface LogWriterOptions {
  /** First line of every file of the log (the CSV's header). */
  header?: string;
  /** Rotate and retain; without it the file grows for ever. */
  rotation?: RotationSettings;
  /** Wall-clock ms, for rotation by period and retention by age. Default `Date.now`. */
  now?: () => number;
  /** The live file's number is at least this (a snapshot's, when every rotated file is gone). */
  minSeq?: number;
  /** Hears of each rotation: the rotated file and the files retention deleted. */
  onRotate?: (event: { rotated: string; retired: string[] }) => void;
  /** Hears of a rotation or deletion that failed; writing goes on in the same file. */
  onRotateError?: (error: unknown) => void;
}

/** Where the next line of a log goes: its live file's number and size. */
export interface LogPosition {
  /** The number the live file gets when it rotates (`files.ts`). */
  readonly seq: number;
  /** Bytes written to the live file. */
  readonly offset: number;
}

/** How long a failed rotation waits before it is tried again. */
const ROTATE_RETRY_MS = 60_000;

/** See the module documentation. */
export class LogWriter {
  readonly path: string;
  readonly #encoder = new TextEncoder();
  readonly #options: LogWriterOptions;
  readonly #now: () => number;
  readonly #headerBytes: number;
  #file: Deno.FsFile;
  #size: number;
  #seq: number;
  #lastWriteMs: number;
  #retryRotationAt = -Infinity;
  #buffer: string[] = [];
  #waiters: PromiseWithResolvers<void>[] = [];
  #writing: Promise<void> | undefined;

  private constructor(
    path: string,
    file: Deno.FsFile,
    stat: Deno.FileInfo,
    options: LogWriterOptions,
  ) {
    this.path = path;
    this.#file = file;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#headerBytes = options.header === undefined
      ? 0
      : this.#encoder.encode(`${options.header}\n`).byteLength;
    this.#size = stat.size;
    this.#lastWriteMs = stat.mtime?.getTime() ?? this.#now();
    this.#seq = liveSeq(path, options.minSeq);
  }

  /**
   * Opens `path` for appending, creating it (with the header, if given) when
   * missing. `options` may be just the header.
   */
  static async open(path: string, options: string | LogWriterOptions = {}): Promise<LogWriter> {
    const settings = typeof options === "string" ? { header: options } : options;
    const file = await Deno.open(path, { append: true, create: true });
    const log = new LogWriter(path, file, await file.stat(), settings);
    if (settings.header !== undefined && log.#size === 0) await log.append(settings.header);
    if (settings.rotation) log.#retire();
    return log;
  }

  /** Appends `line` and a newline; resolves when written to the file. */
  append(line: string): Promise<void> {
    this.#buffer.push(line, "\n");
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    this.#writing ??= this.#drain();
    return waiter.promise;
  }

  /** True when every line appended is written: {@link position} then follows the last of them. */
  get idle(): boolean {
    return this.#writing === undefined && this.#buffer.length === 0;
  }

  /** Where the next line goes. Read it while {@link idle} to know where the written lines end. */
  get position(): LogPosition {
    return { seq: this.#seq, offset: this.#size };
  }

  /** Resolves when everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    this.#file.close();
  }

  async #drain(): Promise<void> {
    // Let the current burst of appends (same macrotask) join this write.
    await Promise.resolve();
    while (this.#buffer.length > 0) {
      const bytes = this.#encoder.encode(this.#buffer.join(""));
      const waiters = this.#waiters;
      this.#buffer = [];
      this.#waiters = [];
      try {
        const now = this.#now();
        // Between two writes: a file never ends in the middle of a line.
        this.#rotateIfDue(now);
        // writeSync: an append to the page cache takes ~1 µs of CPU here, the
        // async write ~64 µs (a thread-pool round trip per call), which was a
        // third of metric's CPU per sample. The trade: a stalled disk would
        // stall this event loop for as long, instead of only these appends.
        // Neither syncs to disk; the ack still waits for the write to return.
        this.#writeAll(bytes);
        this.#lastWriteMs = now;
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = undefined;
  }

  #writeAll(bytes: Uint8Array): void {
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
    this.#size += bytes.length;
  }

  #rotateIfDue(now: number): void {
    const rotation = this.#options.rotation;
    if (!rotation || now < this.#retryRotationAt) return;
    const live = {
      size: this.#size,
      headerBytes: this.#headerBytes,
      lastWriteMs: this.#lastWriteMs,
    };
    if (!dueForRotation(live, now, rotation)) return;
    const rotated = rotatedPath(this.path, this.#seq);
    // Synchronous, like the writes: no append can come between the rename and the new file.
    let next: Deno.FsFile;
    try {
      Deno.renameSync(this.path, rotated);
      try {
        next = Deno.openSync(this.path, { append: true, create: true });
      } catch (error) {
        Deno.renameSync(rotated, this.path);
        throw error;
      }
    } catch (error) {
      // Go on appending to the same file; try again later.
      this.#retryRotationAt = now + ROTATE_RETRY_MS;
      this.#options.onRotateError?.(error);
      return;
    }
    this.#file.close();
    this.#file = next;
    // The rotated file's time is its last write: retention by age goes by it.
    const lastWrite = new Date(this.#lastWriteMs);
    try {
      Deno.utimeSync(rotated, lastWrite, lastWrite);
    } catch (error) {
      this.#options.onRotateError?.(error);
    }
    this.#seq++;
    this.#size = 0;
    if (this.#options.header !== undefined) {
      this.#writeAll(this.#encoder.encode(`${this.#options.header}\n`));
    }
    const retired = this.#retire(now);
    this.#options.onRotate?.({ rotated, retired });
  }

  /** Deletes the rotated files retention lets go; returns their paths. */
  #retire(now = this.#now()): string[] {
    const rotation = this.#options.rotation!;
    const retired: string[] = [];
    try {
      const files = listRotated(this.path).map((file) => {
        const info = Deno.statSync(file.path);
        return { ...file, size: info.size, lastWriteMs: info.mtime?.getTime() ?? now };
      });
      for (const file of filesToRetire(files, this.#size, now, rotation)) {
        Deno.removeSync(rotatedPath(this.path, file.seq));
        retired.push(rotatedPath(this.path, file.seq));
      }
    } catch (error) {
      this.#options.onRotateError?.(error);
    }
    return retired;
  }
}
