/**
 * The pipeline against a real RabbitMQ: the three services as subprocesses
 * with their real permission flags, one throwaway broker for the file, a
 * vhost per test.
 */
import assert from "node:assert/strict";
import { QUEUES } from "../stack/contracts.ts";
import { PIPELINE_QUEUES } from "../stack/topology.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { isReasonCode } from "../stack/dead_letter_reasons.ts";
import { runArgs } from "../ops/launch.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { waitFor, waitReady } from "../ops/kit/process.ts";
import { CSV_HEADER, metricLogPath, parseMetricLog } from "../metric/metric_log/format.ts";
import { RECORDS_PATH } from "../metric/records_route.ts";
import {
  assertExactlyOnce,
  EXTERNAL_BROKER,
  Pipeline,
  sentSamples,
  sharedBroker,
  stopSharedBroker,
} from "./harness.ts";

// Subprocesses and sockets outlive single awaits by design here.
const integration = { sanitizeOps: false, sanitizeResources: false };

const dataset = await loadDiabetes();

Deno.test({
  name: "pipeline records every sample once with its absolute error",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "flow");
    try {
      pipeline.spawn("metric");
      pipeline.spawn("model", { REPLICA: "model-a" });
      const features = pipeline.spawn("features", { COUNT: "40", INTERVAL_MS: "5", SEED: "7" });
      assert.equal((await features.exit()).code, 0, features.lines.join("\n"));
      const sent = sentSamples(features.logs());
      assert.equal(sent.size, 40);
      await waitFor("40 rows in metric_log.csv", async () => (await pipeline.rows()).length >= 40);
      await assertExactlyOnce(await pipeline.rows(), sent);
      const labels = await Deno.readTextFile(`${pipeline.logDir}/labels_log.txt`);
      assert.equal(labels.match(/^received \S+ from queue y_true$/gm)?.length, 40);
      assert.equal(labels.match(/^received \S+ from queue y_pred$/gm)?.length, 40);
      const latencies = (await pipeline.rows()).map((r) => r.latencyMs);
      assert.ok(latencies.every((ms) => ms >= 0 && ms < 5_000), `latencies ${latencies}`);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "metric serves the last recorded rows at /records, behind its token",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "records");
    try {
      const token = "records-test-token";
      const port = freePort();
      const metric = pipeline.spawn("metric", { HTTP_TOKEN: token }, { httpPort: port });
      pipeline.spawn("model");
      const features = pipeline.spawn("features", { COUNT: "40", INTERVAL_MS: "5", SEED: "7" });
      assert.equal((await features.exit()).code, 0, features.lines.join("\n"));
      await waitFor("40 rows in metric_log.csv", async () => (await pipeline.rows()).length >= 40);
      await waitReady(metric);
      const url = `http://127.0.0.1:${port}${RECORDS_PATH}?last=10`;
      const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });

      const refused = await fetch(url);
      assert.equal(refused.status, 401);
      await refused.body?.cancel();

      const response = await get(url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/csv; charset=utf-8");
      assert.equal(response.headers.get("x-ml-rows"), "10");
      const body = await response.text();
      assert.equal(body.slice(0, body.indexOf("\n")), CSV_HEADER);
      const served = parseMetricLog(body);
      assert.equal(served.length, 10);
      assert.ok(served.every((row) => row.inputs?.length === 10), "a row without its inputs");
      const recorded = parseMetricLog(await Deno.readTextFile(metricLogPath(pipeline.logDir)));
      assert.equal(recorded.length, 40);
      assert.deepEqual(served, recorded.slice(-10));

      const bad = await get(`http://127.0.0.1:${port}${RECORDS_PATH}?last=abc`);
      assert.equal(bad.status, 400);
      assert.equal(
        await bad.text(),
        "last must be an integer from 1 to 50000: current value is 'abc'\n",
      );
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "SIGKILL of a model replica mid-stream loses and duplicates nothing",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "kill");
    try {
      pipeline.spawn("metric");
      // A slow model with a deep prefetch holds many unacked messages when it dies.
      const slow = { INFERENCE_DELAY_MS: "30", PREFETCH: "40" };
      const victim = pipeline.spawn("model", { ...slow, REPLICA: "victim" });
      const features = pipeline.spawn("features", { COUNT: "300", INTERVAL_MS: "3" });
      await waitFor("some rows", async () => (await pipeline.rows()).length >= 40);
      victim.kill("SIGKILL");
      assert.equal((await victim.exit()).signal, "SIGKILL");
      const before = (await pipeline.rows()).length;
      pipeline.spawn("model", { ...slow, REPLICA: "successor" });
      assert.equal((await features.exit()).code, 0);
      await waitFor("300 rows", async () => (await pipeline.rows()).length >= 300, {
        timeoutMs: 60_000,
      });
      const sent = sentSamples(features.logs());
      assert.equal(sent.size, 300);
      await assertExactlyOnce(await pipeline.rows(), sent);
      assert.ok(before < 300, "the kill came too late to prove anything");
      assert.ok((await pipeline.rows()).some((r) => r.replica === "successor"));
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "two model replicas share the features queue",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "share");
    try {
      pipeline.spawn("metric");
      // Each replica holds at most 5 and takes 20 ms per message: one alone would lag.
      const slow = { INFERENCE_DELAY_MS: "20", PREFETCH: "5" };
      pipeline.spawn("model", { ...slow, REPLICA: "model-1" });
      pipeline.spawn("model", { ...slow, REPLICA: "model-2" });
      const features = pipeline.spawn("features", { COUNT: "200", INTERVAL_MS: "2" });
      assert.equal((await features.exit()).code, 0);
      await waitFor("200 rows", async () => (await pipeline.rows()).length >= 200);
      await assertExactlyOnce(await pipeline.rows(), sentSamples(features.logs()));
      const perReplica = Map.groupBy(await pipeline.rows(), (r) => r.replica);
      assert.deepEqual([...perReplica.keys()].sort(), ["model-1", "model-2"]);
      for (const [replica, rows] of perReplica) {
        assert.ok(rows.length >= 40, `${replica} did ${rows.length}`);
      }
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "malformed messages are dead-lettered with a reason and good traffic flows on",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "bad");
    try {
      const metric = pipeline.spawn("metric", { UNPAIRED_TTL_MS: "1500" });
      const modelProcess = pipeline.spawn("model");
      const vector = JSON.stringify(dataset.X[0]);
      const bad: [string, string | Uint8Array, Record<string, unknown>, RegExp][] = [
        [QUEUES.features, "not json", { messageId: "f-json" }, /not JSON/],
        [QUEUES.features, '{"a":1}', { messageId: "f-type" }, /array of 10/],
        [QUEUES.features, "[1,2,3]", { messageId: "f-length" }, /expected 10 features, got 3/],
        [
          QUEUES.features,
          vector.replace(/^\[[^,]+/, "[null"),
          { messageId: "f-null" },
          /feature 0 is not a finite/,
        ],
        [
          QUEUES.features,
          vector.replace(/^\[[^,]+/, "[1e999"),
          { messageId: "f-inf" },
          /feature 0 is not a finite/,
        ],
        [QUEUES.features, `[${"1,".repeat(3000)}1]`, { messageId: "f-big" }, /body too large/],
        [QUEUES.features, new Uint8Array([0xff, 0xfe]), { messageId: "f-utf8" }, /not UTF-8/],
        [QUEUES.features, vector, {}, /missing messageId/],
        [QUEUES.yTrue, '"302"', { messageId: "t-type" }, /expected one finite number/],
        [QUEUES.yTrue, "302", {}, /missing messageId/],
        [QUEUES.yPred, "150.6", { messageId: "p-no-correlation" }, /missing correlationId/],
        // A prediction nobody sent a truth for: waits, then expires.
        [
          QUEUES.yPred,
          "150.6",
          { messageId: "orphan", correlationId: "orphan" },
          /unpaired: no y_true/,
        ],
      ];
      // The services declare the queues; a publish before that would be dropped unrouted.
      for (const service of [metric, modelProcess]) {
        await waitFor(
          `${service.name} connected`,
          () => service.logs().some((l) => String(l.message).startsWith("connected to rabbitmq")),
        );
      }
      for (const [queue, body, properties] of bad) await pipeline.publish(queue, body, properties);
      const features = pipeline.spawn("features", { COUNT: "10", INTERVAL_MS: "10" });
      assert.equal((await features.exit()).code, 0);
      await waitFor("10 rows", async () => (await pipeline.rows()).length >= 10);
      await waitFor(
        `${bad.length} dead letters`,
        async () => (await pipeline.depths())[QUEUES.deadLetter] >= bad.length,
        { timeoutMs: 15_000 },
      ).catch(async (error) => {
        const got = await pipeline.take(QUEUES.deadLetter);
        throw new Error(
          `${error.message}; got ${JSON.stringify(got.map((m) => m.properties.headers))}`,
        );
      });
      const deadLetters = await pipeline.take(QUEUES.deadLetter);
      assert.equal(deadLetters.length, bad.length);
      for (const [queue, , properties, reason] of bad) {
        const id = (properties.correlationId ?? properties.messageId) as string | undefined;
        const match = deadLetters.find((m) =>
          m.properties.headers?.["dead-letter-queue"] === queue &&
          (id
            ? m.properties.messageId === properties.messageId
            : m.properties.messageId === undefined) &&
          reason.test(String(m.properties.headers?.["dead-letter-reason"]))
        );
        assert.ok(match, `no dead letter from ${queue} for ${id ?? "(no id)"} matching ${reason}`);
        assert.ok(isReasonCode(match.properties.headers?.["dead-letter-code"]), reason.source);
      }
      await assertExactlyOnce(await pipeline.rows(), sentSamples(features.logs()));
      for (const service of [metric, modelProcess]) {
        assert.ok(
          service.logs().some((l) => String(l.message).startsWith("dead-lettered message")),
        );
        assert.ok(!service.logs().some((l) => l.level === "FATAL"), service.lines.join("\n"));
      }
      // Every queue empty, the shadow's too (no candidate ran: nothing was copied).
      assert.deepEqual(
        await pipeline.depths(),
        Object.fromEntries(PIPELINE_QUEUES.map((queue) => [queue, 0])),
      );
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "a bad configuration stops a service at start with every problem named",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "config");
    try {
      const model = pipeline.spawn("model", {
        PREFETCH: "lots",
        MAX_BODY_BYTES: "-1",
        AMQP_URL: "http://x",
      });
      const status = await model.exit();
      assert.equal(status.code, 2);
      const output = model.lines.join("\n");
      assert.match(output, /PREFETCH must be an integer from 1 to 65535: current value is "lots"/);
      assert.match(
        output,
        /MAX_BODY_BYTES must be an integer from 64 to 1048576: current value is "-1"/,
      );
      assert.match(output, /AMQP_URL must use the amqp: or amqps: scheme/);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "a service with its real permission flags cannot reach a host or path it was not given",
  ...integration,
  async fn(t) {
    const pipeline = await Pipeline.create(await sharedBroker(), "perm");
    try {
      await t.step("model may not read a model file outside its grant", async () => {
        const model = pipeline.spawn("model", { MODEL_PATH: "/etc/passwd" });
        assert.equal((await model.exit()).code, 1);
        assert.match(model.lines.join("\n"), /Requires read access to "\/etc\/passwd"/);
      });
      await t.step("features may not connect to another broker port than its grant", async () => {
        const { hostname, port } = pipeline.broker;
        const args = runArgs("features", {
          broker: `${hostname}:${port + 1}`,
          httpPort: 0,
        });
        const features = pipeline.spawn("features", { COUNT: "1" }, { args });
        assert.equal((await features.exit()).code, 2);
        assert.match(
          features.lines.join("\n"),
          new RegExp(
            `AMQP_URL needs ${RegExp.escape(hostname)}:\\d+, which this process may not reach`,
          ),
        );
      });
      await t.step("metric may not write outside its log directory", async () => {
        const metric = pipeline.spawn("metric", { LOG_DIR: "/tmp/ml-not-granted" });
        assert.equal((await metric.exit()).code, 1);
        assert.match(
          metric.lines.join("\n"),
          /Requires (read|write) access to "\/tmp\/ml-not-granted/,
        );
      });
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "SIGTERM drains in-flight work and exits 0",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "drain");
    try {
      pipeline.spawn("metric");
      // 1 s a prediction, 10 at a time, 200 samples: 20 s of work, so the stop below finds work
      // under way. The rows are seen through metric, which may start seconds after model: with
      // 30 samples (3 s of work), a loaded CI run found nothing in flight at the stop.
      const model = pipeline.spawn("model", { INFERENCE_DELAY_MS: "1000", PREFETCH: "10" });
      const features = pipeline.spawn("features", { COUNT: "200", INTERVAL_MS: "1" });
      assert.equal((await features.exit()).code, 0);
      await waitFor("a few rows", async () => (await pipeline.rows()).length >= 3);
      const status = await model.stop();
      assert.equal(status.code, 0, model.lines.join("\n"));
      assert.ok(
        model.logs().some((l) => String(l.message).startsWith("draining")),
        "nothing was in flight",
      );
      pipeline.spawn("model");
      await waitFor("200 rows", async () => (await pipeline.rows()).length >= 200);
      await assertExactlyOnce(await pipeline.rows(), sentSamples(features.logs()));
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "a metric restart after SIGKILL does not duplicate rows",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "metric-kill");
    try {
      const metric = pipeline.spawn("metric");
      pipeline.spawn("model");
      const features = pipeline.spawn("features", { COUNT: "300", INTERVAL_MS: "3" });
      await waitFor("some rows", async () => (await pipeline.rows()).length >= 50);
      metric.kill("SIGKILL");
      await metric.exit();
      const restarted = pipeline.spawn("metric");
      assert.equal((await features.exit()).code, 0);
      await waitFor("300 rows", async () => (await pipeline.rows()).length >= 300, {
        timeoutMs: 60_000,
      });
      await assertExactlyOnce(await pipeline.rows(), sentSamples(features.logs()));
      assert.ok(restarted.logs().some((l) => String(l.message).startsWith("restored")));
    } finally {
      await pipeline.dispose();
    }
  },
});

if (EXTERNAL_BROKER) {
  console.log(
    "skipping the broker restart test: AMQP_URL names a broker these tests cannot restart",
  );
}

Deno.test({
  name: "a broker restart mid-stream loses and duplicates nothing",
  ignore: EXTERNAL_BROKER,
  ...integration,
  async fn() {
    const broker = await sharedBroker();
    const pipeline = await Pipeline.create(broker, "restart");
    try {
      const services = [pipeline.spawn("metric"), pipeline.spawn("model")];
      // 600 samples at 10 ms: still sending when the broker goes down.
      const features = pipeline.spawn("features", { COUNT: "600", INTERVAL_MS: "10" });
      await waitFor("some rows", async () => (await pipeline.rows()).length >= 50);
      await broker.local!.restart();
      assert.equal((await features.exit()).code, 0, features.lines.slice(-20).join("\n"));
      await waitFor("600 rows", async () => (await pipeline.rows()).length >= 600, {
        timeoutMs: 90_000,
      });
      await assertExactlyOnce(await pipeline.rows(), sentSamples(features.logs()));
      for (const service of [...services, features]) {
        assert.ok(
          service.logs().some((l) => String(l.message).startsWith("lost the connection")),
          `${service.name} never noticed the restart`,
        );
      }
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
