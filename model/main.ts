/**
 * model: consumes `features`, predicts with the trained linear regression,
 * publishes to `y_pred`, and acks the input only after the broker confirmed
 * the prediction. Replicas on the one queue share the work. A prediction the
 * broker refuses (`y_pred` full, or a quorum queue whose leader it cannot
 * reach yet) is published again until confirmed, the input held meanwhile:
 * the sample is good, so it must not be dead-lettered for it.
 *
 * With `MODEL_ROLE=candidate` the same program shadows the stable one: it
 * opens the copy of `features` (`SHADOW_COPY`) on every connect and predicts
 * from `features_shadow` into `y_pred_shadow`; the broker ends the copy when
 * the last candidate's consumer goes. Input that is not a sample is skipped
 * with a log line, not dead-lettered: the stable replica dead-letters the
 * original.
 *
 * @module
 */
import { Counter, Gauge } from "prom-client";
import { sleep } from "../stack/async.ts";
import { DeadLetter } from "../stack/broker.ts";
import { publishUntilConfirmed, RETRY_REASONS } from "../stack/publish_until_confirmed.ts";
import { runService } from "../stack/service.ts";
import { openShadowCopy } from "../stack/topology.ts";
import { loadModelArtifact } from "./artifact.ts";
import { modelSchema, queuesOf } from "./config.ts";
import { infer, stampPredictedAt } from "./inference.ts";

/** Wall-clock ms (fractional) on a monotonic base: the hop time stamps metric subtracts. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

await runService({
  name: "model",
  schema: modelSchema,
  async setup({ config, log, broker, replica, signal, telemetry }) {
    const model = await loadModelArtifact(config.modelPath);
    log.info("loaded model {version} ({rows} training rows, MAE {mae})", {
      version: model.version,
      rows: model.training.rows,
      mae: model.training.mae,
    });
    // The drift alert compares the live MAE of a version with this (alerts.yml, ModelDrift).
    new Gauge({
      name: "ml_model_training_mae",
      help: "Mean absolute error of the loaded model on its training data (model.json)",
      labelNames: ["model_version"],
      registers: [telemetry.registry],
    }).set({ model_version: model.version }, model.training.mae);
    const { input, output } = queuesOf(config.role);
    const candidate = config.role === "candidate";
    const skipped = new Counter({
      name: "ml_model_shadow_skipped_total",
      help:
        "Copies a candidate skipped as not a sample (the stable model dead-letters the original)",
      labelNames: ["reason"],
      registers: [telemetry.registry],
    });
    const retries = new Counter({
      name: "ml_model_publish_retries_total",
      help:
        "Predictions published again, by queue and why (refused: a nack, the queue full or its leader unreachable)",
      labelNames: ["queue", "reason"],
      registers: [telemetry.registry],
    });
    for (const reason of RETRY_REASONS) retries.inc({ queue: output, reason }, 0);
    if (candidate) {
      broker.onConnect(openShadowCopy);
      log.info("shadowing as a candidate: {input} → {output}", { input, output });
    }
    broker.consume(input, async (delivery) => {
      const receivedAtMs = wallClockMs();
      const result = infer(delivery.body, delivery.properties, {
        model,
        replica,
        maxBodyBytes: config.maxBodyBytes,
        now: new Date(),
        receivedAtMs,
      });
      if (!result.ok && candidate) {
        log.warn("skipped a copy that is not a sample ({code}): {reason}", {
          code: result.code,
          reason: result.reason,
        });
        skipped.inc({ reason: result.code });
        return;
      }
      if (!result.ok) throw new DeadLetter(result.code, result.reason);
      if (config.inferenceDelayMs > 0) await sleep(config.inferenceDelayMs, signal);
      const properties = stampPredictedAt(result.value.properties, wallClockMs());
      await publishUntilConfirmed({ queue: output, body: result.value.body, properties }, {
        publish: (m) => broker.publish(m.queue, m.body, m.properties),
        // A failure that is no refusal goes to the broker door, which leaves the input to be
        // redelivered when its channel closed (`stack/settle.ts`); one on a closed channel too.
        giveUp: (reason) => reason === "failed" || !delivery.live,
        sleep: (ms) => sleep(ms),
        onRetry: (reason) => retries.inc({ queue: output, reason }),
        log,
      });
      log.debug("predicted {prediction} for {id}", {
        id: result.value.id,
        prediction: result.value.prediction,
      });
    });
    return {};
  },
});
