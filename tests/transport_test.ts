/**
 * The transport patches of stack/transport.ts against the real
 * `AMQPClient` and a real broker: the private fields they reach into must
 * still be there, so an upgrade of amqp-client that renames one fails here
 * rather than silently in production (setNoDelay() and reassembleFrames()
 * would otherwise stop doing anything, or throw at connect).
 */
import assert from "node:assert/strict";
import { AMQPClient } from "@cloudamqp/amqp-client";
import {
  acceptBrokerFrameMax,
  coalesceWrites,
  reassembleFrames,
  setNoDelay,
  settleFrameMax,
} from "../stack/transport.ts";
import { connectClient } from "../stack/amqp_client.ts";
import { Pipeline, sharedBroker, stopSharedBroker } from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "the transport patches find amqp-client's private fields and a connection still works",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "transport");
    const client = new AMQPClient(pipeline.url, undefined, null);
    try {
      reassembleFrames(client);
      acceptBrokerFrameMax(client);
      coalesceWrites(client);
      await client.connect();
      assert.equal(settleFrameMax(client), 131_072, "the broker's frame_max was taken");
      const socket = (client as unknown as { socket?: { setNoDelay?: unknown } }).socket;
      assert.equal(
        typeof socket?.setNoDelay,
        "function",
        "setNoDelay() relies on the client's private 'socket' field",
      );
      setNoDelay(client);
      const channel = await client.channel();
      await channel.confirmSelect();
      const { name } = await channel.queueDeclare("", { exclusive: true });
      await channel.basicPublish("", name, "over the patched transport");
      const message = await channel.basicGet(name, { noAck: true });
      assert.equal(message?.bodyToString(), "over the patched transport");
    } finally {
      await client.close().catch(() => {});
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name:
    "connectClient() connects with the broker's frame_max and carries messages larger than a frame",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "client");
    const client = await connectClient(pipeline.url, { name: "transport-test" });
    try {
      assert.equal(client.frameMax, 131_072, "the broker's frame_max, settled after connect");
      assert.equal(client.name, "transport-test");
      const channel = await client.channel();
      await channel.confirmSelect();
      const { name } = await channel.queueDeclare("", { exclusive: true });
      const body = new Uint8Array(300_000).map((_, i) => i % 251);
      await channel.basicPublish("", name, body);
      const message = await channel.basicGet(name, { noAck: true });
      assert.deepEqual(message?.body, body);
    } finally {
      await client.close().catch(() => {});
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
