import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  createPeriodicMetrics,
  createPlotMetrics,
  createRecorderMetrics,
  registerPairingGauges,
} from "./telemetry.ts";
import { pairRecord } from "./metric_log/format.ts";

function record(id: string, yPred: number, modelVersion: string, sentAtMs?: number) {
  return pairRecord({
    id,
    yTrue: 100,
    yPred,
    modelVersion,
    replica: "model-a",
    sentAtMs,
    pairedAtMs: 10_000,
  });
}

Deno.test("createRecorderMetrics() exposes counters and histograms PromQL can window", async (t) => {
  const registry = new Registry();
  const metrics = createRecorderMetrics(registry);
  metrics.recorded(record("a", 103, "v1", 9_990));
  metrics.recorded(record("b", 145, "v1", 9_000));
  metrics.recorded(record("c", 401, "v2"));
  metrics.duplicate("y_true");
  const text = await registry.metrics();
  const has = (line: string) => assert.ok(text.includes(line), `${line} missing from:\n${text}`);

  await t.step("samples are a counter per model version", () => {
    assert.match(text, /^# TYPE ml_metric_samples_total counter$/m);
    has('ml_metric_samples_total{model_version="v1"} 2');
    has('ml_metric_samples_total{model_version="v2"} 1');
  });
  await t.step("absolute errors land in buckets, with sum and count for the MAE", () => {
    has('ml_metric_absolute_error_bucket{le="5",model_version="v1"} 1');
    has('ml_metric_absolute_error_bucket{le="50",model_version="v1"} 2');
    has('ml_metric_absolute_error_bucket{le="300",model_version="v2"} 0');
    has('ml_metric_absolute_error_bucket{le="+Inf",model_version="v2"} 1');
    has('ml_metric_absolute_error_sum{model_version="v1"} 48');
    has('ml_metric_absolute_error_count{model_version="v1"} 2');
  });
  await t.step("latency is observed in seconds, and only when the send time is known", () => {
    has('ml_metric_latency_seconds_bucket{le="0.01"} 1');
    has("ml_metric_latency_seconds_sum 1.01");
    has("ml_metric_latency_seconds_count 2");
  });
  await t.step("duplicates are counted by queue", () => {
    has('ml_metric_duplicates_dropped_total{queue="y_true"} 1');
    has('ml_metric_duplicates_dropped_total{queue="y_pred"} 0');
  });
});

Deno.test("registerPairingGauges() reads the running MAE and the unpaired count at each scrape", async () => {
  const registry = new Registry();
  const stats = { mae: 12.5 };
  let unpaired = 3;
  registerPairingGauges(registry, { stats, unpaired: () => unpaired });
  assert.match(await registry.metrics(), /^ml_metric_mae 12\.5$/m);
  assert.match(await registry.metrics(), /^ml_metric_unpaired 3$/m);
  stats.mae = 7;
  unpaired = 0;
  const text = await registry.metrics();
  assert.match(text, /^ml_metric_mae 7$/m);
  assert.match(text, /^ml_metric_unpaired 0$/m);
});

Deno.test("createRecorderMetrics() keeps a histogram per hop that resolves milliseconds", async (t) => {
  const registry = new Registry();
  const metrics = createRecorderMetrics(registry);
  metrics.hops!({ features_to_model: 1.2, model: 0.3, model_to_metric: 2.5, metric: 0.8 });
  metrics.hops!({ features_to_model: 4, model: 0.2, model_to_metric: -3, metric: Number.NaN });
  const text = await registry.metrics();
  const has = (line: string) => assert.ok(text.includes(line), `${line} missing from:\n${text}`);

  await t.step("each hop is observed in seconds, in buckets fine between 1 and 50 ms", () => {
    has('ml_metric_hop_seconds_bucket{le="0.001",hop="features_to_model"} 0');
    has('ml_metric_hop_seconds_bucket{le="0.0015",hop="features_to_model"} 1');
    has('ml_metric_hop_seconds_bucket{le="0.005",hop="features_to_model"} 2');
    has('ml_metric_hop_seconds_count{hop="model"} 2');
    has('ml_metric_hop_seconds_count{hop="metric"} 1');
  });
  await t.step("a negative hop (clock skew) is counted, not observed", () => {
    has('ml_metric_hop_seconds_count{hop="model_to_metric"} 1');
    has('ml_metric_hop_negative_total{hop="model_to_metric"} 1');
    has('ml_metric_hop_negative_total{hop="model"} 0');
  });
  await t.step("the dashboard reads them back in ms", async () => {
    const histograms = await metrics.hopHistograms();
    const model = histograms.model;
    assert.equal(model.cumulative.at(-1), 2);
    assert.ok(Math.abs(model.sumMs - 0.5) < 1e-9, `sum ${model.sumMs}`);
    assert.equal(model.bounds[2], 1);
    assert.equal(model.bounds.at(-1), Number.POSITIVE_INFINITY);
    assert.equal(histograms.metric.cumulative.at(-1), 1);
  });
});

Deno.test("createPeriodicMetrics() and createPlotMetrics() say what the timers and the worker cost", async () => {
  const registry = new Registry();
  const observe = createPeriodicMetrics(registry);
  const plot = createPlotMetrics(registry);
  observe("plot", 0.0004);
  observe("expiry", 0.00002);
  assert.match(await registry.metrics(), /^ml_metric_plot_worker_running 0$/m);
  plot.rendered(42);
  plot.restarted();
  plot.running(true);
  const text = await registry.metrics();
  assert.match(text, /^ml_metric_periodic_job_seconds_bucket\{le="0.0005",job="plot"\} 1$/m);
  assert.match(text, /^ml_metric_periodic_job_seconds_bucket\{le="0.00025",job="plot"\} 0$/m);
  assert.match(text, /^ml_metric_periodic_job_seconds_count\{job="expiry"\} 1$/m);
  assert.match(text, /^ml_metric_plot_render_seconds_bucket\{le="0.05"\} 1$/m);
  assert.match(text, /^ml_metric_plot_worker_restarts_total 1$/m);
  assert.match(text, /^ml_metric_plot_worker_running 1$/m);
});
