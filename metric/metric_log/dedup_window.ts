/**
 * Which recorded ids metric remembers, so that a copy of a sample it recorded
 * is dropped, not counted again; and which of them its snapshot carries
 * across a restart.
 *
 * **What the broker can redeliver** ({@link redeliveryWindow}) is what
 * metric held unacknowledged: at most PREFETCH deliveries per queue. Of
 * those, the recorded ones are pairs whose row was written and whose acks
 * had not gone out when metric stopped: at most PREFETCH ids, among the last
 * recorded (a pair is acked as soon as its row is written). The broker
 * redelivers them when metric's channel closes, ahead of what waits in the
 * queues, and again at each restart until acked, up to the queue's delivery
 * limit (`stack/policies.ts`: then they are dead-lettered, not recorded).
 * Between the first record of such an id and its redelivery metric records
 * at most the other redelivered pairs, PREFETCH more: so the last
 * 2 x PREFETCH ids cover every broker redelivery, and that is what the
 * snapshot carries.
 *
 * **Copies the broker did not make** ({@link dedupWindow}, remembered while
 * running) follow their first copy closely in the queue: features
 * republishes both messages of a sample whose confirm was lost, at most
 * MAX_IN_FLIGHT samples (10,000 at most) after it in each queue. A model
 * replica that dies after publishing a prediction makes a second one of the
 * same id; its truth is not copied, so that copy is never counted twice: it
 * pairs with nothing and is dead-lettered as unpaired after UNPAIRED_TTL_MS,
 * unless it arrives while the id is still remembered and is dropped.
 *
 * So a sample is counted twice only if both its halves are copied and
 * arrive after its id left the window, within UNPAIRED_TTL_MS of each other.
 *
 * @module
 */

/**
 * The fewest ids remembered while running: twice features' largest
 * MAX_IN_FLIGHT (10,000), for a sample republished in both queues. About
 * 1.7 MiB of heap.
 */
export const MIN_DEDUP_WINDOW = 20_000;

function checked(prefetch: number): number {
  if (!Number.isSafeInteger(prefetch) || prefetch < 1) {
    throw new RangeError(
      `Cannot size the de-duplication window as 'prefetch' must be a positive integer: current value is ${prefetch}`,
    );
  }
  return prefetch;
}

/** The last recorded ids a broker redelivery can bring again: 2 x metric's PREFETCH. */
export function redeliveryWindow(prefetch: number): number {
  return 2 * checked(prefetch);
}

/** Recorded ids remembered while running, for metric's `prefetch`: at least the redelivery window. */
export function dedupWindow(prefetch: number): number {
  return Math.max(MIN_DEDUP_WINDOW, redeliveryWindow(prefetch));
}
