/**
 * Scrapes `/metrics` of the three services while a real pipeline runs
 * (throwaway RabbitMQ, each service a subprocess with its real permission
 * flags) and checks what Prometheus would see: the metric names, the
 * `service`/`replica` labels, and message counters that add up to the
 * samples sent. Also checks that `/readyz` says 503 until the broker is up, while `/healthz`
 * (liveness) says 200 all along.
 *
 * Self-contained on purpose (no shared harness): it owns its broker, ports
 * and log directory, and cleans them up in `finally`.
 */
import assert from "node:assert/strict";
import { freePort, type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import type { ServiceName } from "../ops/launch.ts";
import { type ServiceProcess, spawnService, stopAll, waitFor } from "../ops/kit/process.ts";
import { connectClient } from "../stack/amqp_client.ts";
import { REASON_CODES, type ReasonCode } from "../stack/dead_letter_reasons.ts";
import { hasControlCharacter } from "../stack/printable.ts";

const ROOT = new URL("../", import.meta.url);
const ARTIFACTS = new URL("artifacts/", import.meta.url);
const COUNT = 20;

// --- a small Prometheus text-format parser -----------------------------------

/** One sample line: `name{labels} value`. */
interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition: metric families by `# TYPE`, and every sample. */
interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

// Like Prometheus (Go's ParseFloat), any case of NaN and Inf: prom-client writes "Nan".
function parseValue(text: string): number {
  if (/^\+?inf$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new SyntaxError(`not a sample value: ${text}`);
  return value;
}

/** Parses the Prometheus text format (version 0.0.4): enough for prom-client's output. */
function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = line.match(/^# TYPE ([a-zA-Z_:][\w:]*) (\w+)$/);
      if (type) types.set(type[1], type[2]);
      continue;
    }
    const head = line.match(/^([a-zA-Z_:][\w:]*)(\{)?/);
    if (!head) throw new SyntaxError(`line ${index + 1}: no metric name: ${line}`);
    const name = head[1];
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (head[2]) {
      // Label values are quoted with \\, \" and \n escapes.
      const pair = /\s*([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"\s*(,?)/y;
      pair.lastIndex = 1;
      for (;;) {
        if (rest[pair.lastIndex] === "}") break;
        const match = pair.exec(rest);
        if (!match) throw new SyntaxError(`line ${index + 1}: bad labels: ${line}`);
        labels[match[1]] = match[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
        if (!match[3] && rest[pair.lastIndex] !== "}") {
          throw new SyntaxError(`line ${index + 1}: bad labels: ${line}`);
        }
      }
      rest = rest.slice(pair.lastIndex + 1);
    }
    const [value, _timestamp] = rest.trim().split(/\s+/);
    samples.push({ name, labels, value: parseValue(value) });
  }
  return { types, samples };
}

/** The one sample of `name` whose labels include `labels`; fails when there is not exactly one. */
function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0].value;
}

// --- running the pipeline -----------------------------------------------------

function spawn(
  service: ServiceName,
  brokerPort: number,
  logDir: string,
  env: Record<string, string> = {},
): ServiceProcess {
  const port = freePort();
  return spawnService(service, {
    broker: `localhost:${brokerPort}`,
    httpPort: port,
    paths: { logDir },
  }, {
    cwd: ROOT,
    env: {
      AMQP_URL: `amqp://guest:guest@localhost:${brokerPort}`,
      HTTP_PORT: String(port),
      LOG_DIR: logDir,
      REPLICA: `${service}-1`,
      SHUTDOWN_TIMEOUT_MS: "5000",
      ...env,
    },
  });
}

async function get(
  running: ServiceProcess,
  path: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${running.httpPort}${path}`, {
    signal: AbortSignal.timeout(2_000),
  });
  return { status: response.status, text: await response.text() };
}

async function scrape(running: ServiceProcess): Promise<{ text: string; exposition: Exposition }> {
  const { status, text } = await get(running, "/metrics");
  assert.equal(status, 200);
  return { text, exposition: parsePrometheus(text) };
}

/** Fails with the service's output attached, which is what one needs to see then. */
function explain(running: readonly ServiceProcess[]): string {
  return running.map((r) => `--- ${r.name} ---\n${r.lines.join("\n").slice(-4000)}`).join("\n");
}

// --- tests --------------------------------------------------------------------

Deno.test("parsePrometheus() reads names, labels and values", () => {
  const exposition = parsePrometheus([
    "# HELP a_total Things",
    "# TYPE a_total counter",
    'a_total{queue="y_true",note="say \\"hi\\"\\\\n"} 20',
    "b 1.5e3 1700000000000",
    'c{x="1",} Nan',
    'd{le="+Inf"} +Inf',
    "",
  ].join("\n"));
  assert.equal(exposition.types.get("a_total"), "counter");
  assert.deepEqual(exposition.samples[0], {
    name: "a_total",
    labels: { queue: "y_true", note: 'say "hi"\\n' },
    value: 20,
  });
  assert.equal(value(exposition, "b"), 1500);
  assert.ok(Number.isNaN(value(exposition, "c", { x: "1" })));
  assert.equal(value(exposition, "d"), Number.POSITIVE_INFINITY);
  assert.throws(() => parsePrometheus("e{x=1} 2"), SyntaxError);
  assert.throws(() => parsePrometheus("f abc"), SyntaxError);
});

Deno.test({
  name: "each service's /metrics counts every message of a 20-sample run",
  // Subprocesses and their pipes outlive single awaits by design here.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const brokerPort = freePort();
    const logDir = await Deno.makeTempDir({ prefix: "ml-scrape-logs-" });
    const running: ServiceProcess[] = [];
    let broker: LocalBroker | undefined;
    try {
      // metric first, with no broker yet: it must say "not ready" until it is connected.
      const metric = spawn("metric", brokerPort, logDir);
      running.push(metric);
      await waitFor(
        "metric's /readyz to answer",
        async () => (await get(metric, "/readyz")).status > 0,
      );
      assert.equal((await get(metric, "/readyz")).status, 503, "ready without a broker");
      assert.equal((await get(metric, "/healthz")).status, 200, "not live without a broker");
      assert.equal(value((await scrape(metric)).exposition, "ml_broker_connected"), 0);

      broker = await startLocalBroker({ port: brokerPort });
      await waitFor(
        "metric to connect",
        async () => (await get(metric, "/readyz")).status === 200,
      );
      const model = spawn("model", brokerPort, logDir, { REPLICA: "model-a" });
      running.push(model);
      await waitFor("model to connect", async () => (await get(model, "/readyz")).status === 200);

      const features = spawn("features", brokerPort, logDir, {
        COUNT: String(COUNT),
        INTERVAL_MS: "50",
        SEED: "3",
      });
      running.push(features);
      // features exits once its COUNT is sent, taking its /metrics with it: scrape it while it
      // runs and keep the last answer.
      let featuresText = "";
      const exited = features.status;
      let featuresStatus: Deno.CommandStatus | undefined;
      void exited.then((status) => (featuresStatus = status));
      await waitFor(
        "features to finish",
        async () => {
          try {
            featuresText = (await scrape(features)).text;
          } catch { /* not listening yet, or gone */ }
          return featuresStatus !== undefined;
        },
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      await features.exit();
      assert.equal(featuresStatus!.code, 0, explain(running));
      assert.match(features.lines.join("\n"), new RegExp(`"sent ${COUNT} samples in`));
      assert.notEqual(featuresText, "", "features' /metrics never answered");

      await waitFor(`metric to record ${COUNT} samples`, async () => {
        const { exposition } = await scrape(metric);
        return value(exposition, "ml_metric_samples_total") === COUNT;
      });
      const metricScrape = await scrape(metric);
      const modelScrape = await scrape(model);
      const texts = { features: featuresText, model: modelScrape.text, metric: metricScrape.text };
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      for (const [service, text] of Object.entries(texts)) {
        await Deno.writeTextFile(new URL(`metrics_${service}.txt`, ARTIFACTS), text);
      }

      // features: names, labels, and never more published than sent.
      const f = parsePrometheus(featuresText);
      for (
        const name of [
          "ml_messages_out_total",
          "ml_messages_in_total",
          "ml_dead_lettered_total",
          "ml_broker_reconnects_total",
          "ml_broker_connected",
          "ml_broker_member",
          "ml_handler_seconds",
        ]
      ) assert.ok(f.types.has(name), `features lacks ${name}`);
      for (const sample of f.samples) {
        assert.equal(sample.labels.service, "features");
        assert.equal(sample.labels.replica, "features-1");
      }
      for (const queue of ["features", "y_true"]) {
        const sent = value(f, "ml_messages_out_total", { queue });
        assert.ok(sent >= 1 && sent <= COUNT, `features published ${sent} to ${queue}`);
      }

      // model: every feature vector in, every prediction out, nothing dead-lettered.
      const m = modelScrape.exposition;
      assert.equal(value(m, "ml_messages_in_total", { queue: "features" }), COUNT);
      assert.equal(value(m, "ml_messages_out_total", { queue: "y_pred" }), COUNT);
      assert.equal(value(m, "ml_handler_seconds_count", { queue: "features" }), COUNT);
      assert.equal(m.types.get("ml_handler_seconds"), "histogram");
      assert.equal(value(m, "ml_broker_connected"), 1);
      assert.equal(value(m, "ml_broker_member", { member: `localhost:${brokerPort}` }), 1);
      const trainingMae = m.samples.filter((s) => s.name === "ml_model_training_mae");
      assert.equal(trainingMae.length, 1);
      assert.match(trainingMae[0].labels.model_version, /^sha256-/);
      assert.ok(trainingMae[0].value > 0, `training MAE ${trainingMae[0].value}`);
      assert.equal(m.samples.filter((s) => s.name === "ml_dead_lettered_total").length, 0);
      assert.ok(
        m.samples.every((s) => s.labels.service === "model" && s.labels.replica === "model-a"),
      );

      // metric: both halves of every sample in, every pair recorded, nothing waiting.
      const x = metricScrape.exposition;
      assert.equal(value(x, "ml_messages_in_total", { queue: "y_true" }), COUNT);
      assert.equal(value(x, "ml_messages_in_total", { queue: "y_pred" }), COUNT);
      assert.equal(x.types.get("ml_metric_samples_total"), "counter");
      const version = x.samples.find((s) => s.name === "ml_metric_samples_total")!.labels
        .model_version;
      assert.equal(version, trainingMae[0].labels.model_version);
      assert.equal(value(x, "ml_metric_samples_total", { model_version: version }), COUNT);
      assert.equal(value(x, "ml_metric_unpaired"), 0);
      assert.equal(value(x, "ml_metric_duplicates_dropped_total", { queue: "y_true" }), 0);
      const mae = value(x, "ml_metric_mae");
      assert.ok(Number.isFinite(mae) && mae > 0, `MAE ${mae}`);
      const byVersion = x.samples.filter((s) => s.name === "ml_metric_mae_by_version");
      assert.equal(byVersion.length, 1);
      assert.ok(Math.abs(byVersion[0].value - mae) < 1e-9, "one version: its MAE is the MAE");
      const median = value(x, "ml_metric_median_absolute_error");
      const rmse = value(x, "ml_metric_rmse");
      assert.ok(median > 0 && rmse >= mae, `median ${median}, RMSE ${rmse}, MAE ${mae}`);
      assert.ok(value(x, "ml_metric_samples_per_second") >= 0);
      assert.equal(x.types.get("ml_metric_mae"), "gauge");
      // The histograms PromQL windows: MAE = sum / count, every pair's latency observed.
      assert.equal(x.types.get("ml_metric_absolute_error"), "histogram");
      const errors = { model_version: version };
      assert.equal(value(x, "ml_metric_absolute_error_count", errors), COUNT);
      assert.equal(value(x, "ml_metric_absolute_error_bucket", { ...errors, le: "+Inf" }), COUNT);
      const histogramMae = value(x, "ml_metric_absolute_error_sum", errors) / COUNT;
      assert.ok(Math.abs(histogramMae - mae) < 1e-6, `histogram MAE ${histogramMae}, MAE ${mae}`);
      assert.equal(x.types.get("ml_metric_latency_seconds"), "histogram");
      assert.equal(value(x, "ml_metric_latency_seconds_count"), COUNT);
      assert.ok(value(x, "ml_metric_latency_seconds_sum") > 0);
      // Every pair's four hops, from the time stamps features and model carry; one host, one
      // clock: none negative.
      assert.equal(x.types.get("ml_metric_hop_seconds"), "histogram");
      for (const hop of ["features_to_model", "model", "model_to_metric", "metric"]) {
        assert.equal(value(x, "ml_metric_hop_seconds_count", { hop }), COUNT, hop);
        assert.equal(value(x, "ml_metric_hop_negative_total", { hop }), 0, hop);
      }
      const hopsSum = ["features_to_model", "model", "model_to_metric"]
        .reduce((sum, hop) => sum + value(x, "ml_metric_hop_seconds_sum", { hop }), 0);
      const latencySum = value(x, "ml_metric_latency_seconds_sum");
      assert.ok(
        Math.abs(hopsSum - latencySum) < 1e-6,
        `hops add up to ${hopsSum} s, end to end ${latencySum} s`,
      );
      // Each timer's time on the event loop is measured, the plot's included.
      assert.equal(x.types.get("ml_metric_periodic_job_seconds"), "histogram");
      assert.ok(value(x, "ml_metric_periodic_job_seconds_count", { job: "expiry" }) >= 1);

      // The dashboard's JSON agrees with /metrics.
      const stats = JSON.parse((await get(metric, "/api/stats")).text);
      assert.equal(stats.count, COUNT);
      assert.ok(Math.abs(stats.mae - mae) < 1e-9);
    } catch (error) {
      console.error(explain(running));
      throw error;
    } finally {
      await stopAll(running);
      await broker?.stop();
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "dead letters are labelled by code: distinct bad contents add no series",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const brokerPort = freePort();
    const logDir = await Deno.makeTempDir({ prefix: "ml-scrape-labels-" });
    const running: ServiceProcess[] = [];
    let broker: LocalBroker | undefined;
    try {
      broker = await startLocalBroker({ port: brokerPort });
      const model = spawn("model", brokerPort, logDir, { REPLICA: "model-a" });
      const metric = spawn("metric", brokerPort, logDir);
      running.push(model, metric);
      for (const service of running) {
        await waitFor(`${service.name} to connect`, async () => {
          try {
            return (await get(service, "/readyz")).status === 200;
          } catch {
            return false;
          }
        });
      }
      const client = await connectClient(`amqp://guest:guest@localhost:${brokerPort}`);
      const KINDS = 50;
      try {
        const channel = await client.channel();
        await channel.confirmSelect();
        const publishes: Promise<unknown>[] = [];
        for (let i = 0; i < KINDS; i++) {
          // Vectors of 11 to 60 features, strings for y_true, each one distinct.
          const vector = JSON.stringify(Array.from({ length: 11 + i }, () => 0.1));
          publishes.push(channel.basicPublish("", "features", vector, { messageId: `f-${i}` }));
          const text = JSON.stringify(`\x1b]0;title ${i}\x07 label ${i}`);
          publishes.push(channel.basicPublish("", "y_true", text, { messageId: `t-${i}` }));
        }
        // An id with a C1 control and one with a bidi override: refused, not written.
        publishes.push(channel.basicPublish("", "y_true", "151", { messageId: "id-\x9b31m" }));
        publishes.push(channel.basicPublish("", "y_true", "151", { messageId: "id-\u202e" }));
        await Promise.all(publishes);
      } finally {
        await client.close().catch(() => {});
      }
      const series = async (service: ServiceProcess) =>
        (await scrape(service)).exposition.samples.filter((s) =>
          s.name === "ml_dead_lettered_total"
        );
      await waitFor("every bad message dead-lettered", async () => {
        const total = [...await series(model), ...await series(metric)]
          .reduce((sum, s) => sum + s.value, 0);
        return total >= 2 * KINDS + 2;
      });
      const onModel = await series(model);
      const onMetric = await series(metric);
      assert.deepEqual(
        onModel.map((s) => [s.labels.queue, s.labels.reason, s.value]),
        [["features", "wrong_length", KINDS]],
      );
      assert.deepEqual(
        onMetric.map((s) => [s.labels.queue, s.labels.reason, s.value]).sort(),
        [["y_true", "bad_id", 2], ["y_true", "wrong_type", KINDS]],
      );
      for (const s of [...onModel, ...onMetric]) {
        assert.ok(REASON_CODES.includes(s.labels.reason as ReasonCode), s.labels.reason);
      }
      // The detail is in the log line, printable; no control character reached the output.
      const lines = [...model.lines, ...metric.lines].join("\n");
      assert.match(lines, /expected 10 features, got 60/);
      assert.equal(hasControlCharacter(lines.replaceAll("\n", "")), false);
    } catch (error) {
      console.error(explain(running));
      throw error;
    } finally {
      await stopAll(running);
      await broker?.stop();
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
    }
  },
});
