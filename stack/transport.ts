/**
 * Patches to amqp-client's transport: one socket write per event-loop turn
 * ({@link coalesceWrites}), Nagle off ({@link setNoDelay}), the broker's
 * frame size instead of the client's 8 KiB ({@link acceptBrokerFrameMax}),
 * and a frame reader that reassembles frames of any size and turns a parse
 * error into a lost connection instead of an uncaught exception
 * ({@link reassembleFrames}). The last three reach into private fields
 * (`socket`, `onRead`, `parseFrames`, `frameMax`), so `tests/hostile_test.ts`
 * checks them against the real `AMQPClient` and a real broker, and
 * {@link reassembleFrames} throws at once if the fields it needs are gone: an
 * upgrade that renames them fails a test, not production.
 *
 * Why the frame patches exist: see `docs/amqp-client-frame-bug.md`.
 *
 * @module
 */
import type { AMQPClient } from "@cloudamqp/amqp-client";
import { Buffer } from "node:buffer";
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

/**
 * The frame size used when the broker offers 0 ("no limit"): RabbitMQ's
 * default `frame_max`. The client still sends no frame larger than this.
 */
export const FALLBACK_FRAME_MAX = 131_072;

/** A frame larger than this is a protocol error, not a reason to allocate (RabbitMQ caps messages at 512 MiB). */
export const MAX_FRAME_BYTES = 512 * 1024 * 1024;

/** The fields of amqp-client's `AMQPClient` the frame patches use. */
interface FrameInternals {
  frameMax: number;
  onRead(chunk: Uint8Array): boolean;
  socket?: { destroy(error?: Error): void };
}

function internals(client: AMQPClient): FrameInternals {
  const inner = client as unknown as Record<string, unknown>;
  const expected: [string, string][] = [
    ["onRead", "function"],
    ["parseFrames", "function"],
    ["frameMax", "number"],
  ];
  for (const [field, type] of expected) {
    const actual: string = typeof inner[field];
    if (actual !== type) {
      throw new TypeError(
        `Cannot patch amqp-client as its field '${field}' is not a ${type}: current value is ${actual}`,
      );
    }
  }
  return client as unknown as FrameInternals;
}

/**
 * Makes the client take the broker's `frame_max` (131072 by default) at
 * connection tuning instead of its own 8 KiB default: amqp-client keeps the
 * smaller of its own value and the broker's unless its own is 0. Call before
 * `connect()`, and {@link settleFrameMax} after it.
 */
export function acceptBrokerFrameMax(client: AMQPClient): void {
  internals(client).frameMax = 0;
}

/**
 * After `connect()`: a broker that offered no limit (0) leaves the client
 * with 0, which would size its publish buffers at 0 bytes; use
 * {@link FALLBACK_FRAME_MAX} then. Returns the frame size in force.
 */
export function settleFrameMax(client: AMQPClient): number {
  const inner = internals(client);
  if (inner.frameMax === 0) inner.frameMax = FALLBACK_FRAME_MAX;
  return inner.frameMax;
}

/**
 * Cuts a byte stream into AMQP frames (7-byte header with a 32-bit payload
 * size, payload, end octet) whatever the socket reads look like: a frame
 * split over any number of reads, many frames in one read, frames of any
 * size up to {@link MAX_FRAME_BYTES}. The buffer grows to the largest frame
 * seen. Pure: no socket, no client.
 */
export class FrameReassembler {
  #buffer = new Uint8Array(16 * 1024);
  /** Bytes of an incomplete frame held in `#buffer`. */
  #held = 0;

  /** Bytes of an incomplete frame held until the next push. */
  get pending(): number {
    return this.#held;
  }

  /**
   * Feeds one socket read; calls `onFrame` with a view of each complete
   * frame, in order. A view is valid only during the call. Throws a
   * `RangeError` on a frame size above {@link MAX_FRAME_BYTES}.
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let position = 0;
    while (position < chunk.byteLength) {
      if (this.#held === 0) {
        // Fast path: whole frames straight from the read, no copy.
        const size = frameSize(chunk, position);
        if (size !== undefined && chunk.byteLength - position >= size) {
          onFrame(chunk.subarray(position, position + size));
          position += size;
          continue;
        }
      }
      // Complete the 7-byte header first, then the frame it announces.
      const size = this.#held >= 7 ? frameSize(this.#buffer, 0)! : undefined;
      const want = size ?? 7;
      this.#reserve(want);
      const take = Math.min(want - this.#held, chunk.byteLength - position);
      this.#buffer.set(chunk.subarray(position, position + take), this.#held);
      this.#held += take;
      position += take;
      if (size !== undefined && this.#held === size) {
        this.#held = 0;
        onFrame(this.#buffer.subarray(0, size));
      }
    }
  }

  #reserve(bytes: number): void {
    if (bytes <= this.#buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(bytes, this.#buffer.byteLength * 2));
    grown.set(this.#buffer.subarray(0, this.#held));
    this.#buffer = grown;
  }
}

/** The whole size of the frame at `offset` (header, payload, end octet), once its header is there. */
function frameSize(bytes: Uint8Array, offset: number): number | undefined {
  if (bytes.byteLength - offset < 7) return undefined;
  const payload = new DataView(bytes.buffer, bytes.byteOffset + offset, 7).getUint32(3);
  const size = payload + 8;
  if (size > MAX_FRAME_BYTES) {
    throw new RangeError(
      `Cannot read an AMQP frame as its size exceeds ${MAX_FRAME_BYTES} bytes: current value is ${size}`,
    );
  }
  return size;
}

/**
 * Replaces the client's socket reader with {@link FrameReassembler}.
 * amqp-client 4.1.1 copies a frame that spans socket reads into a buffer
 * sized at its own `frameMax` and throws "Copied 0 bytes" from the socket's
 * data event (an uncaught exception: the process dies) when the frame is
 * larger; RabbitMQ sends content-header frames larger than the negotiated
 * size. Any error while parsing a frame now destroys the socket, which the
 * client reports through `ondisconnect`: the door's run loop reconnects.
 * Call before `connect()`, which binds the reader.
 */
export function reassembleFrames(client: AMQPClient): void {
  const inner = internals(client);
  let reader = new FrameReassembler();
  // Handed exactly one whole frame, the client's own reader takes its one
  // path that works (parse in place) and keeps no state between calls; it
  // also builds the DataView subclass its parser needs, which the package
  // does not export.
  const readWholeFrame = inner.onRead.bind(client);
  const connect = client.connect.bind(client);
  client.connect = () => {
    reader = new FrameReassembler(); // a new socket starts at a frame boundary
    return connect();
  };
  inner.onRead = (chunk: Uint8Array): boolean => {
    try {
      reader.push(chunk, (frame) => {
        readWholeFrame(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
      });
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      inner.socket?.destroy(reason);
    }
    return true;
  };
}
