/**
 * The broker topology, declared in one place. Declaring is idempotent, so
 * the door runs it on every (re)connect: a broker that lost its data comes
 * back with the same queues.
 *
 * The work queues are quorum queues by default (`QUEUE_TYPE`). Their type is
 * the one thing a declare must say (no policy can set it); their delivery
 * limit and dead-lettering come from the broker's policies (`stack/policies.ts`),
 * so they can change without deleting a queue.
 *
 * @module
 */
import type { AMQPChannel } from "@cloudamqp/amqp-client";
import { QUEUES } from "./contracts.ts";

/** Exchange that collects dead letters, both those we publish with a reason and broker rejects. */
export const DEAD_LETTER_EXCHANGE = "dead-letter";

/** Queue types the work queues can have. */
export const QUEUE_TYPES = ["quorum", "classic"] as const;
/** One of {@link QUEUE_TYPES}. */
export type QueueType = typeof QUEUE_TYPES[number];
/** Replicated on a cluster, a delivery limit; the same on one node, so dev behaves like production. */
export const DEFAULT_QUEUE_TYPE: QueueType = "quorum";

/** The queues that carry samples: everything but `dead_letter`. */
export const WORK_QUEUES: readonly string[] = [QUEUES.features, QUEUES.yTrue, QUEUES.yPred];

/**
 * Every queue the pipeline declares, all of one type: on a cluster, dead
 * letters are samples too and must survive a lost node. `dead_letter` has no
 * policy (no delivery limit: `deno task dlq list` takes and returns them).
 */
export const PIPELINE_QUEUES: readonly string[] = [QUEUES.deadLetter, ...WORK_QUEUES];

/**
 * Declare arguments of a work queue of `type`. A classic queue gets none, so
 * that it matches one declared before queue types were chosen.
 */
export function workQueueArguments(type: QueueType): Record<string, string> {
  return type === "classic" ? {} : { "x-queue-type": type };
}

/**
 * Thrown when a queue exists with other arguments than ours (the broker's
 * 406 PRECONDITION_FAILED): says what to do about it.
 */
export class TopologyMismatch extends Error {
  constructor(queue: string, type: QueueType, brokerMessage: string) {
    super(
      `Cannot declare queue '${queue}' as a ${type} queue as it exists with other arguments ` +
        `(${brokerMessage}). A queue's type cannot change in place: stop features, let model ` +
        `and metric empty the queue, delete it (rabbitmqctl delete_queue ${queue}, or the ` +
        `management UI) and the services declare it anew; or set QUEUE_TYPE to the type it has. ` +
        `See docs/operations.md, "Queue types and policies"`,
    );
    this.name = "TopologyMismatch";
  }
}

/** Declares the exchange and the four durable queues, all of `type`. Safe to repeat. */
export async function declareTopology(
  channel: AMQPChannel,
  type: QueueType = DEFAULT_QUEUE_TYPE,
): Promise<void> {
  await channel.exchangeDeclare(DEAD_LETTER_EXCHANGE, "fanout", { durable: true });
  for (const queue of PIPELINE_QUEUES) {
    try {
      await channel.queueDeclare(queue, { durable: true }, workQueueArguments(type));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/PRECONDITION_FAILED|inequivalent arg/.test(message)) {
        throw new TopologyMismatch(queue, type, message);
      }
      throw error;
    }
  }
  await channel.queueBind(QUEUES.deadLetter, DEAD_LETTER_EXCHANGE, "");
}
