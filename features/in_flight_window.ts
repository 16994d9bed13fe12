/**
 * A bound on work started but not finished: the features service's samples
 * published but not yet confirmed.
 *
 * @module
 */

/**
 * Counts work in flight and lets callers wait for room. Waiters share one
 * promise, resolved whenever a piece of work finishes: `Promise.race` over
 * the whole set would attach a reaction to every pending piece on every turn.
 */
export class InFlightWindow {
  readonly #limit: number;
  #count = 0;
  #freed: PromiseWithResolvers<void> | undefined;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(
        `Cannot create InFlightWindow as 'limit' must be a positive integer: current value is ${limit}`,
      );
    }
    this.#limit = limit;
  }

  /** Work started and not yet finished. */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts `work` until it settles, fulfilled or rejected. The window does
   * not handle a rejection: the caller still owns `work`.
   */
  add(work: Promise<unknown>): void {
    this.#count++;
    work.then(() => this.#release(), () => this.#release());
  }

  /** Resolves once fewer than `limit` pieces are in flight. */
  async room(): Promise<void> {
    while (this.#count >= this.#limit) await this.#next();
  }

  /** Resolves once nothing is in flight. */
  async drain(): Promise<void> {
    while (this.#count > 0) await this.#next();
  }

  #next(): Promise<void> {
    this.#freed ??= Promise.withResolvers<void>();
    return this.#freed.promise;
  }

  #release(): void {
    this.#count--;
    const freed = this.#freed;
    this.#freed = undefined;
    freed?.resolve();
  }
}
