/**
 * The one way this code base opens an amqp-client connection: an
 * `AMQPClient` with the transport patches of `transport.ts` applied, each at
 * the moment it must be (before or after `connect()`), in the order the
 * broker door has always used. A tool or test that builds its own
 * `new AMQPClient(url)` gets the client's 8 KiB frames, its reader that dies
 * on frames split over socket reads, one socket write per frame and Nagle's
 * delays: not the transport the services run on.
 *
 * @module
 */
import { AMQPClient } from "@cloudamqp/amqp-client";
import {
  acceptBrokerFrameMax,
  coalesceWrites,
  reassembleFrames,
  setNoDelay,
  settleFrameMax,
} from "./transport.ts";

/** Settings of {@link openClient} and {@link connectClient}. */
export interface ClientOptions {
  /** The connection name shown in the management UI's connection list. */
  name?: string;
  /**
   * PEM certificates of the authorities an amqps: broker's certificate must
   * chain to, instead of the system's (the stack's own CA).
   */
  ca?: string;
}

/**
 * `url` with the connection name amqp-client reads from its `name`
 * parameter; the other parameters (heartbeat, frameMax, ...) are kept, and
 * `url` itself is not changed.
 */
export function clientUrl(url: string | URL, options: ClientOptions = {}): string {
  const target = new URL(url);
  if (options.name !== undefined) target.searchParams.set("name", options.name);
  return target.toString();
}

/**
 * A client for `url`, not connected yet, with the patches that must be in
 * place before `connect()`: the frame reassembler (it wraps `connect()` and
 * the socket reader), the broker's `frame_max` accepted at tuning, and socket
 * writes coalesced per event-loop turn. It logs nothing (amqp-client's
 * logger off): the caller reports what goes wrong. Connect it with
 * {@link connectClient}, or call `connect()` and then what
 * {@link connectClient} does after it.
 */
export function openClient(url: string | URL, options: ClientOptions = {}): AMQPClient {
  const tls = options.ca ? { ca: options.ca } : undefined;
  const client = new AMQPClient(clientUrl(url, options), tls, null);
  reassembleFrames(client);
  acceptBrokerFrameMax(client);
  coalesceWrites(client);
  return client;
}

/**
 * Opens a client with {@link openClient}, connects it, then applies the
 * patches that need the connection: the frame size settled (the broker's,
 * or RabbitMQ's default when it offered no limit; then in `client.frameMax`)
 * and Nagle's algorithm off. Rejects as `connect()` does; it sets no timeout
 * of its own.
 */
export async function connectClient(
  url: string | URL,
  options: ClientOptions = {},
): Promise<AMQPClient> {
  const client = openClient(url, options);
  await client.connect();
  settleFrameMax(client);
  setNoDelay(client);
  return client;
}
