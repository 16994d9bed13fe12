/**
 * The project's own fuzz suite: property-based bad messages,
 * bodies and AMQP envelopes both, against model and metric spawned with
 * their real permissions on a real RabbitMQ. Batches of bad messages are
 * interleaved with good samples; after each batch both services are alive
 * and ready, every good sample is recorded exactly once, and every bad
 * message is in `dead_letter` with a reason.
 *
 * Deterministic: the seed is FUZZ_SEED or a fixed one, and is printed.
 * `user_id` is either absent or `guest`: the broker rejects a publish whose
 * user_id is not the connection's user (a publisher-side error, not input a
 * service can receive), and the test broker has only guest.
 */
import assert from "node:assert/strict";
import { AMQPClient, type AMQPProperties } from "@cloudamqp/amqp-client";
import fc from "fast-check";
import { sampleMessages } from "../features/sampler.ts";
import { HEADERS, QUEUES } from "../stack/contracts.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { httpStatus, waitFor } from "../ops/kit/process.ts";
import { Pipeline, sharedBroker, stopSharedBroker } from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20260109);
const BATCHES = 8;
const BAD_PER_BATCH = 50;
const GOOD_PER_BATCH = 10;

const dataset = await loadDiabetes();

/** Doubles at the edges of the range, and the contract's own edges. */
const EDGES = [
  0,
  -0,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  2.2250738585072014e-308,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 31,
  -(2 ** 31) - 1,
  1e6,
  1e6 + 1e-9,
  1e12,
  1e12 * (1 + Number.EPSILON),
];
const edge = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Text of any characters, short enough for an AMQP shortstr (255 bytes). */
const shortText = fc.string({ unit: "binary", maxLength: 60 });

/** A header value of any type amqp-client encodes, bounded in size. */
const primitive = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  edge,
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ min: new Date(0), max: new Date(2 ** 31 * 1000), noInvalidDate: true }),
  fc.uint8Array({ maxLength: 200 }),
);
const headerValue = fc.oneof(
  { weight: 4, arbitrary: primitive },
  { weight: 1, arbitrary: fc.array(primitive, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 20 }), primitive, { maxKeys: 5 }) },
);
/** Up to 40 headers, at most ~50 KB: within one 128 KiB frame. */
const headers = fc.oneof(
  fc.dictionary(fc.string({ unit: "binary", maxLength: 40 }), headerValue, { maxKeys: 20 }),
  // Many small entries, like the 1,000 of a 12 KB header frame (docs/amqp-client-frame-bug.md).
  fc.integer({ min: 100, max: 1500 }).map((n) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`h${i}`, i]))
  ),
);

/** The envelope of a bad message: every property, arbitrary. */
const envelope = fc.record({
  headers: fc.option(headers, { nil: undefined }),
  contentType: fc.option(shortText, { nil: undefined }),
  contentEncoding: fc.option(shortText, { nil: undefined }),
  // Long enough not to expire before it is consumed; the dead-letter copy drops it.
  expiration: fc.option(fc.constantFrom("600000", "86400000", "4294967295"), { nil: undefined }),
  priority: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  userId: fc.option(fc.constant("guest"), { nil: undefined }),
  type: fc.option(shortText, { nil: undefined }),
  appId: fc.option(shortText, { nil: undefined }),
  replyTo: fc.option(shortText, { nil: undefined }),
  deliveryMode: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
  timestamp: fc.option(
    fc.date({ min: new Date(0), max: new Date(2 ** 31 * 1000), noInvalidDate: true }),
    { nil: undefined },
  ),
}, { requiredKeys: [] });

/** Ids parseId rejects: control characters, too long, empty. */
const badId = fc.oneof(
  fc.tuple(shortText, fc.integer({ min: 0, max: 31 }), shortText).map(([a, c, b]) =>
    `${a.slice(0, 20)}${String.fromCharCode(c)}${b.slice(0, 20)}`
  ),
  fc.string({ minLength: 129, maxLength: 200 }),
  fc.constant(""),
);

const vector = (values: number[]) => JSON.stringify(values);
const enc = new TextEncoder();

type Bad = { kind: string; queue: string; body: Uint8Array; id?: string };

const bodyKinds: Record<string, fc.Arbitrary<Omit<Bad, "kind" | "queue">>> = {
  "not JSON": fc.string({ unit: "binary", minLength: 1, maxLength: 100 })
    .filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }).map((s) => ({ body: enc.encode(s) })),
  "not UTF-8": fc.uint8Array({ minLength: 1, maxLength: 50 })
    .map((b) => ({ body: new Uint8Array([0xff, 0xfe, ...b]) })),
  "empty body": fc.constant({ body: new Uint8Array() }),
  "too large": fc.integer({ min: 4097, max: 60_000 })
    .map((n) => ({ body: enc.encode(`[${"1,".repeat(n / 2)}1]`) })),
  "wrong shape": fc.oneof(
    fc.json(),
    fc.array(edge, { maxLength: 20 }).filter((a) => a.length !== 10).map(vector),
  ).filter((text) => typeof JSON.parse(text) !== "number").map((t) => ({ body: enc.encode(t) })),
  "out of range": fc.tuple(fc.array(edge, { minLength: 10, maxLength: 10 }), fc.nat(9))
    .map(([values, i]) => {
      values[i] = [Number.MAX_VALUE, -1e300, 1e6 * 1.5, 1e13][i % 4];
      return { body: enc.encode(vector(values)) };
    }),
  "beyond the double range": fc.constantFrom("1e999", "-1e999", "[1e999,0,0,0,0,0,0,0,0,0]")
    .map((t) => ({ body: enc.encode(t) })),
};

/** A bad message: which queue, which kind of body (or a bad id with a good body). */
const badMessage: fc.Arbitrary<Bad & { properties: AMQPProperties }> = fc.oneof(
  ...Object.entries(bodyKinds).flatMap(([kind, body]) =>
    // A vector out of range is bad on features; scalars have their own kind below.
    [QUEUES.features, QUEUES.yTrue, QUEUES.yPred].filter((queue) =>
      kind !== "out of range" || queue === QUEUES.features
    ).map((queue) =>
      fc.record({ body, id: fc.option(shortText, { nil: undefined }), env: envelope })
        .map(({ body, id, env }) => ({
          kind: `${queue}: ${kind}`,
          queue,
          body: body.body,
          properties: { ...env, ...idProps(queue, id ?? "fuzz") },
        }))
    )
  ),
  ...[QUEUES.features, QUEUES.yTrue, QUEUES.yPred].map((queue) =>
    fc.record({ id: badId, env: envelope }).map(({ id, env }) => ({
      kind: `${queue}: bad id`,
      queue,
      body: enc.encode(queue === QUEUES.features ? vector(dataset.X[0]) : "151"),
      properties: { ...env, ...idProps(queue, id) },
    }))
  ),
  ...[QUEUES.yTrue, QUEUES.yPred].map((queue) =>
    fc.oneof(edge.filter((v) => Math.abs(v) > 1e12), fc.constant(Number.MAX_VALUE))
      .chain((v) => fc.record({ env: envelope, id: shortText }).map((r) => ({ ...r, v })))
      .map(({ env, id, v }) => ({
        kind: `${queue}: out of range`,
        queue,
        body: enc.encode(JSON.stringify(v)),
        properties: { ...env, ...idProps(queue, id || "fuzz") },
      }))
  ),
);

function idProps(queue: string, id: string): AMQPProperties {
  return queue === QUEUES.yPred ? { correlationId: id } : { messageId: id };
}

async function readyz(port: number): Promise<number> {
  return await httpStatus(`http://127.0.0.1:${port}/readyz`);
}

Deno.test({
  name: "fuzz: bad bodies and envelopes never crash, stall or corrupt model and metric",
  ...integration,
  async fn() {
    const started = performance.now();
    console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} to replay)`);
    const pipeline = await Pipeline.create(await sharedBroker(), "fuzz");
    const client = new AMQPClient(`${pipeline.url}?frameMax=131072`);
    try {
      const ports = { metric: freePort(), model: freePort() };
      const metric = pipeline.spawn("metric", { UNPAIRED_TTL_MS: "600000" }, {
        httpPort: ports.metric,
      });
      const model = pipeline.spawn("model", {}, { httpPort: ports.model });
      await waitFor(
        "both ready",
        async () => (await readyz(ports.metric)) === 200 && (await readyz(ports.model)) === 200,
        {
          timeoutMs: 30_000,
        },
      );
      await client.connect();
      const channel = await client.channel();
      await channel.confirmSelect();

      const kinds = new Map<string, number>();
      const good: string[] = [];
      let bad = 0;
      let rejected = 0;
      for (let batch = 0; batch < BATCHES; batch++) {
        const messages = fc.sample(badMessage, { numRuns: BAD_PER_BATCH, seed: SEED + batch });
        let publishedBad = 0;
        for (let i = 0; i < messages.length; i++) {
          const message = messages[i];
          try {
            await channel.basicPublish("", message.queue, message.body, {
              ...message.properties,
              headers: { "fuzz-n": bad + publishedBad, ...message.properties.headers },
            });
            publishedBad++;
            kinds.set(message.kind, (kinds.get(message.kind) ?? 0) + 1);
          } catch (error) {
            // The client could not encode it: a publisher-side error, never sent.
            rejected++;
            console.log(`not publishable (${message.kind}): ${error}`);
          }
          if (i % (BAD_PER_BATCH / GOOD_PER_BATCH) === 0) {
            const id = crypto.randomUUID();
            const row = (batch * 7 + i) % dataset.y.length;
            for (
              const m of sampleMessages(
                { row, features: dataset.X[row], target: dataset.y[row] },
                { id, sentAtMs: Date.now(), replica: "fuzz" },
              )
            ) {
              await channel.basicPublish("", m.queue, m.body, m.properties);
            }
            good.push(id);
          }
        }
        bad += publishedBad;
        console.log(`batch ${batch}: ${publishedBad} bad, ${good.length} good so far`);

        await waitFor(`batch ${batch}: ${good.length} good samples recorded`, async () => {
          const ids = new Set((await pipeline.rows()).map((r) => r.id));
          return good.every((id) => ids.has(id));
        }, { timeoutMs: 30_000 });
        await waitFor(
          `batch ${batch}: ${publishedBad} dead letters`,
          async () => ((await pipeline.depths())[QUEUES.deadLetter] ?? 0) >= publishedBad,
          {
            timeoutMs: 30_000,
          },
        );
        const letters = await pipeline.take(QUEUES.deadLetter);
        assert.equal(letters.length, publishedBad, `batch ${batch}: dead letters`);
        for (const letter of letters) {
          const reason = letter.properties.headers?.[HEADERS.deadLetterReason];
          assert.ok(typeof reason === "string" && reason.length > 0, JSON.stringify(letter));
        }
        const rows = await pipeline.rows();
        const counts = new Map<string, number>();
        for (const r of rows) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
        for (const id of good) assert.equal(counts.get(id), 1, `good sample ${id} recorded once`);
        assert.equal(rows.length, good.length, "nothing but the good samples was recorded");
        for (const [service, port] of [[metric, ports.metric], [model, ports.model]] as const) {
          assert.equal(service.exitStatus, undefined, `${service.name} is alive`);
          assert.equal(await readyz(port), 200, `${service.name} /readyz`);
        }
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(
        `fuzz: ${bad} bad messages of ${kinds.size} kinds (${rejected} not publishable) and ` +
          `${good.length} good samples in ${BATCHES} batches, seed ${SEED}, ${seconds} s`,
      );
      for (const [kind, n] of [...kinds].sort()) {
        console.log(`  ${n.toString().padStart(4)} ${kind}`);
      }
    } finally {
      await client.close().catch(() => {});
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "fuzz: stop the shared broker",
  ...integration,
  async fn() {
    await stopSharedBroker();
  },
});
