/**
 * Drift, end to end: the three services on a real RabbitMQ, features
 * switching on input drift after a clean start, and a real Prometheus
 * (Debian's /usr/bin/prometheus) scraping them every second with the
 * committed alerts.yml. The ModelDrift alert must fire for the model's
 * version, and the dashboard's MAE for that version must move.
 *
 * ModelDrift waits `for: 1m`, so this test takes a little over a minute.
 */
import assert from "node:assert/strict";
import { loadModelArtifact } from "../model/artifact.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { waitFor, waitReady } from "../ops/kit/process.ts";
import { Pipeline, sharedBroker, stopSharedBroker } from "./harness.ts";

const ALERTS = new URL("../ops/images/prometheus/alerts.yml", import.meta.url).pathname;
/** Clean samples before the drift: enough for a first MAE on the dashboard. */
const CLEAN_SAMPLES = 300;
/** Real input drift: two of the columns the model weighs most, tripled. */
const DRIFT_FEATURES = "bmi*3,s5*3";

interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
  value: string;
}

/** A Prometheus of its own: scrapes the three services every second, evaluates every second. */
class TestPrometheus {
  readonly dir: string;
  readonly port: number;
  readonly #child: Deno.ChildProcess;

  private constructor(dir: string, port: number, child: Deno.ChildProcess) {
    this.dir = dir;
    this.port = port;
    this.#child = child;
  }

  static async start(targets: Record<string, number>): Promise<TestPrometheus> {
    const dir = await Deno.makeTempDir({ prefix: "ml-prometheus-" });
    const jobs = Object.entries(targets).map(([job, port]) =>
      `  - job_name: ${job}\n    static_configs:\n      - targets: ["127.0.0.1:${port}"]`
    );
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "rule_files:",
        `  - ${ALERTS}`,
        "scrape_configs:",
        ...jobs,
        "",
      ].join("\n"),
    );
    const port = freePort();
    const child = new Deno.Command("/usr/bin/prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const prometheus = new TestPrometheus(dir, port, child);
    await waitFor("Prometheus to be ready", async () => {
      const response = await fetch(`${prometheus.url}/-/ready`);
      await response.body?.cancel();
      return response.ok;
    });
    return prometheus;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async api<T>(path: string): Promise<T> {
    const response = await fetch(`${this.url}/api/v1/${path}`, {
      signal: AbortSignal.timeout(2_000),
    });
    const body = await response.json();
    if (body.status !== "success") throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data as T;
  }

  async alerts(name: string): Promise<Alert[]> {
    const { alerts } = await this.api<{ alerts: Alert[] }>("alerts");
    return alerts.filter((a) => a.labels.alertname === name);
  }

  async query(
    promql: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const { result } = await this.api<{ result: never[] }>(
      `query?query=${encodeURIComponent(promql)}`,
    );
    return result;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.#child.status;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

interface VersionStats {
  version: string;
  count: number;
  mae: number;
}

async function versions(metricPort: number): Promise<VersionStats[]> {
  const response = await fetch(`http://127.0.0.1:${metricPort}/api/stats`, {
    signal: AbortSignal.timeout(2_000),
  });
  return (await response.json()).versions;
}

/** MAE per model version over the last 5 minutes, from the absolute-error histogram. */
export const MAE_5M_BY_VERSION = "sum by (model_version) (rate(ml_metric_absolute_error_sum[5m]))" +
  " / sum by (model_version) (rate(ml_metric_absolute_error_count[5m]))";

Deno.test({
  name: "input drift makes Prometheus fire ModelDrift and moves the dashboard's MAE",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const model = await loadModelArtifact();
    const pipeline = await Pipeline.create(await sharedBroker(), "drift");
    let prometheus: TestPrometheus | undefined;
    try {
      const ports = { features: freePort(), model: freePort(), metric: freePort() };
      const metric = pipeline.spawn("metric", { REPLICA: "metric-1" }, {
        httpPort: ports.metric,
      });
      const modelProcess = pipeline.spawn("model", { REPLICA: "model-a" }, {
        httpPort: ports.model,
      });
      await Promise.all([waitReady(metric), waitReady(modelProcess)]);
      prometheus = await TestPrometheus.start(ports);

      const features = pipeline.spawn("features", {
        REPLICA: "features-1",
        INTERVAL_MS: "20",
        SEED: "12",
        DRIFT_FEATURES,
        DRIFT_AFTER_SAMPLES: String(CLEAN_SAMPLES),
      }, { httpPort: ports.features });

      // Before the drift: the version's MAE near the training MAE.
      let before: VersionStats | undefined;
      await waitFor("100 clean samples on the dashboard", async () => {
        before = (await versions(ports.metric)).find((v) => v.version === model.version);
        return before !== undefined && before.count >= 100;
      });
      assert.ok(before!.count < CLEAN_SAMPLES, `read after the drift began: ${before!.count}`);
      assert.ok(
        before!.mae < 1.5 * model.training.mae,
        `clean MAE ${before!.mae} vs training MAE ${model.training.mae}`,
      );

      await waitFor(
        "features to switch the drift on",
        () => features.lines.some((line) => line.includes("drift on from sample")),
        { timeoutMs: 30_000 },
      );
      const driftAt = Date.now();

      // Prometheus: pending as soon as the 5-minute MAE crosses 1.5 x training, firing 1 min on.
      let pendingAfterMs: number | undefined;
      let firing: Alert | undefined;
      await waitFor("ModelDrift to fire", async () => {
        const alerts = await prometheus!.alerts("ModelDrift");
        const mine = alerts.find((a) => a.labels.model_version === model.version);
        if (mine && pendingAfterMs === undefined) pendingAfterMs = Date.now() - driftAt;
        if (mine?.state === "firing") firing = mine;
        return firing !== undefined;
      }, { timeoutMs: 150_000, intervalMs: 1_000 });
      const firedAfterMs = Date.now() - driftAt;

      const mae5m = await prometheus.query(MAE_5M_BY_VERSION);
      const recorded = await prometheus.query("model_version:ml_absolute_error:mae5m");
      const after = (await versions(ports.metric)).find((v) => v.version === model.version)!;
      console.log(JSON.stringify(
        {
          drift: DRIFT_FEATURES,
          trainingMae: model.training.mae,
          dashboardBefore: before,
          dashboardAfter: after,
          pendingAfterS: (pendingAfterMs ?? Number.NaN) / 1000,
          firingAfterS: firedAfterMs / 1000,
          alert: firing,
          query: MAE_5M_BY_VERSION,
          result: mae5m,
          recordingRule: recorded,
        },
        null,
        2,
      ));

      assert.equal(firing!.labels.severity, "warning");
      assert.ok(Number(firing!.value) > 1.5 * model.training.mae, `alert value ${firing!.value}`);
      assert.equal(mae5m.length, 1);
      assert.equal(mae5m[0].metric.model_version, model.version);
      assert.ok(Number(mae5m[0].value[1]) > 1.5 * model.training.mae);
      assert.ok(
        after.mae > before!.mae * 1.5,
        `dashboard MAE of ${model.version} moved from ${before!.mae} to ${after.mae}`,
      );
      assert.ok(firedAfterMs < 150_000);
    } finally {
      await prometheus?.stop();
      await pipeline.dispose();
      await stopSharedBroker();
    }
  },
});
