/**
 * The metric service's side of the PNG worker (`png_worker.ts`): starts it at the first render,
 * hands it resvg's binary and the font, sends it one SVG at a time and gets the PNG bytes back, so
 * the event loop that pairs and acknowledges samples never runs resvg. A render takes tens of
 * milliseconds of WebAssembly (the first, which compiles it, several times that); on the worker's
 * thread it delays nothing but the picture.
 *
 * A worker costs memory as long as it lives (its own V8 isolate plus resvg's WebAssembly heap,
 * 50–100 MiB in the metric service), so it is terminated once no render came for `idleMs`,
 * and the next render starts another: memory is spent while someone looks at the picture only.
 *
 * Failures, and what follows:
 * - resvg's files cannot be read, or resvg does not load: {@link PngUnavailable}, for good (the
 *   dashboard answers every request for the PNG with a 503; the SVG is unaffected);
 * - the worker dies (an uncaught error, its module failing to load) or a render outlasts
 *   `timeoutMs` (a stuck worker): the worker is terminated and the render rejected; the next
 *   render starts a new worker, after a delay that doubles with each failure in a row
 *   ({@link restartDelayMs}; renders meanwhile reject with {@link PngWorkerDown}), so a worker
 *   that keeps failing costs little.
 *
 * Starting a worker blocks the calling thread for tens of milliseconds (V8 makes the isolate
 * there; 20–100 ms measured on a busy 2-core VM): paid at the first request after an idle stop,
 * never on a timer.
 *
 * @module
 */
import workerSource from "./png_worker.ts" with { type: "text" };
import type { PngReply, PngRequest } from "./png_worker.ts";

/** The part of a `Worker` the host uses; tests pass plain objects. */
export interface WorkerLike {
  onmessage: ((event: MessageEvent<PngReply>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  postMessage(message: PngRequest, transfer?: Transferable[]): void;
  terminate(): void;
}

/** resvg's binary and the font, as bytes. */
export interface RendererFiles {
  readonly wasm: Uint8Array;
  readonly font: Uint8Array;
}

/** What the host reports, for logs and metrics. */
export interface PngWorkerEvents {
  /** A worker loaded resvg (and rendered its warm-up picture) in `ms` on its thread. */
  loaded?(ms: number): void;
  /** A render took `ms` on the worker's thread. */
  rendered?(ms: number): void;
  /** A worker was stopped after a failure; the next render starts another. */
  failed?(reason: string, failures: number, retryInMs: number): void;
  /** A worker was started again after a failure. */
  restarted?(): void;
  /** A worker was started (`true`) or stopped, by idleness, a failure or {@link PngWorkerHost.close}. */
  running?(running: boolean): void;
}

/** Settings of {@link PngWorkerHost}. */
export interface PngWorkerHostOptions {
  /** Reads resvg's binary and the font (the service has `--allow-read` of both). */
  readFiles(): Promise<RendererFiles>;
  /** Starts a worker (default: {@link startPngWorker}). */
  createWorker?(): WorkerLike;
  /** A load or render that takes longer is abandoned and its worker replaced (default 30 s). */
  timeoutMs?: number;
  /** The worker is terminated once no render came for this long (default 60 s). */
  idleMs?: number;
  /** The wait before starting a worker again after `failures` failures in a row. */
  restartDelayMs?(failures: number): number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?(): number;
  events?: PngWorkerEvents;
}

/** resvg's files cannot be read or resvg cannot load: no PNG from this process. */
export class PngUnavailable extends Error {
  override name = "PngUnavailable";
}

/** The worker failed a while ago and is not started again yet: no PNG this time. */
export class PngWorkerDown extends Error {
  override name = "PngWorkerDown";
}

/** The default wait before a restart: 1 s, doubling with each failure in a row, at most 5 min. */
export function restartDelayMs(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(300_000, 1000 * 2 ** Math.min(failures - 1, 20));
}

/**
 * A Web Worker running `png_worker.ts`, started from a `blob:` URL of the module's text: the
 * worker then needs no `--allow-read` of local modules (it imports only the npm package, which
 * the main module already loaded), and the text is part of the module graph, so reading it needs
 * none either.
 */
export function startPngWorker(): WorkerLike {
  const url = URL.createObjectURL(new Blob([workerSource], { type: "application/typescript" }));
  const worker = new Worker(url, { type: "module", name: "png" });
  const terminate = worker.terminate.bind(worker);
  worker.terminate = () => {
    terminate();
    URL.revokeObjectURL(url);
  };
  return worker;
}

/** One request in flight and how to settle it. */
interface Waiting {
  readonly id: number;
  readonly settle: (reply: PngReply | Error) => void;
}

/** See the module documentation. */
export class PngWorkerHost {
  readonly #options: PngWorkerHostOptions;
  readonly #timeoutMs: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  #worker: WorkerLike | undefined;
  #loaded: Promise<void> | undefined;
  #waiting: Waiting | undefined;
  #nextId = 1;
  #failures = 0;
  #retryAt = 0;
  #lastFailure = "";
  #unavailable: PngUnavailable | undefined;
  #closed = false;
  #started = 0;
  #pending = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PngWorkerHostOptions) {
    this.#options = options;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Workers started so far. */
  get started(): number {
    return this.#started;
  }

  /** Whether a worker is alive now (loading, rendering or waiting out its idle time). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * The PNG of `svg`, rendered on the worker (started if none is alive); renders run one at a
   * time, in call order. The worker is stopped `idleMs` after the last one settles.
   */
  render(svg: string): Promise<Uint8Array> {
    this.#pending++;
    clearTimeout(this.#idleTimer);
    const rendering = this.#serialized(async () => {
      await this.#ready();
      const reply = await this.#ask({ kind: "render", id: this.#nextId++, svg });
      if (reply.kind !== "rendered") {
        // resvg refused this SVG: the worker is fine, only this picture failed.
        throw new Error(reply.kind === "failed" ? reply.error : `unexpected reply ${reply.kind}`);
      }
      this.#failures = 0;
      this.#options.events?.rendered?.(reply.ms);
      return reply.png;
    });
    void rendering.catch(() => {}).finally(() => {
      if (--this.#pending === 0 && this.#worker && !this.#closed) {
        this.#idleTimer = setTimeout(() => this.#stop(new Error("idle")), this.#idleMs);
      }
    });
    return rendering;
  }

  /** Terminates the worker; renders after this reject. */
  close(): void {
    this.#closed = true;
    this.#stop(new Error("the PNG worker was closed"));
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** A worker with resvg loaded, started if need be. */
  #ready(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the PNG worker was closed"));
    if (this.#unavailable) return Promise.reject(this.#unavailable);
    if (this.#loaded) return this.#loaded;
    const waitMs = this.#retryAt - this.#now();
    if (waitMs > 0) {
      return Promise.reject(
        new PngWorkerDown(
          `the PNG worker starts again in ${
            Math.ceil(waitMs / 1000)
          } s, after: ${this.#lastFailure}`,
        ),
      );
    }
    this.#loaded = this.#load();
    return this.#loaded;
  }

  async #load(): Promise<void> {
    let files: RendererFiles;
    try {
      files = await this.#options.readFiles();
    } catch (error) {
      throw this.#giveUp(error);
    }
    const worker = (this.#options.createWorker ?? startPngWorker)();
    this.#worker = worker;
    this.#started++;
    this.#options.events?.running?.(true);
    if (this.#failures > 0) this.#options.events?.restarted?.();
    worker.onmessage = ({ data }) => {
      const waiting = this.#waiting;
      // A reply from a worker already replaced answers nothing.
      if (!waiting || this.#worker !== worker) return;
      if ("id" in data && data.id !== undefined && data.id !== waiting.id) return;
      this.#waiting = undefined;
      waiting.settle(data);
    };
    worker.onerror = (event) => {
      // Handled here: an unhandled worker error would be thrown again in this thread.
      event.preventDefault();
      if (this.#worker === worker) this.#fail(`the PNG worker failed: ${event.message}`);
    };
    const reply = await this.#ask(
      { kind: "load", wasm: files.wasm, font: files.font },
      [files.wasm, files.font].flatMap(ownedBuffer),
    );
    if (reply.kind === "failed") throw this.#giveUp(new Error(reply.error));
    if (reply.kind === "loaded") this.#options.events?.loaded?.(reply.ms);
  }

  /** Sends `request` and waits for its reply, failing the worker when none comes in time. */
  #ask(request: PngRequest, transfer: Transferable[] = []): Promise<PngReply> {
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error(`the PNG worker is gone: ${this.#lastFailure}`));
    const id = request.kind === "render" ? request.id : 0;
    const { promise, resolve, reject } = Promise.withResolvers<PngReply>();
    const timer = setTimeout(
      () => this.#fail(`no answer from the PNG worker within ${this.#timeoutMs} ms`),
      this.#timeoutMs,
    );
    this.#waiting = {
      id,
      settle: (reply) => {
        clearTimeout(timer);
        if (reply instanceof Error) reject(reply);
        else resolve(reply);
      },
    };
    worker.postMessage(request, transfer);
    return promise;
  }

  /** The worker died or hung: stop it; the next render starts another after the delay. */
  #fail(reason: string): void {
    this.#failures++;
    this.#lastFailure = reason;
    const delay = (this.#options.restartDelayMs ?? restartDelayMs)(this.#failures);
    this.#retryAt = this.#now() + delay;
    this.#stop(new Error(reason));
    this.#options.events?.failed?.(reason, this.#failures, delay);
  }

  /** resvg will not load in this process: no worker again. */
  #giveUp(error: unknown): PngUnavailable {
    const message = error instanceof Error ? error.message : String(error);
    this.#unavailable = new PngUnavailable(message, { cause: error });
    this.#stop(this.#unavailable);
    return this.#unavailable;
  }

  #stop(why: Error): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const waiting = this.#waiting;
    const worker = this.#worker;
    this.#waiting = undefined;
    this.#worker = undefined;
    this.#loaded = undefined;
    if (worker) {
      worker.terminate();
      this.#options.events?.running?.(false);
    }
    waiting?.settle(why);
  }
}

/** `bytes`' buffer when the bytes span all of it (so it can be handed over), else nothing. */
function ownedBuffer(bytes: Uint8Array): ArrayBuffer[] {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : [];
}
