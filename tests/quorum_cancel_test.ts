/**
 * What a consumer's cancel costs on each queue type, against a real RabbitMQ: why the e2e's
 * autoscaling phases allow up to `PREFETCH` redeliveries per replica removed
 * (tests/swarm/autoscale_phases.ts, docs/operations.md "Measured" under Scaling).
 *
 * A consumer with prefetch 1 takes messages from a queue that a publisher keeps filling, is
 * cancelled, acks what it holds, and closes its channel; a new one follows, and so on. A clean
 * drain like this sees every message once, and none of them flagged redelivered. A quorum queue
 * of RabbitMQ 3.10 may still return a message it was handing to the consumer as the cancel came
 * (rabbitmq-server#3729): the client never saw it, and it goes out again flagged redelivered.
 * The test asserts what holds on both types (each message received once, nothing after a
 * cancel-ok), asserts that a classic queue returns nothing unseen, and prints the quorum queue's
 * count, which is a race and may be 0 in a run.
 */
import assert from "node:assert/strict";
import { connectClient } from "../stack/amqp_client.ts";
import { withVhost } from "../ops/kit/pipeline.ts";
import { waitFor } from "../ops/kit/process.ts";
import { sleep } from "../stack/async.ts";
import { sharedBroker, stopSharedBroker } from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const ROUNDS = 80;

async function consumeAndCancelRounds(url: string, queueType: "quorum" | "classic") {
  const queue = `cancel_${queueType}`;
  const warnings: string[] = [];
  const publisher = await connectClient(url);
  const out = await publisher.channel();
  await out.queueDeclare(queue, { durable: true }, { "x-queue-type": queueType });
  await out.confirmSelect();
  let published = 0;
  let publishing = true;
  const feeding = (async () => {
    while (publishing) {
      await out.basicPublish("", queue, String(published++), { deliveryMode: 2 });
      await sleep(3);
    }
  })();

  const seen = new Set<string>();
  let twice = 0;
  let unseenRedelivered = 0;
  const receive = (body: string, redelivered: boolean) => {
    if (seen.has(body)) twice++;
    else if (redelivered) unseenRedelivered++;
    seen.add(body);
  };
  const consumer = await connectClient(url);
  // amqp-client logs (and drops) a delivery for a consumer it no longer has.
  consumer.logger = { ...console, warn: (...args: unknown[]) => warnings.push(args.join(" ")) };
  for (let round = 0; round < ROUNDS; round++) {
    const channel = await consumer.channel();
    await channel.basicQos(1);
    const acks: Promise<void>[] = [];
    const { tag } = await channel.basicConsume(queue, { noAck: false }, (message) => {
      receive(message.bodyToString() ?? "", message.redelivered);
      acks.push(
        sleep(2).then(() => message.ack()),
      );
    });
    await sleep(20 + (round % 5) * 10);
    await channel.basicCancel(tag);
    await Promise.all(acks);
    await channel.close();
  }
  publishing = false;
  await feeding;
  const rest = await consumer.channel();
  await rest.basicQos(100);
  await rest.basicConsume(queue, { noAck: false }, (message) => {
    receive(message.bodyToString() ?? "", message.redelivered);
    void message.ack();
  });
  await waitFor("every message published received", () => seen.size >= published, {
    timeoutMs: 20_000,
  });
  await consumer.close();
  await publisher.close();
  return { published, received: seen.size, twice, unseenRedelivered, warnings };
}

Deno.test(
  "a cancelled consumer: a classic queue returns nothing it did not see; a quorum queue of RabbitMQ 3.10 may",
  integration,
  async (t) => {
    const broker = await sharedBroker();
    await broker.addVhost("cancel");
    const url = withVhost(broker.url, "cancel");
    for (const queueType of ["classic", "quorum"] as const) {
      await t.step(queueType, async () => {
        const result = await consumeAndCancelRounds(url, queueType);
        console.log(
          `${queueType}: ${ROUNDS} cancels, ${result.published} messages, ` +
            `${result.unseenRedelivered} flagged redelivered the consumer never saw`,
        );
        assert.equal(result.received, result.published, "every message received");
        assert.equal(result.twice, 0, "none received twice: each drain acked what it held");
        assert.deepEqual(result.warnings, [], "no delivery reached the client after its cancel-ok");
        if (queueType === "classic") assert.equal(result.unseenRedelivered, 0);
      });
    }
    await broker.deleteVhost("cancel");
    await stopSharedBroker();
  },
);
