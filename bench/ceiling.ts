/**
 * The broker's own ceiling on this machine: one durable queue (of the work
 * queues' type unless told otherwise), persistent
 * messages, publisher confirms pipelined with a fixed window, a consumer with
 * manual acks (one `basic.ack` per delivery, as the door sends them) and a
 * fixed prefetch. Body and properties are those of a real `features` message.
 * A publisher connection and a consumer connection, as in the pipeline, in
 * one small Deno process using the same `@cloudamqp/amqp-client` with the
 * door's transport (`connectClient` of `stack/amqp_client.ts`: writes
 * coalesced per event-loop turn, `TCP_NODELAY`, the broker's frame size).
 *
 * @module
 */
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { connectClient } from "../stack/amqp_client.ts";
import { DEFAULT_QUEUE_TYPE, type QueueType, workQueueArguments } from "../stack/topology.ts";

/** What {@link measureCeiling} sends and how. */
export interface CeilingOptions {
  url: string;
  /** PEM of the CA an amqps: broker is signed by. */
  ca?: string;
  /** Messages to send through the queue. */
  messages: number;
  /** Unconfirmed publishes allowed at once. */
  window: number;
  /** Unacked deliveries the consumer may hold. */
  prefetch: number;
  body: string | Uint8Array;
  properties: AMQPProperties;
  /** Acknowledge with `multiple` every this many deliveries instead of one by one (default 1). */
  ackEvery?: number;
  /** A queue of its own, deleted afterwards (default: one per queue type). */
  queue?: string;
  /** The queue's type, as the work queues are declared (default: theirs, quorum). */
  queueType?: QueueType;
}

/** One ceiling run. */
export interface CeilingResult {
  /** Messages per second from the first publish to the last delivery acked. */
  readonly messagesPerSecond: number;
  readonly seconds: number;
  /** Messages per second the publisher got confirmed (its own pace). */
  readonly confirmedPerSecond: number;
}

/** Publishes and consumes `messages` messages as fast as the broker allows. */
export async function measureCeiling(options: CeilingOptions): Promise<CeilingResult> {
  const queueType = options.queueType ?? DEFAULT_QUEUE_TYPE;
  const queue = options.queue ?? `bench-ceiling-${queueType}`;
  const ackEvery = options.ackEvery ?? 1;
  // The door's transport, so the ceiling is the same broker work the pipeline asks for.
  const publisher = await connectClient(options.url, {
    name: "bench-ceiling-publisher",
    ca: options.ca,
  });
  const consumer = await connectClient(options.url, {
    name: "bench-ceiling-consumer",
    ca: options.ca,
  });
  try {
    const pub = await publisher.channel();
    await pub.queueDeclare(queue, { durable: true }, workQueueArguments(queueType));
    await pub.queuePurge(queue);
    await pub.confirmSelect();
    const sub = await consumer.channel();
    await sub.basicQos(options.prefetch);

    const done = Promise.withResolvers<number>();
    let received = 0;
    await sub.basicConsume(queue, { noAck: false }, (message) => {
      received++;
      if (ackEvery === 1) {
        void message.ack();
      } else if (received % ackEvery === 0 || received === options.messages) {
        void message.ack(true);
      }
      if (received === options.messages) done.resolve(performance.now());
    });

    const started = performance.now();
    let unconfirmed = 0;
    let slot: PromiseWithResolvers<void> | undefined;
    let failure: unknown;
    const settled = () => {
      unconfirmed--;
      slot?.resolve();
    };
    for (let i = 0; i < options.messages; i++) {
      while (unconfirmed >= options.window) {
        slot = Promise.withResolvers<void>();
        await slot.promise;
        slot = undefined;
      }
      if (failure) throw failure;
      unconfirmed++;
      pub.basicPublish("", queue, options.body, { deliveryMode: 2, ...options.properties })
        .then(settled, (error) => {
          failure = error;
          settled();
        });
    }
    while (unconfirmed > 0) {
      slot = Promise.withResolvers<void>();
      await slot.promise;
    }
    if (failure) throw failure;
    const confirmedAt = performance.now();
    const finished = await done.promise;
    await pub.queueDelete(queue);
    const seconds = (finished - started) / 1000;
    return {
      messagesPerSecond: options.messages / seconds,
      seconds,
      confirmedPerSecond: options.messages / ((confirmedAt - started) / 1000),
    };
  } finally {
    await consumer.close().catch(() => {});
    await publisher.close().catch(() => {});
  }
}
