/**
 * The broker topology, declared in one place. Declaring is idempotent, so
 * the door runs it on every (re)connect: a broker that lost its data comes
 * back with the same queues.
 *
 * @module
 */
import type { AMQPChannel } from "@cloudamqp/amqp-client";
import { QUEUES } from "./contracts.ts";

/** Exchange that collects dead letters, both those we publish with a reason and broker rejects. */
export const DEAD_LETTER_EXCHANGE = "dead-letter";

/** Arguments of every work queue; changing them needs a queue delete (PRECONDITION_FAILED). */
export const WORK_QUEUE_ARGUMENTS = {
  // A consumer that nacks without requeue (or a broker-side reject) still ends up
  // in dead_letter instead of vanishing.
  "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
} as const;

/** Declares the exchange and the four durable queues. Safe to repeat. */
export async function declareTopology(channel: AMQPChannel): Promise<void> {
  await channel.exchangeDeclare(DEAD_LETTER_EXCHANGE, "fanout", { durable: true });
  await channel.queueDeclare(QUEUES.deadLetter, { durable: true });
  await channel.queueBind(QUEUES.deadLetter, DEAD_LETTER_EXCHANGE, "");
  for (const queue of [QUEUES.features, QUEUES.yTrue, QUEUES.yPred]) {
    await channel.queueDeclare(queue, { durable: true }, { ...WORK_QUEUE_ARGUMENTS });
  }
}
