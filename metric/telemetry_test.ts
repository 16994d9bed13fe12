import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createRecorderMetrics, registerPairingGauges } from "./telemetry.ts";
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
