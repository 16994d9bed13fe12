/**
 * Which member of a broker cluster a replica uses: it starts at one derived
 * from its name, so that replicas spread over the members, and moves to the
 * next one whenever a connect fails or its connection is lost.
 *
 * Pure: no clock, no randomness. The start is derived rather than random so
 * that where a replica connects is predictable from its name, and Swarm's
 * task slots (`ml_model.1`, `ml_model.2`, ...) land on different members.
 *
 * @module
 */

/**
 * The index in a list of `count` members where the replica named `replica`
 * starts: its trailing number (Swarm's task slot) plus a hash of the rest of
 * the name (the service), modulo `count`. Consecutive slots of one service
 * get consecutive members; different services start at different places.
 */
export function startMember(replica: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(
      `Cannot choose a start member as 'count' must be a positive integer: current value is ${count}`,
    );
  }
  const [, prefix, slot] = /^(.*?)(\d*)$/.exec(replica)!;
  return (fnv1a(prefix) + (slot === "" ? 0 : Number(slot.slice(-9)))) % count;
}

/** 32-bit FNV-1a of `text`'s UTF-16 code units: small, stable, spreads short names well. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** A cyclic walk over the members, from a start, one step per {@link MemberRotation.moveOn}. */
export class MemberRotation<T> {
  readonly members: readonly T[];
  #index: number;

  /** Starts at `members[start % members.length]`. */
  constructor(members: readonly T[], start = 0) {
    if (members.length === 0) {
      throw new RangeError("Cannot rotate over members as 'members' is empty");
    }
    this.members = members;
    this.#index = ((start % members.length) + members.length) % members.length;
  }

  /** The member in use (or to try next). */
  get current(): T {
    return this.members[this.#index];
  }

  /** Its position in `members`. */
  get index(): number {
    return this.#index;
  }

  /** Moves to the next member, after the last back to the first; returns it. */
  moveOn(): T {
    this.#index = (this.#index + 1) % this.members.length;
    return this.current;
  }
}
