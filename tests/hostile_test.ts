/**
 * Hostile AMQP envelopes against a real RabbitMQ: the real client,
 * the broker door in this process, and the services as subprocesses with
 * their real permissions. Each test reproduces one way such an envelope broke a service.
 */
import assert from "node:assert/strict";
import { type AMQPChannel, AMQPClient } from "@cloudamqp/amqp-client";
import { getLogger } from "@logtape/logtape";
import { Broker, DeadLetter, type Delivery } from "../stack/broker.ts";
import { QUEUES } from "../stack/contracts.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { createTelemetry } from "../stack/telemetry.ts";
import { acceptBrokerFrameMax, reassembleFrames } from "../stack/transport.ts";
import { httpStatus, type ServiceProcess, waitFor } from "../ops/kit/process.ts";
import {
  EXTERNAL_BROKER,
  Pipeline,
  publishConfirmed,
  sharedBroker,
  stopSharedBroker,
} from "./harness.ts";

// Subprocesses and sockets outlive single awaits by design here.
const integration = { sanitizeOps: false, sanitizeResources: false };

const dataset = await loadDiabetes();
const VECTOR = JSON.stringify(dataset.X[0]);

/** About 12 KB of headers in 1,000 entries: legal AMQP, above the client's 8 KiB frame. */
function bigHeaders(): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: 1000 }, (_, i) => [`h${String(i).padStart(4, "0")}`, "x"]),
  );
}

/**
 * A TCP proxy to the broker that hands the broker's bytes on in 1,000-byte
 * pieces with a pause between them, so a 12 KB frame reaches the client in
 * several socket reads.
 */
function slicingProxy(brokerPort: number): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: brokerPort });
      connections.push(client, upstream);
      client.readable.pipeTo(upstream.writable).catch(() => {});
      (async () => {
        const writer = client.writable.getWriter();
        try {
          for await (const chunk of upstream.readable) {
            for (let at = 0; at < chunk.byteLength; at += 1000) {
              await writer.write(chunk.slice(at, at + 1000));
              await new Promise((resolve) => setTimeout(resolve, 2));
            }
          }
        } catch { /* either side closed */ }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close() {
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    },
  };
}

/** Runs `action` on a channel of a fresh connection to `url`. */
async function withChannel(
  url: string,
  action: (channel: AMQPChannel) => Promise<unknown>,
): Promise<void> {
  const client = new AMQPClient(url);
  await client.connect();
  try {
    await action(await client.channel());
  } finally {
    await client.close();
  }
}

function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(port);
  return u.toString();
}

function logged(service: ServiceProcess, start: string): boolean {
  return service.logs().some((l) => String(l.message).startsWith(start));
}

async function connected(...services: ServiceProcess[]): Promise<void> {
  for (const service of services) {
    await waitFor(`${service.name} connected`, () => logged(service, "connected to rabbitmq"));
  }
}

async function takeWhen(pipeline: Pipeline, queue: string, count: number) {
  await waitFor(
    `${count} messages in ${queue}`,
    async () => ((await pipeline.depths())[queue] ?? 0) >= count,
    { timeoutMs: 20_000 },
  );
  return await pipeline.take(queue);
}

function readyz(port: number): Promise<number> {
  return httpStatus(`http://127.0.0.1:${port}/readyz`);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name) && /\s[-\d.e+]+$/.test(l));
  return line === undefined ? Number.NaN : Number(line.split(/\s+/).pop());
}

Deno.test({
  name: "a 12 KB header frame split across socket reads kills amqp-client, not the door",
  ...integration,
  async fn(t) {
    const pipeline = await Pipeline.create(await sharedBroker(), "frames");
    const proxy = slicingProxy(pipeline.broker.port);
    try {
      await withChannel(pipeline.url, (channel) => channel.queueDeclare("raw", { durable: true }));
      await publishConfirmed(pipeline.url, "raw", "body", {
        messageId: "raw",
        headers: bigHeaders(),
      });

      await t.step(
        "amqp-client 4.1.1 as shipped throws 'Copied 0 bytes' (upstream bug)",
        async () => {
          const uncaught = Promise.withResolvers<unknown>();
          const onError = (event: ErrorEvent) => {
            event.preventDefault();
            uncaught.resolve(event.error);
          };
          globalThis.addEventListener("error", onError);
          const client = new AMQPClient(viaProxy(pipeline.url, proxy.port));
          try {
            await client.connect();
            const channel = await client.channel();
            void channel.basicGet("raw", { noAck: false }).catch(() => {});
            const error = await Promise.race([
              uncaught.promise,
              new Promise((resolve) => setTimeout(() => resolve("no error"), 5000)),
            ]);
            // If this fails, amqp-client fixed its reader: transport.ts's
            // reassembleFrames() and docs/amqp-client-frame-bug.md can go.
            assert.match(String((error as Error)?.message ?? error), /Copied 0 bytes/);
          } finally {
            globalThis.removeEventListener("error", onError);
            (client as unknown as { closeSocket(): void }).closeSocket();
          }
        },
      );

      await t.step("the patched client reads it whole", async () => {
        const client = new AMQPClient(viaProxy(pipeline.url, proxy.port));
        reassembleFrames(client);
        acceptBrokerFrameMax(client);
        await client.connect();
        try {
          assert.equal(client.frameMax, 131_072, "the broker's frame_max");
          const message = await (await client.channel()).basicGet("raw", { noAck: true });
          assert.equal(Object.keys(message?.properties.headers ?? {}).length, 1000);
          assert.equal(message?.bodyToString(), "body");
        } finally {
          await client.close();
        }
      });

      await t.step(
        "the door consumes it, and dead-letters a bad one with bounded headers",
        async () => {
          const received: Delivery[] = [];
          const door = new Broker({
            urls: [viaProxy(pipeline.url, proxy.port)],
            connectionName: "hostile-test",
            replica: "door-test",
            prefetch: 10,
            log: getLogger(["hostile-test"]),
            telemetry: createTelemetry("test", "door-test"),
          });
          door.consume(QUEUES.features, (delivery) => {
            received.push(delivery);
            if (delivery.properties.messageId === "bad") {
              throw new DeadLetter("handler_failed", "bad on purpose");
            }
          });
          await door.start();
          try {
            for (const messageId of ["good", "bad"]) {
              await publishConfirmed(pipeline.url, QUEUES.features, VECTOR, {
                messageId,
                headers: bigHeaders(),
              });
            }
            await waitFor("two deliveries", () => received.length >= 2);
            assert.equal(Object.keys(received[0].properties.headers ?? {}).length, 1000);
            const [copy] = await takeWhen(pipeline, QUEUES.deadLetter, 1);
            assert.equal(copy.properties.messageId, "bad");
            const headers = copy.properties.headers ?? {};
            assert.equal(headers["dead-letter-reason"], "bad on purpose");
            assert.equal(
              headers["dead-letter-headers-cut"],
              "dropped 936 of 1000 headers, shortened 0 values",
            );
            assert.equal(Object.keys(headers).filter((k) => k.startsWith("h")).length, 64);
            assert.equal(door.connected, true);
          } finally {
            await door.close();
          }
        },
      );
    } finally {
      proxy.close();
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name:
    "12 KB of headers on any queue neither kill nor stall a service; dead letters keep 64 of them",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "big-headers");
    try {
      const metricProcess = pipeline.spawn("metric", { UNPAIRED_TTL_MS: "60000" });
      const modelProcess = pipeline.spawn("model", { PREFETCH: "2" });
      await connected(metricProcess, modelProcess);
      const headers = bigHeaders();
      // Twice the prefetch of bad ones: a stuck dead-letter would stall the model.
      for (let i = 0; i < 4; i++) {
        await publishConfirmed(pipeline.url, QUEUES.features, "not json", {
          messageId: `bad-${i}`,
          headers,
        });
      }
      await publishConfirmed(pipeline.url, QUEUES.features, VECTOR, { messageId: "good", headers });
      await publishConfirmed(pipeline.url, QUEUES.yTrue, String(dataset.y[0]), {
        messageId: "good",
        headers,
      });
      await publishConfirmed(pipeline.url, QUEUES.yPred, "oops", {
        correlationId: "bad-pred",
        headers,
      });
      await publishConfirmed(pipeline.url, QUEUES.yTrue, "oops", {
        messageId: "bad-true",
        headers,
      });
      await waitFor(
        "the good sample recorded",
        async () => (await pipeline.rows()).some((r) => r.id === "good"),
      );
      const deadLetters = await takeWhen(pipeline, QUEUES.deadLetter, 6);
      assert.equal(deadLetters.length, 6);
      for (const letter of deadLetters) {
        const kept = Object.keys(letter.properties.headers ?? {}).filter((k) => /^h\d{4}$/.test(k));
        assert.equal(kept.length, 64);
        assert.match(
          String(letter.properties.headers?.["dead-letter-headers-cut"]),
          /^dropped 936 of 1000/,
        );
      }
      assert.deepEqual(
        deadLetters.map((l) => l.properties.headers?.["dead-letter-queue"]).sort(),
        ["features", "features", "features", "features", "y_pred", "y_true"],
      );
      for (const service of [metricProcess, modelProcess]) {
        assert.ok(!logged(service, "lost the connection"), service.lines.join("\n"));
        assert.ok(!service.logs().some((l) => l.level === "FATAL" || l.level === "ERROR"));
      }
      const depths = await pipeline.depths();
      assert.equal(depths.features, 0);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "a dead-letter copy drops user_id, expiration and priority",
  // Needs rabbitmqctl (users, permissions, queue deletion): the throwaway broker only.
  ignore: EXTERNAL_BROKER,
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "envelope");
    const { broker, vhost } = pipeline;
    // Only an impersonator may publish a user_id naming another user, as a shovel would.
    const user = `impostor-${crypto.randomUUID().slice(0, 8)}`;
    await broker.local!.ctl("add_user", user, "secret");
    await broker.local!.ctl("set_user_tags", user, "impersonator");
    await broker.local!.ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*");
    try {
      const port = freePort();
      const modelProcess = pipeline.spawn("model", {}, { httpPort: port });
      await connected(modelProcess);
      const impostor = new URL(pipeline.url);
      impostor.username = user;
      impostor.password = "secret";
      await publishConfirmed(impostor.toString(), QUEUES.features, "not json", {
        messageId: "forged",
        userId: "someone-else",
        expiration: "60000",
        priority: 7,
        replyTo: "nobody",
      });
      const [copy] = await takeWhen(pipeline, QUEUES.deadLetter, 1);
      assert.equal(copy.properties.messageId, "forged");
      for (const name of ["userId", "expiration", "priority", "replyTo"] as const) {
        assert.equal(copy.properties[name], undefined, name);
      }
      assert.equal(copy.properties.deliveryMode, 2);
      assert.match(String(copy.properties.headers?.["dead-letter-reason"]), /not JSON/);
      // Its publishing channel is still open: good traffic still flows.
      await pipeline.publish(QUEUES.features, VECTOR, { messageId: "after" });
      const [prediction] = await takeWhen(pipeline, QUEUES.yPred, 1);
      assert.equal(prediction.properties.correlationId, "after");
      assert.equal(await readyz(port), 200);
      assert.equal(await metric(port, "ml_broker_channel_closes_total"), Number.NaN, "no close");
    } finally {
      await pipeline.dispose();
      await broker.local!.ctl("delete_user", user).catch(() => {});
    }
  },
});

Deno.test({
  name: "a closed channel is a lost connection: not ready, counted, recovered",
  // Needs rabbitmqctl (users, permissions, queue deletion): the throwaway broker only.
  ignore: EXTERNAL_BROKER,
  ...integration,
  async fn(t) {
    const pipeline = await Pipeline.create(await sharedBroker(), "channel");
    const { broker, vhost } = pipeline;
    try {
      const port = freePort();
      const modelProcess = pipeline.spawn("model", {}, { httpPort: port });
      await connected(modelProcess);
      assert.equal(await readyz(port), 200);

      await t.step("the broker closes the publish channel (404: exchange gone)", async () => {
        await withChannel(pipeline.url, (channel) => channel.exchangeDelete("dead-letter"));
        await pipeline.publish(QUEUES.features, "not json", { messageId: "closes-publish" });
        await waitFor(
          "a reconnect",
          () => logged(modelProcess, 'the broker closed the "publish" channel'),
        ).catch((error) => {
          throw new Error(`${error.message}\n${modelProcess.lines.join("\n")}`);
        });
        await waitFor("ready again", async () => await readyz(port) === 200);
        assert.equal(await metric(port, 'ml_broker_channel_closes_total{channel="publish"'), 1);
        assert.equal(await metric(port, "ml_broker_reconnects_total"), 1);
        await pipeline.publish(QUEUES.features, VECTOR, { messageId: "after-publish-close" });
        const [prediction] = await takeWhen(pipeline, QUEUES.yPred, 1);
        assert.equal(prediction.properties.correlationId, "after-publish-close");
      });

      await t.step("not ready while the reconnect fails, ready once it works", async () => {
        // Guest may no longer declare: the redeclaration after the cancel fails.
        await broker.local!.ctl("set_permissions", "-p", vhost, "guest", "^$", ".*", ".*");
        await broker.local!.ctl("delete_queue", "-p", vhost, QUEUES.features);
        await waitFor("not ready", async () => await readyz(port) === 503);
        assert.equal(await metric(port, "ml_broker_connected"), 0);
        assert.equal(await httpStatus(`http://127.0.0.1:${port}/healthz`), 200, "live all along");
        assert.equal(await metric(port, 'ml_broker_channel_closes_total{channel="features"'), 1);
        await broker.local!.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
        await waitFor("ready again", async () => await readyz(port) === 200, {
          timeoutMs: 30_000,
        });
        assert.equal(await metric(port, "ml_broker_connected"), 1);
        await pipeline.publish(QUEUES.features, VECTOR, { messageId: "after-cancel" });
        const [prediction] = await takeWhen(pipeline, QUEUES.yPred, 1);
        assert.equal(prediction.properties.correlationId, "after-cancel");
      });
    } finally {
      await broker.local!.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*").catch(
        () => {},
      );
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "numbers that overflow are dead-lettered, never published or recorded",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "overflow");
    try {
      const metricProcess = pipeline.spawn("metric", { UNPAIRED_TTL_MS: "60000" });
      const modelProcess = pipeline.spawn("model");
      await connected(metricProcess, modelProcess);
      const huge = JSON.stringify(Array.from({ length: 10 }, () => 1.7e308));
      await pipeline.publish(QUEUES.features, huge, { messageId: "huge" });
      await pipeline.publish(QUEUES.yTrue, "1e308", { messageId: "pair" });
      await pipeline.publish(QUEUES.yPred, "-1e308", { messageId: "pair", correlationId: "pair" });
      const deadLetters = await takeWhen(pipeline, QUEUES.deadLetter, 3);
      const reasons = Object.fromEntries(
        deadLetters.map((l) => [
          `${l.properties.headers?.["dead-letter-queue"]}:${l.properties.messageId}`,
          String(l.properties.headers?.["dead-letter-reason"]),
        ]),
      );
      assert.match(reasons["features:huge"], /feature 0 out of range/);
      assert.match(reasons["y_true:pair"], /value out of range/);
      assert.match(reasons["y_pred:pair"], /value out of range/);
      const [deadFeatures] = deadLetters.filter((l) => l.properties.messageId === "huge");
      assert.equal(deadFeatures.body, huge, "dead-lettered with its input");
      assert.equal((await pipeline.depths()).y_pred, 0, "nothing published to y_pred");
      assert.equal((await pipeline.rows()).length, 0, "nothing recorded");
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
