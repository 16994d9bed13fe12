/**
 * A delivery for the metric service's unit tests: the body and properties given, and what the
 * handler did with it (`settled`), with no broker.
 *
 * @module
 */
import type { Delivery } from "../stack/broker.ts";

/** A {@link Delivery} that records how it was settled. */
export interface FakeDelivery extends Delivery {
  readonly settled: string[];
}

/** A live (or, with `live` false, orphaned) delivery of `body` from `queue`. */
export function fakeDelivery(
  queue: string,
  body: string,
  properties: Delivery["properties"],
  live = true,
): FakeDelivery {
  const settled: string[] = [];
  return {
    queue,
    body: new TextEncoder().encode(body),
    properties,
    redelivered: false,
    receivedAt: 0,
    live,
    settled,
    ack() {
      settled.push("ack");
      return Promise.resolve();
    },
    deadLetter(code, reason) {
      settled.push(`dead-letter ${code}: ${reason}`);
      return Promise.resolve();
    },
  };
}
