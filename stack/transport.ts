/**
 * Patches to amqp-client's transport: one socket write per event-loop turn
 * ({@link coalesceWrites}) and Nagle off ({@link setNoDelay}). The second
 * reaches into the client's private `socket` field, so
 * `transport_test.ts` checks it against the real `AMQPClient` and a real
 * broker: an upgrade that renames the field fails that test, not production.
 *
 * @module
 */
import type { AMQPClient } from "@cloudamqp/amqp-client";
import { setImmediate } from "node:timers";

/** The one method of the client that {@link coalesceWrites} wraps. */
export interface FrameSender {
  send(bytes: Uint8Array): Promise<void>;
}

/**
 * Turns the client's one socket write per frame into one write per turn of
 * the event loop: the frames produced while handling one batch of input (a
 * burst of deliveries, confirms or publishes) leave in one write and one TCP
 * segment, which costs the broker and this process fewer wake-ups. Order is
 * kept, and each frame's promise still resolves only once its bytes were
 * handed to the socket, so a confirm or an ack means what it meant. The
 * trade: a frame waits for the end of the current turn (microseconds).
 */
export function coalesceWrites(client: FrameSender): void {
  const send = client.send.bind(client);
  let chunks: Uint8Array[] = [];
  let size = 0;
  let waiters: PromiseWithResolvers<void>[] = [];
  const flush = () => {
    const pending = chunks;
    const settle = waiters;
    let bytes = pending[0];
    if (pending.length > 1) {
      bytes = new Uint8Array(size);
      let offset = 0;
      for (const chunk of pending) {
        bytes.set(chunk, offset);
        offset += chunk.byteLength;
      }
    }
    chunks = [];
    waiters = [];
    size = 0;
    let sent: Promise<void>;
    try {
      sent = send(bytes);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      () => settle.forEach((waiter) => waiter.resolve()),
      (error) => settle.forEach((waiter) => waiter.reject(error)),
    );
  };
  client.send = (bytes: Uint8Array): Promise<void> => {
    const waiter = Promise.withResolvers<void>();
    if (chunks.length === 0) setImmediate(flush);
    chunks.push(bytes);
    size += bytes.byteLength;
    waiters.push(waiter);
    return waiter.promise;
  };
}

/**
 * Turns Nagle's algorithm off, as AMQP clients usually do (amqp-client's
 * node socket leaves it on): with it, a small frame written while an
 * earlier one is unacknowledged by TCP waits for that ACK, up to the peer's
 * delayed-ACK timer (40 ms on Linux). Writes are coalesced per event-loop
 * turn instead ({@link coalesceWrites}).
 */
export function setNoDelay(client: AMQPClient): void {
  const socket = (client as unknown as { socket?: { setNoDelay?(on: boolean): void } }).socket;
  socket?.setNoDelay?.(true);
}
