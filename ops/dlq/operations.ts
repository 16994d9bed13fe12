/**
 * What `deno task dlq` does on the broker: `list`, `replay`, `purge` and the
 * queue depth, each over an open client.
 *
 * `list` holds every message of `dead_letter` unacknowledged on one channel
 * and closes that channel, which puts them back at their original positions.
 *
 * `replay` publishes each copy with a publisher confirm and only then
 * acknowledges its dead letter, so a replay killed at any point loses
 * nothing: a message is in `dead_letter`, in its queue, or (killed between
 * confirm and ack) in both. The copy keeps its message id and correlation id,
 * so metric's de-duplication by sample id still holds; the dead-letter
 * headers are stripped ({@link replayProperties}). Truncated dead letters
 * (the body was cut) and those whose queue is gone stay in place.
 *
 * @module
 */
import type { AMQPClient, AMQPMessage } from "@cloudamqp/amqp-client";
import { sleep } from "../../stack/async.ts";
import { QUEUES } from "../../stack/contracts.ts";
import { publishExchange, WORK_QUEUES } from "../../stack/topology.ts";
import { describeDeadLetter, replayProperties } from "../../stack/dead_letter_headers.ts";
import { reasonMatches } from "./args.ts";
import {
  describeEntry,
  type Entry,
  type Group,
  groupDeadLetters,
  type ListedMessage,
} from "./format.ts";

/** AMQP allows at most this many unacknowledged deliveries per consumer (a 16-bit field). */
const MAX_PREFETCH = 65535;
/** How long `list` and `replay` wait for the next delivery before deciding the queue is done. */
const IDLE_MS = 2_000;

/**
 * Takes up to `max` messages from `queue` on a fresh channel and never acknowledges them, so
 * they go back, in order, when the channel closes. Calls `each` in queue order; stops after
 * `max` deliveries, when `each` returns false, or when none came for {@link IDLE_MS}.
 */
async function holdMessages(
  client: AMQPClient,
  queue: string,
  max: number,
  each: (message: AMQPMessage) => Promise<boolean | void> | boolean | void,
): Promise<number> {
  const channel = await client.channel();
  let seen = 0;
  try {
    if (max === 0) return 0;
    // Every message held at once: the broker sends no more than the prefetch unacknowledged.
    await channel.basicQos(Math.min(max, MAX_PREFETCH));
    const queueOfDeliveries: AMQPMessage[] = [];
    let wake: (() => void) | undefined;
    const consumer = await channel.basicConsume(queue, { noAck: false }, (message) => {
      queueOfDeliveries.push(message);
      wake?.();
    });
    while (seen < max) {
      if (queueOfDeliveries.length === 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const arrived = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          timer = setTimeout(() => resolve(false), IDLE_MS);
        });
        clearTimeout(timer);
        wake = undefined;
        if (!arrived) break;
        continue;
      }
      seen++;
      if ((await each(queueOfDeliveries.shift()!)) === false) break;
    }
    await consumer.cancel().catch(() => {});
  } finally {
    // Closing the channel returns everything not acknowledged to the queue, in its old order.
    await channel.close().catch(() => {});
  }
  return seen;
}

/** How many messages `queue` holds right now (a passive declare: it must exist). */
export async function depth(client: AMQPClient, queue: string): Promise<number> {
  const channel = await client.channel();
  try {
    const { messageCount } = await channel.queueDeclare(queue, { passive: true });
    return messageCount;
  } finally {
    await channel.close().catch(() => {});
  }
}

/** True when `queue` exists (a passive declare that fails closes only its own channel). */
async function queueExists(client: AMQPClient, queue: string): Promise<boolean> {
  try {
    await depth(client, queue);
    return true;
  } catch {
    return false;
  }
}

/** `list`: the groups and each dead letter (printable), leaving every message in place. */
export async function list(
  client: AMQPClient,
): Promise<{ total: number; groups: Group[]; entries: Entry[] }> {
  const total = await depth(client, QUEUES.deadLetter);
  const messages: ListedMessage[] = [];
  await holdMessages(client, QUEUES.deadLetter, total, (message) => {
    messages.push({
      headers: message.properties.headers,
      messageId: message.properties.messageId,
      correlationId: message.properties.correlationId,
      body: message.body as Uint8Array | null,
    });
  });
  return {
    total: messages.length,
    groups: groupDeadLetters(messages),
    entries: messages.map(describeEntry),
  };
}

/** What `replay` did. */
export interface ReplayResult {
  /** Sent back, confirmed, and removed from `dead_letter`, by source queue. */
  replayed: Record<string, number>;
  /** Left in place because they match but cannot be replayed, with why. */
  skipped: Record<string, number>;
  /** Looked at. */
  seen: number;
}

/** `replay`: see the module doc. `onReplayed` is called after each confirmed copy. */
export async function replay(
  client: AMQPClient,
  options: { reason?: string; limit: number; rate: number },
  onReplayed: (queue: string, id: string) => void = () => {},
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: {}, skipped: {}, seen: 0 };
  const total = await depth(client, QUEUES.deadLetter);
  const publisher = await client.channel();
  await publisher.confirmSelect();
  let returned = false;
  publisher.onReturn = () => {
    returned = true;
  };
  const exists = new Map<string, boolean>();
  const skip = (why: string) => {
    result.skipped[why] = (result.skipped[why] ?? 0) + 1;
  };
  let done = 0;
  const started = performance.now();
  try {
    // Only the messages there at the start: a copy dead-lettered again during the replay comes
    // back at the tail and is not replayed a second time in the same run.
    result.seen = await holdMessages(client, QUEUES.deadLetter, total, async (message) => {
      const info = describeDeadLetter(message.properties.headers);
      if (!reasonMatches(info.code, info.reason, options.reason)) return;
      if (info.source === "") return skip("no source queue in its headers");
      // A work queue is written through its exchange, the only way the operator's user may.
      if (!WORK_QUEUES.includes(info.source)) {
        return skip(`queue '${info.source}' is not a work queue`);
      }
      if (info.truncated) return skip("body truncated when dead-lettered");
      if (!exists.has(info.source)) exists.set(info.source, await queueExists(client, info.source));
      if (!exists.get(info.source)) return skip(`queue '${info.source}' does not exist`);
      if (Number.isFinite(options.rate)) {
        const due = started + (done / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      returned = false;
      // One at a time: the confirm (and a basic.return before it) belongs to this copy.
      await publisher.basicPublish(
        publishExchange(info.source),
        info.source,
        message.body as Uint8Array | null,
        replayProperties(message.properties),
        true,
      );
      if (returned) return skip(`queue '${info.source}' did not take it`);
      // Confirmed: only now may the dead letter go.
      await message.ack();
      done++;
      result.replayed[info.source] = (result.replayed[info.source] ?? 0) + 1;
      onReplayed(info.source, message.properties.messageId ?? "");
      return done < options.limit;
    });
  } finally {
    await publisher.close().catch(() => {});
  }
  return result;
}

/** `purge`: empties `dead_letter`; returns how many messages went. */
export async function purge(client: AMQPClient): Promise<number> {
  const channel = await client.channel();
  try {
    const { messageCount } = await channel.queuePurge(QUEUES.deadLetter);
    return messageCount;
  } finally {
    await channel.close().catch(() => {});
  }
}
