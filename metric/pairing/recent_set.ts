/**
 * The last `capacity` keys added, as a set: how metric remembers which
 * samples it recorded, so a redelivery is recognised, in bounded memory.
 *
 * @module
 */

/** See the module documentation. */
export class RecentSet {
  readonly #ring: (string | undefined)[];
  readonly #set = new Set<string>();
  #next = 0;

  constructor(capacity: number, what = "RecentSet") {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Cannot create ${what} as 'seenCapacity' must be a positive integer: current value is ${capacity}`,
      );
    }
    this.#ring = new Array(capacity);
  }

  /** True when `key` was added and is still remembered. */
  has(key: string): boolean {
    return this.#set.has(key);
  }

  /** Remembers `key`, forgetting the oldest past the capacity. Adding a known key does nothing. */
  add(key: string): void {
    if (this.#set.has(key)) return;
    const evicted = this.#ring[this.#next];
    if (evicted !== undefined) this.#set.delete(evicted);
    this.#ring[this.#next] = key;
    this.#set.add(key);
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  /** The last `last` keys remembered (all by default), oldest first. */
  newest(last = Infinity): string[] {
    const size = this.#ring.length;
    const keys: string[] = [];
    for (let i = Math.max(0, size - last); i < size; i++) {
      const key = this.#ring[(this.#next + i) % size];
      if (key !== undefined) keys.push(key);
    }
    return keys;
  }
}
