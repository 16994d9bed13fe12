/**
 * The bench's dealings with the pipeline's queues on the broker: making them fresh for each run,
 * and reading how many messages wait in each while a soak runs.
 *
 * @module
 */
import { connectClient } from "../stack/amqp_client.ts";
import { QUEUES } from "../stack/contracts.ts";
import {
  declareTopology,
  PIPELINE_QUEUES,
  type QueueType,
  TopologyMismatch,
  WORK_QUEUES,
} from "../stack/topology.ts";

/**
 * Declares the topology (work queues of `queueType`; those of another type
 * are deleted and declared anew), purges the three work queues; returns the
 * dead-letter count.
 */
export async function resetQueues(url: string, queueType?: QueueType): Promise<number> {
  const client = await connectClient(url);
  try {
    let channel = await client.channel();
    try {
      await declareTopology(channel, queueType);
    } catch (error) {
      if (!(error instanceof TopologyMismatch)) throw error;
      // The failed declare closed the channel. The bench owns these queues: switch their type.
      channel = await client.channel();
      for (const queue of PIPELINE_QUEUES) await channel.queueDelete(queue);
      await declareTopology(channel, queueType);
    }
    for (const queue of WORK_QUEUES) await channel.queuePurge(queue);
    const dead = await channel.queueDeclare(QUEUES.deadLetter, { passive: true });
    return dead.messageCount;
  } finally {
    await client.close().catch(() => {});
  }
}

/**
 * Messages ready in each of the pipeline's queues (a passive declare: what waits for a consumer,
 * not what a consumer holds unacknowledged). Empty when the broker cannot be asked: a soak's
 * reading goes on without it.
 */
export async function queueDepths(url: string): Promise<Record<string, number>> {
  try {
    const client = await connectClient(url);
    try {
      const channel = await client.channel();
      const depths: Record<string, number> = {};
      for (const queue of PIPELINE_QUEUES) {
        depths[queue] = (await channel.queueDeclare(queue, { passive: true })).messageCount;
      }
      return depths;
    } finally {
      await client.close().catch(() => {});
    }
  } catch {
    return {};
  }
}
