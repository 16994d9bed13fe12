/**
 * `deno task dlq` against a real RabbitMQ: one throwaway broker for the file, a vhost per test,
 * the tool run as a subprocess with the narrow permissions it documents.
 */
import assert from "node:assert/strict";
import type { AMQPClient, AMQPProperties } from "@cloudamqp/amqp-client";
import { connectClient } from "../stack/amqp_client.ts";
import { HEADERS, QUEUES } from "../stack/contracts.ts";
import { dlqPermissionFlags } from "../ops/dlq.ts";
import { hasControlCharacter } from "../stack/printable.ts";
import { type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import { DEAD_LETTER_EXCHANGE, declareTopology } from "../stack/topology.ts";

// The broker and subprocesses outlive single awaits by design here.
const integration = { sanitizeOps: false, sanitizeResources: false };
const DLQ = new URL("../ops/dlq.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

let broker: LocalBroker | undefined;
let vhosts = 0;

/** A fresh vhost with the pipeline's topology; returns its URL. */
async function freshVhost(): Promise<string> {
  broker ??= await startLocalBroker();
  const vhost = `dlq-${++vhosts}`;
  await broker.ctl("add_vhost", vhost);
  await broker.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
  // The policy routes the broker's own rejects to dead_letter.
  await broker.applyPolicies(vhost);
  const url = `${broker.url}/${vhost}`;
  await withChannel(url, (channel) => declareTopology(channel));
  return url;
}

type Channel = Awaited<ReturnType<AMQPClient["channel"]>>;

async function withChannel<T>(url: string, fn: (channel: Channel) => Promise<T>): Promise<T> {
  const client = await connectClient(url);
  try {
    const channel = await client.channel();
    await channel.confirmSelect();
    return await fn(channel);
  } finally {
    await client.close().catch(() => {});
  }
}

interface Seed {
  id: string;
  queue: string;
  /** The reason code; by default one that fits `reason`. */
  code?: string;
  reason: string;
  body?: string;
  truncated?: boolean;
}

/** The code the services give a reason the seeds use. */
function codeOf(reason: string): string {
  if (reason.startsWith("body is not JSON")) return "malformed_json";
  if (reason.startsWith("expected 10 features")) return "wrong_length";
  return "handler_failed";
}

/** Dead letters as the services make them (stack/broker.ts: copy to the exchange, reason). */
async function seedDeadLetters(url: string, seeds: readonly Seed[]): Promise<void> {
  await withChannel(url, async (channel) => {
    await Promise.all(
      seeds.map((s) =>
        channel.basicPublish(DEAD_LETTER_EXCHANGE, s.queue, s.body ?? "[1,2,3]", {
          deliveryMode: 2,
          messageId: s.id,
          correlationId: s.queue === QUEUES.yPred ? s.id : undefined,
          contentType: "application/json",
          headers: {
            [HEADERS.sentAtMs]: 1000.5,
            [HEADERS.deadLetterCode]: s.code ?? codeOf(s.reason),
            [HEADERS.deadLetterReason]: s.reason,
            [HEADERS.deadLetteredAtMs]: Date.now(),
            [HEADERS.deadLetterQueue]: s.queue,
            [HEADERS.replica]: "model-a",
            ...(s.truncated ? { [HEADERS.deadLetterTruncated]: 70_000 } : {}),
          },
        })
      ),
    );
  });
}

/** Takes every message of `queue` (acking: the test is done with them), in queue order. */
async function drain(
  url: string,
  queue: string,
): Promise<{ id: string; properties: AMQPProperties; body: string }[]> {
  return await withChannel(url, async (channel) => {
    const out = [];
    for (;;) {
      const message = await channel.basicGet(queue, { noAck: true });
      if (!message) return out;
      out.push({
        id: message.properties.messageId ?? "",
        properties: message.properties,
        body: message.bodyToString() ?? "",
      });
    }
  });
}

async function depth(url: string, queue: string): Promise<number> {
  return await withChannel(
    url,
    async (channel) => (await channel.queueDeclare(queue, { passive: true })).messageCount,
  );
}

function dlqCommand(url: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...dlqPermissionFlags(new URL(url)), DLQ, ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { AMQP_URL: url, PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  });
}

async function dlq(url: string, ...args: string[]) {
  const { code, stdout, stderr } = await dlqCommand(url, args).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

Deno.test({
  name: "dlq list groups by source and code and leaves every message in place, in order",
  ...integration,
  async fn() {
    const url = await freshVhost();
    const seeds: Seed[] = [
      ...ids("f", 5).map((id) => ({
        id,
        queue: "features",
        reason: "expected 10 features, got 3",
      })),
      ...ids("p", 3).map((id) => ({
        id,
        queue: "y_pred",
        reason: `body is not JSON: Unexpected token '${id}'`,
        body: "oops",
      })),
    ];
    await seedDeadLetters(url, seeds);
    // A dead letter the broker makes itself: a y_true message rejected without requeue.
    await withChannel(url, async (channel) => {
      await channel.basicPublish("", QUEUES.yTrue, "151", { messageId: "t-0", deliveryMode: 2 });
      const message = await channel.basicGet(QUEUES.yTrue, { noAck: false });
      await message!.nack(false);
    });
    const order = [...seeds.map((s) => s.id), "t-0"];
    for (let i = 0; i < 2; i++) {
      const { code, stdout, stderr } = await dlq(url, "list", "--json");
      assert.equal(code, 0, stderr);
      const { total, groups } = JSON.parse(stdout);
      assert.equal(total, 9);
      assert.deepEqual(
        groups.map((g: { count: number; source: string; code: string }) => [
          g.count,
          g.source,
          g.code,
        ]),
        [
          [5, "features", "wrong_length"],
          [3, "y_pred", "malformed_json"],
          [1, "y_true", "rejected"],
        ],
      );
      const { atMs: _, ...example } = groups[1].example;
      assert.deepEqual(example, {
        source: "y_pred",
        code: "malformed_json",
        id: "p-0",
        reason: "body is not JSON: Unexpected token 'p-0'",
        body: "oops",
        truncated: false,
      });
      assert.ok(groups[1].firstAtMs <= groups[1].lastAtMs);
    }
    const table = await dlq(url, "list");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /dead_letter: 9 messages in 3 groups/);
    assert.match(table.stdout, /5 {2}features {2}wrong_length /);
    assert.equal(table.stdout.trim().split("\n").length, 3 + 3 * 3);
    console.log(table.stdout);
    // Nothing taken, nothing reordered.
    assert.deepEqual((await drain(url, QUEUES.deadLetter)).map((m) => m.id), order);
  },
});

Deno.test({
  name: "dlq list prints what dead letters carry with every control character escaped",
  ...integration,
  async fn() {
    const url = await freshVhost();
    // ESC ] 0 ; title BEL (retitles the window), ESC [ 31 m (red), the 8-bit CSI, and a
    // right-to-left override, in the id, the detail, the source header and the body.
    const hostile = "\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202eevil";
    await seedDeadLetters(url, [
      { id: `id-${hostile}`, queue: "features", reason: `reason-${hostile}`, body: hostile },
      { id: "plain", queue: `q-${hostile}`, code: hostile, reason: "r", body: "[1]" },
    ]);
    const runs = [["list"], ["list", "--each"], ["list", "--json"], ["list", "--each", "--json"]];
    for (const args of runs) {
      const { code, stdout, stderr } = await dlq(url, ...args);
      assert.equal(code, 0, stderr);
      assert.equal(hasControlCharacter(stdout.replaceAll("\n", "")), false, JSON.stringify(stdout));
      assert.ok(stdout.includes("pwned"), stdout);
      if (!args.includes("--json")) {
        assert.ok(stdout.includes("\\u{1b}]0;pwned\\u{7}\\u{1b}[31mred\\u{9b}2J\\u{202e}evil"));
      }
    }
    const { groups } = JSON.parse((await dlq(url, "list", "--json")).stdout);
    assert.deepEqual(groups.map((g: { code: string }) => g.code).sort(), [
      "handler_failed",
      "unknown",
    ]);
  },
});

Deno.test({
  name: "dlq replay sends back by reason and limit, with ids kept and dead-letter headers gone",
  ...integration,
  async fn() {
    const url = await freshVhost();
    await seedDeadLetters(url, [
      { id: "p-0", queue: "y_pred", reason: "body is not JSON: a", body: "1" },
      { id: "f-0", queue: "features", reason: "expected 10 features, got 3" },
      { id: "p-1", queue: "y_pred", reason: "body is not JSON: b", body: "2" },
      { id: "p-2", queue: "y_pred", reason: "body is not JSON: c", body: "3" },
      { id: "p-3", queue: "y_pred", reason: "body is not JSON: d", body: "4", truncated: true },
      { id: "g-0", queue: "gone", reason: "body is not JSON: e" },
      { id: "f-1", queue: "features", reason: "expected 10 features, got 3" },
    ]);
    const first = await dlq(url, "replay", "--reason", "not json", "--limit", "2");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /replayed 2 of \d+ dead letters \(2 to y_pred\)/);
    const replayed = await drain(url, QUEUES.yPred);
    assert.deepEqual(replayed.map((m) => [m.id, m.body]), [["p-0", "1"], ["p-1", "2"]]);
    for (const { properties } of replayed) {
      assert.equal(properties.correlationId, properties.messageId);
      assert.equal(properties.deliveryMode, 2);
      // x-delivery-count: the quorum queue's own count of this delivery, not carried over.
      const headers = Object.keys(properties.headers ?? {}).filter((h) => h !== "x-delivery-count");
      assert.deepEqual(headers.sort(), ["replica", "sent-at-ms"]);
      assert.equal(properties.headers?.["x-delivery-count"] ?? 0, 0);
    }

    // No limit: the rest that matches, except what cannot go back.
    const second = await dlq(url, "replay", "--reason", "malformed_json");
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /replayed 1 of 5 dead letters \(1 to y_pred\)/);
    assert.match(second.stdout, /left 1 in dead_letter: body truncated when dead-lettered/);
    assert.match(second.stdout, /left 1 in dead_letter: queue 'gone' is not a work queue/);
    assert.deepEqual((await drain(url, QUEUES.yPred)).map((m) => m.id), ["p-2"]);
    assert.deepEqual(
      (await drain(url, QUEUES.deadLetter)).map((m) => m.id),
      ["f-0", "p-3", "g-0", "f-1"],
    );
  },
});

Deno.test({
  name: "dlq replay killed halfway loses nothing: each message is in dead_letter or its queue",
  ...integration,
  async fn() {
    const url = await freshVhost();
    const all = ids("k", 600);
    await seedDeadLetters(
      url,
      all.map((id) => ({ id, queue: "features", reason: "expected 10 features, got 3" })),
    );
    const child = dlqCommand(url, ["replay", "--rate", "200"]).spawn();
    const status = child.status;
    let exited = false;
    status.then(() => exited = true);
    // Wait for the first confirmed copies in features, then kill without warning.
    const deadline = Date.now() + 30_000;
    while ((await depth(url, QUEUES.features)) < 20) {
      assert.ok(Date.now() < deadline, "no replayed message reached features in 30 s");
      assert.ok(!exited, "dlq replay ended before it could be killed");
    }
    child.kill("SIGKILL");
    const { signal } = await status;
    assert.equal(signal, "SIGKILL", "dlq replay finished before the kill: nothing was tested");
    // The broker requeues the killed consumer's unacknowledged deliveries when the socket drops.
    let inDeadLetter = 0, inFeatures = 0;
    for (let i = 0; i < 50; i++) {
      inDeadLetter = await depth(url, QUEUES.deadLetter);
      inFeatures = await depth(url, QUEUES.features);
      if (inDeadLetter + inFeatures >= all.length) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(inFeatures > 0 && inFeatures < all.length, `features holds ${inFeatures}`);
    const left = (await drain(url, QUEUES.deadLetter)).map((m) => m.id);
    const sent = (await drain(url, QUEUES.features)).map((m) => m.id);
    const missing = all.filter((id) => !left.includes(id) && !sent.includes(id));
    assert.deepEqual(missing, [], "lost messages");
    // Duplicates are allowed (killed between confirm and ack) but there is at most one here.
    assert.ok(left.length + sent.length - all.length <= 1, `${left.length} + ${sent.length}`);
    console.log(
      `killed after ${sent.length} replays: ${left.length} still dead-lettered, none lost`,
    );
  },
});

Deno.test({
  name: "dlq purge refuses without --yes and empties dead_letter with it",
  ...integration,
  async fn() {
    const url = await freshVhost();
    await seedDeadLetters(url, ids("x", 4).map((id) => ({ id, queue: "features", reason: "r" })));
    const refused = await dlq(url, "purge");
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /Cannot purge dead_letter without --yes: it would delete 4/);
    assert.equal(await depth(url, QUEUES.deadLetter), 4);
    const purged = await dlq(url, "purge", "--yes");
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stdout, /purged 4 messages from dead_letter/);
    assert.equal(await depth(url, QUEUES.deadLetter), 0);
  },
});

Deno.test({
  name: "dlq tests stop their throwaway broker",
  ...integration,
  async fn() {
    await broker?.stop();
    broker = undefined;
  },
});
