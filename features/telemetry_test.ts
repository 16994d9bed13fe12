import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { createSendMetrics } from "./telemetry.ts";

Deno.test("createSendMetrics() counts retries by queue and reason, every series from zero", async () => {
  const registry = new Registry();
  const metrics = createSendMetrics(registry);
  metrics.retried("refused", "y_true");
  metrics.retried("refused", "y_true");
  metrics.retried("failed", "features");
  const text = await registry.metrics();
  const value = (queue: string, reason: string) =>
    Number(
      text.match(
        new RegExp(
          `ml_features_publish_retries_total\\{queue="${queue}",reason="${reason}"\\} (\\d+)`,
        ),
      )?.[1],
    );
  assert.equal(value("y_true", "refused"), 2);
  assert.equal(value("features", "failed"), 1);
  assert.equal(value("features", "blocked"), 0);
  assert.equal(value("y_true", "blocked"), 0);
});
