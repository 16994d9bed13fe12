/**
 * `error_distribution.png` on request: the picture is rendered when someone asks for it, kept
 * until the statistics change, and shared by the requests that come while it is being drawn.
 * Nothing is rendered on a timer, so a pipeline no one looks at spends no CPU or memory on it.
 * At full speed the statistics change every millisecond, so a picture is also kept for
 * `minIntervalMs` whatever came since: however many requests come, at most one render a second
 * competes with the pipeline for the CPU.
 *
 * @module
 */

/** What {@link PngCache} draws from; tests pass closures. */
export interface PngCacheOptions {
  /** Changes whenever the picture would (the statistics' sample count). */
  version(): number;
  /** The picture as SVG, drawn now. */
  svg(): string;
  /** Renders `svg` off the event loop (`PngWorkerHost.render`). */
  render(svg: string): Promise<Uint8Array>;
  /** A picture this young is served even if the version changed (default 1000 ms). */
  minIntervalMs?: number;
  /** A monotonic clock in ms (default `performance.now`). */
  now?(): number;
}

/** See the module documentation. */
export class PngCache {
  readonly #options: PngCacheOptions;
  #cached:
    | { readonly version: number; readonly atMs: number; readonly png: Uint8Array }
    | undefined;
  #rendering: Promise<Uint8Array> | undefined;
  #renders = 0;

  constructor(options: PngCacheOptions) {
    this.#options = options;
  }

  /** Renders started so far. */
  get renders(): number {
    return this.#renders;
  }

  /**
   * The PNG of the current statistics: the cached one while their version is unchanged or it is
   * younger than `minIntervalMs`, else the render in progress (at a thousand samples a second the version changes between any two
   * requests, so waiting for a newer one would mean a render per request), else a new render. A
   * failed render is not cached: it rejects every request that shared it, and the next request
   * tries again.
   */
  get(): Promise<Uint8Array> {
    const version = this.#options.version();
    const now = this.#options.now ?? (() => performance.now());
    const cached = this.#cached;
    if (
      cached &&
      (cached.version === version || now() - cached.atMs < (this.#options.minIntervalMs ?? 1000))
    ) return Promise.resolve(cached.png);
    if (this.#rendering) return this.#rendering;
    this.#renders++;
    // The executor runs now, so the SVG is of this version; a throw in it becomes a rejection.
    const svg = new Promise<string>((resolve) => resolve(this.#options.svg()));
    const rendering = svg.then((document) => this.#options.render(document)).then((png) => {
      this.#cached = { version, atMs: now(), png };
      return png;
    });
    this.#rendering = rendering;
    void rendering.catch(() => {}).finally(() => {
      if (this.#rendering === rendering) this.#rendering = undefined;
    });
    return rendering;
  }
}
