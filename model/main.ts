/**
 * model: consumes `features`, predicts with the trained linear regression,
 * publishes to `y_pred`, and acks the input only after the broker confirmed
 * the prediction. Replicas on the one queue share the work.
 *
 * @module
 */
import { Gauge } from "prom-client";
import { sleep } from "../stack/async.ts";
import { DeadLetter } from "../stack/broker.ts";
import { QUEUES } from "../stack/contracts.ts";
import { runService } from "../stack/service.ts";
import { loadModelArtifact } from "./artifact.ts";
import { modelSchema } from "./config.ts";
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
    broker.consume(QUEUES.features, async (delivery) => {
      const receivedAtMs = wallClockMs();
      const result = infer(delivery.body, delivery.properties, {
        model,
        replica,
        maxBodyBytes: config.maxBodyBytes,
        now: new Date(),
        receivedAtMs,
      });
      if (!result.ok) throw new DeadLetter(result.code, result.reason);
      if (config.inferenceDelayMs > 0) await sleep(config.inferenceDelayMs, signal);
      const properties = stampPredictedAt(result.value.properties, wallClockMs());
      await broker.publish(QUEUES.yPred, result.value.body, properties);
      log.debug("predicted {prediction} for {id}", {
        id: result.value.id,
        prediction: result.value.prediction,
      });
    });
    return {};
  },
});
