import assert from "node:assert/strict";
import { createTelemetry } from "./telemetry.ts";

Deno.test("createTelemetry() exports the process gauges the alert rules read", async () => {
  const telemetry = createTelemetry("model", "model-1", {
    memoryLimitBytes: 128 * 2 ** 20,
    residentBytes: () => 70 * 2 ** 20,
    startTimeSeconds: 1_700_000_000,
  });
  const text = await telemetry.registry.metrics();
  const labels = '{service="model",replica="model-1"}';
  assert.match(text, new RegExp(`^process_resident_memory_bytes${labels} 73400320$`, "m"));
  assert.match(text, new RegExp(`^ml_memory_limit_bytes${labels} 134217728$`, "m"));
  assert.match(text, new RegExp(`^process_start_time_seconds${labels} 1700000000$`, "m"));
});

Deno.test("createTelemetry() reports no memory limit as 0", async () => {
  const text = await createTelemetry("metric", "m", { residentBytes: () => 1 }).registry.metrics();
  assert.match(text, /^ml_memory_limit_bytes\{[^}]*\} 0$/m);
});
