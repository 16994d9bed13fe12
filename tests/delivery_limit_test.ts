/**
 * The delivery limit of the work queues against a real RabbitMQ: the
 * production policy (`stack/policies.ts`) on quorum queues. A message whose
 * consumer rejects it with requeue every time, and one whose consumer dies
 * holding it every time, each end in `dead_letter` with the broker's
 * `delivery_limit` reason, as `deno task dlq list` shows; meanwhile the real
 * services carry good traffic on the same broker, each sample recorded once.
 *
 * The poison runs in a vhost of its own, with the same topology and policy:
 * in the pipeline's vhost the model would take poison messages as samples
 * (its queue has competing consumers), and the test consumers would take
 * good samples.
 */
import assert from "node:assert/strict";
import type { AMQPMessage } from "@cloudamqp/amqp-client";
import { connectClient } from "../stack/amqp_client.ts";
import { QUEUES } from "../stack/contracts.ts";
import { dlqPermissionFlags } from "../ops/dlq.ts";
import { waitFor } from "../ops/kit/process.ts";
import { DELIVERY_LIMIT } from "../stack/policies.ts";
import { declareTopology } from "../stack/topology.ts";
import { Pipeline, sentSamples, sharedBroker, stopSharedBroker } from "./harness.ts";

// Subprocesses and sockets outlive single awaits by design here.
const integration = { sanitizeOps: false, sanitizeResources: false };
const DLQ = new URL("../ops/dlq.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
/** Deliveries until the broker gives up: the first one, then one per return up to the limit. */
const DELIVERIES = DELIVERY_LIMIT + 1;

/** Rejects with requeue every delivery from `queue`; returns the headers of each. */
async function rejectForever(url: string, queue: string) {
  const client = await connectClient(url);
  const channel = await client.channel();
  await channel.basicQos(1);
  const seen: AMQPMessage["properties"][] = [];
  await channel.basicConsume(queue, { noAck: false }, (message) => {
    seen.push(message.properties);
    void message.nack(true);
  });
  return { seen, close: () => client.close().catch(() => {}) };
}

/**
 * A consumer that dies holding its delivery, again and again: each round
 * connects, takes one message from `queue` and closes the connection without
 * settling it. Stops once `queue` is empty; returns the deliveries it took.
 */
async function dieHoldingEachDelivery(url: string, queue: string): Promise<number> {
  let deliveries = 0;
  for (let round = 0; round < DELIVERIES * 3; round++) {
    const client = await connectClient(url);
    try {
      const channel = await client.channel();
      await channel.basicQos(1);
      const got = Promise.withResolvers<boolean>();
      const timer = setTimeout(() => got.resolve(false), 2_000);
      await channel.basicConsume(queue, { noAck: false }, () => got.resolve(true));
      const delivered = await got.promise;
      clearTimeout(timer);
      if (!delivered) return deliveries;
      deliveries++;
    } finally {
      // No ack, no reject: as a crashed consumer, the connection just goes.
      await client.close().catch(() => {});
    }
  }
  throw new Error(`still delivered after ${deliveries} deaths: no delivery limit applies`);
}

async function dlqList(url: string): Promise<{ total: number; groups: Record<string, unknown>[] }> {
  const output = await new Deno.Command("deno", {
    args: ["run", ...dlqPermissionFlags(new URL(url)), DLQ, "list", "--json"],
    cwd: ROOT,
    clearEnv: true,
    env: { AMQP_URL: url, PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  assert.equal(output.code, 0, text.decode(output.stderr));
  return JSON.parse(text.decode(output.stdout));
}

Deno.test({
  name: "a message rejected or orphaned on every delivery ends in dead_letter after the limit",
  ...integration,
  async fn() {
    const broker = await sharedBroker();
    const pipeline = await Pipeline.create(broker, "limit-good");
    const poison = await Pipeline.create(broker, "limit-poison");
    try {
      pipeline.spawn("metric");
      pipeline.spawn("model");
      const features = pipeline.spawn("features", { COUNT: "300", INTERVAL_MS: "5", SEED: "3" });

      const client = await connectClient(poison.url);
      await declareTopology(await client.channel());
      await client.close();
      await poison.publish(QUEUES.features, "[0,0,0,0,0,0,0,0,0,0]", { messageId: "rejected" });
      await poison.publish(QUEUES.yTrue, "151", { messageId: "orphaned" });
      const rejecter = await rejectForever(poison.url, QUEUES.features);
      const deaths = await dieHoldingEachDelivery(poison.url, QUEUES.yTrue);
      await waitFor(
        "both poison messages in dead_letter",
        async () => (await poison.depths())[QUEUES.deadLetter] === 2,
      );
      await rejecter.close();

      assert.equal(deaths, DELIVERIES, "deliveries to a consumer that died each time");
      assert.equal(rejecter.seen.length, DELIVERIES, "deliveries rejected with requeue");
      // The broker counts the returns it made so far on each delivery.
      assert.deepEqual(
        rejecter.seen.map((p) => p.headers?.["x-delivery-count"] ?? 0),
        Array.from({ length: DELIVERIES }, (_, i) => i),
      );
      const depths = await poison.depths();
      assert.equal(depths[QUEUES.features], 0);
      assert.equal(depths[QUEUES.yTrue], 0);

      const listed = await dlqList(poison.url);
      assert.equal(listed.total, 2);
      const bySource = Object.fromEntries(listed.groups.map((g) => [g.source, g]));
      for (const [source, id] of [[QUEUES.features, "rejected"], [QUEUES.yTrue, "orphaned"]]) {
        const group = bySource[source] as {
          code: string;
          firstAtMs?: number;
          example: { id: string; reason: string };
        };
        assert.ok(group, `no dead letter from ${source}: ${JSON.stringify(listed)}`);
        assert.equal(group.code, "delivery_limit");
        assert.equal(typeof group.firstAtMs, "number", "the time of the broker's x-death");
        assert.equal(group.example.id, id);
        assert.match(group.example.reason, /delivery-limit policy/);
      }

      // Good traffic on the same broker went through untouched, each sample once.
      assert.equal((await features.exit()).code, 0, features.lines.join("\n"));
      const sent = sentSamples(features.logs());
      assert.equal(sent.size, 300);
      await waitFor("300 rows", async () => (await pipeline.rows()).length >= 300);
      const ids = (await pipeline.rows()).map((row) => row.id);
      assert.equal(new Set(ids).size, ids.length, "a sample was recorded twice");
      assert.deepEqual(new Set(ids), new Set(sent.keys()));
      assert.equal((await pipeline.depths())[QUEUES.deadLetter], 0);
    } finally {
      await poison.dispose();
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
