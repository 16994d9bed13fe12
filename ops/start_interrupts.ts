/**
 * When `deno task start` (`ops/start.ts`) should stop: Ctrl-C, SIGTERM,
 * SIGHUP, or its parent process gone.
 *
 * @module
 */

/**
 * Ctrl-C, SIGTERM, SIGHUP, or the parent process gone: `promise` resolves
 * with why the user wants everything stopped. A second request a while
 * after the first calls `onInsist`.
 */
export class Interrupts {
  readonly #resolvers = Promise.withResolvers<string>();
  readonly promise: Promise<string> = this.#resolvers.promise;
  /** When the first request came. */
  at: number | undefined;
  readonly #listeners: [Deno.Signal, () => void][];
  readonly #orphaned: ReturnType<typeof setInterval>;
  #disposed = false;

  constructor(onInsist: (why: string) => void) {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
    this.#listeners = signals.map((sig) => [sig, () => this.#interrupt(sig, onInsist)]);
    for (const [sig, listener] of this.#listeners) Deno.addSignalListener(sig, listener);
    // A parent killed outright (SIGKILL) passes no signal on: do not run on orphaned.
    const parent = Deno.ppid;
    this.#orphaned = setInterval(() => {
      if (Deno.ppid === parent) return;
      clearInterval(this.#orphaned);
      this.#interrupt("parent process exited", onInsist);
    }, 1000);
  }

  /** Stops listening. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    clearInterval(this.#orphaned);
    for (const [sig, listener] of this.#listeners) Deno.removeSignalListener(sig, listener);
  }

  #interrupt(why: string, onInsist: (why: string) => void): void {
    this.at ??= Date.now();
    // One Ctrl-C may arrive twice (from the terminal and forwarded by `deno task`):
    // only a second request a while later means "do not wait, kill them".
    if (Date.now() - this.at > 1000) onInsist(why);
    this.#resolvers.resolve(why);
  }
}
