/**
 * The writer of `metric_log.csv` (and, the same way, of `labels_log.txt`):
 * an append-only text file with group commit. Lines appended in the same
 * burst (one macrotask) go out together in one write, so a burst of pairs
 * costs one syscall, and each `append` resolves only once its line is written.
 * The metric service acks a pair's two messages after that, never before.
 *
 * @module
 */

/** See the module documentation. */
export class LogWriter {
  readonly path: string;
  readonly #file: Deno.FsFile;
  readonly #encoder = new TextEncoder();
  #buffer: string[] = [];
  #waiters: PromiseWithResolvers<void>[] = [];
  #writing: Promise<void> | undefined;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /** Opens `path` for appending, creating it (with `header`, if given) when missing. */
  static async open(path: string, header?: string): Promise<LogWriter> {
    const file = await Deno.open(path, { append: true, create: true });
    const log = new LogWriter(path, file);
    if (header !== undefined && (await file.stat()).size === 0) await log.append(header);
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
        // writeSync: an append to the page cache takes ~1 µs of CPU here, the
        // async write ~64 µs (a thread-pool round trip per call), which was a
        // third of metric's CPU per sample. The trade: a stalled disk would
        // stall this event loop for as long, instead of only these appends.
        // Neither syncs to disk; the ack still waits for the write to return.
        let written = 0;
        while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
        for (const waiter of waiters) waiter.resolve();
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.#writing = undefined;
  }
}
