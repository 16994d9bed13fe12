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

/**
 * The queues that carry samples and are published to through their own exchange: a candidate's
 * predictions (`y_pred_shadow`) too, so a dead-lettered one can be replayed like any other.
 */
export const WORK_QUEUES: readonly string[] = [
  QUEUES.features,
  QUEUES.yTrue,
  QUEUES.yPred,
  QUEUES.yPredShadow,
];

/**
 * Every queue the broker's definitions declare, all of one type: on a cluster,
 * dead letters are samples too and must survive a lost node. `dead_letter` has
 * no policy (no delivery limit: `deno task dlq list` takes and returns them).
 * `features_shadow` is not among them: it lives only while a candidate
 * consumes it ({@link SHADOW_COPY}).
 */
export const PIPELINE_QUEUES: readonly string[] = [
  QUEUES.deadLetter,
  ...WORK_QUEUES,
];

/**
 * The exchange `queue` is published through: a fanout exchange bound to it
 * alone. Not the default exchange, which reaches every queue: the right to
 * publish is granted per exchange, so this grants it per queue
 * (`stack/broker_roles.ts`).
 */
export function publishExchange(queue: string): string {
  return `ml.${queue}`;
}

/** The publish exchange of every work queue, in {@link WORK_QUEUES} order. */
export const PUBLISH_EXCHANGES: readonly string[] = WORK_QUEUES.map(publishExchange);

/** Every binding of the topology: an exchange to the one queue it feeds. */
export const BINDINGS: readonly { exchange: string; queue: string }[] = [
  { exchange: DEAD_LETTER_EXCHANGE, queue: QUEUES.deadLetter },
  ...WORK_QUEUES.map((queue) => ({ exchange: publishExchange(queue), queue })),
];

/**
 * The copy of every `features` message a candidate in shadow predicts from: `features_shadow`,
 * bound to `ml.features`. Not in {@link BINDINGS} nor in the broker's definitions: a candidate
 * declares the queue and binds it on every connect ({@link openShadowCopy}), as a classic
 * auto-delete queue, so the broker deletes it, and the copy with it, when the last candidate's
 * consumer goes, however it goes: a SIGTERM, a SIGKILL, a lost node. The stable pipeline pays
 * for the copy (a second queue write per sample, in memory rather than a quorum log) only while
 * a shadow consumes it, and no stopped candidate can leave it running. Not a quorum queue:
 * these are copies for a measurement, not samples the pipeline owes anyone; its policy
 * (`stack/policies.ts`) drops the oldest when a candidate falls behind.
 */
export const SHADOW_COPY: { readonly exchange: string; readonly queue: string } = {
  exchange: publishExchange(QUEUES.features),
  queue: QUEUES.featuresShadow,
};

/**
 * Declares `features_shadow` (auto-delete) and binds it to `features`' exchange; idempotent.
 * Needs configure on that one queue, the only configure right a service has
 * (`stack/broker_roles.ts`).
 */
export async function openShadowCopy(channel: AMQPChannel): Promise<void> {
  await channel.queueDeclare(SHADOW_COPY.queue, { durable: false, autoDelete: true });
  await channel.queueBind(SHADOW_COPY.queue, SHADOW_COPY.exchange, "");
}

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

/**
 * Declares the exchanges, the four durable queues (all of `type`) and their
 * bindings. Safe to repeat. Needs the right to configure every one of them.
 */
export async function declareTopology(
  channel: AMQPChannel,
  type: QueueType = DEFAULT_QUEUE_TYPE,
): Promise<void> {
  for (const exchange of [DEAD_LETTER_EXCHANGE, ...PUBLISH_EXCHANGES]) {
    await channel.exchangeDeclare(exchange, "fanout", { durable: true });
  }
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
  for (const { exchange, queue } of BINDINGS) await channel.queueBind(queue, exchange, "");
}

/**
 * The topology as a RabbitMQ definitions file's `queues`, `exchanges` and
 * `bindings` in `vhost`, with quorum work queues: how the Swarm broker
 * declares it, since no service's user may (`stack/broker_roles.ts`).
 */
export function topologyDefinitions(vhost: string, type: QueueType = DEFAULT_QUEUE_TYPE) {
  return {
    queues: PIPELINE_QUEUES.map((name) => ({
      name,
      vhost,
      durable: true,
      auto_delete: false,
      arguments: workQueueArguments(type),
    })),
    exchanges: [DEAD_LETTER_EXCHANGE, ...PUBLISH_EXCHANGES].map((name) => ({
      name,
      vhost,
      type: "fanout",
      durable: true,
      auto_delete: false,
      internal: false,
      arguments: {},
    })),
    bindings: BINDINGS.map(({ exchange, queue }) => ({
      source: exchange,
      vhost,
      destination: queue,
      destination_type: "queue",
      routing_key: "",
      arguments: {},
    })),
  };
}

/** What {@link ensureTopology} did. */
export type TopologyOutcome = "declared" | "checked";

/**
 * Thrown when the user may not declare the topology and part of it is
 * missing: the broker's definitions create it (a broker still starting has
 * not imported them yet), so the caller retries.
 */
export class TopologyMissing extends Error {
  constructor(what: string, brokerMessage: string) {
    super(
      `Cannot find ${what} on the broker, and this user may not declare it (${brokerMessage}). ` +
        `The broker's definitions create the topology (ops/images/rabbitmq/definitions.json, ` +
        `imported once the broker is up); until then this service waits`,
    );
    this.name = "TopologyMissing";
  }
}

/** True when `error` is the broker's 403: the user lacks a permission. */
export function isAccessRefused(error: unknown): boolean {
  return /ACCESS_REFUSED|\(403\)/.test(error instanceof Error ? error.message : String(error));
}

/**
 * Makes sure the topology is there. Declares it ({@link declareTopology})
 * when the user may configure (a development broker, tests); a service's
 * own user may not (`stack/broker_roles.ts`), and its refused declare is
 * followed by passive declares, which need no permission and only say the
 * exchanges and queues exist. `open` gives a fresh channel: the broker
 * closes the one a refused declare ran on. Channels opened here are closed.
 */
export async function ensureTopology(
  open: () => Promise<AMQPChannel>,
  type: QueueType = DEFAULT_QUEUE_TYPE,
): Promise<TopologyOutcome> {
  const channel = await open();
  try {
    await declareTopology(channel, type);
    return "declared";
  } catch (error) {
    if (!isAccessRefused(error)) throw error;
  } finally {
    if (!channel.closed) await channel.close().catch(() => {});
  }
  const check = await open();
  try {
    for (const exchange of [DEAD_LETTER_EXCHANGE, ...PUBLISH_EXCHANGES]) {
      await passive(
        () => check.exchangeDeclare(exchange, "fanout", { passive: true }),
        `exchange '${exchange}'`,
      );
    }
    for (const queue of PIPELINE_QUEUES) {
      await passive(() => check.queueDeclare(queue, { passive: true }), `queue '${queue}'`);
    }
    return "checked";
  } finally {
    if (!check.closed) await check.close().catch(() => {});
  }
}

async function passive(declare: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await declare();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/NOT_FOUND|\(404\)/.test(message)) throw new TopologyMissing(what, message);
    throw error;
  }
}
