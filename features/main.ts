/**
 * features: publishes random rows of the diabetes data set, the feature
 * vector to `features` and the true target to `y_true`, on a steady
 * interval. A sample counts as sent when the broker confirmed both halves.
 *
 * @module
 */
import { sleep } from "../stack/async.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { runService } from "../stack/service.ts";
import { featuresSchema } from "./config.ts";
import { intervalMsOf } from "./pacer.ts";
import { pickSample, seededRandom } from "./sampler.ts";
import { sendSamples } from "./send_samples.ts";
import { squareWaveOf, waveSchedule } from "./square_wave.ts";
import { createSendMetrics } from "./telemetry.ts";

await runService({
  name: "features",
  schema: featuresSchema,
  async setup({ config, log, broker, replica, telemetry }) {
    const dataset = await loadDiabetes(config.dataPath);
    const seed = config.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
    const random = seededRandom(seed);
    const intervalMs = intervalMsOf(config);
    const wave = squareWaveOf(config.squareWave, intervalMs);
    // With a wave, the pace changes at each phase; the e2e times its steps from this line.
    const pace = wave
      ? waveSchedule(
        wave,
        ({ level, intervalMs, lengthMs }) =>
          log.info("square wave: {phase} at {rate} samples/s for {ms} ms", {
            phase: level,
            rate: Number((1000 / intervalMs).toFixed(2)),
            ms: lengthMs,
          }),
      )
      : intervalMs;
    log.info("loaded {rows} rows; seed {seed}, interval {interval} ms, count {count}", {
      rows: dataset.y.length,
      seed,
      interval: intervalMs,
      count: config.count || "unlimited",
    });
    const sendMetrics = createSendMetrics(telemetry.registry);
    return {
      run: (signal) =>
        sendSamples({
          count: config.count,
          intervalMs: pace,
          maxInFlight: config.maxInFlight,
          progressEveryMs: config.progressEveryMs,
          replica,
          pickSample: () => pickSample(dataset, random),
          drift: {
            features: config.driftFeatures,
            target: config.driftTarget,
            afterSamples: config.driftAfterSamples,
            afterMs: config.driftAfterMs,
          },
          newId: () => crypto.randomUUID(),
          now: () => performance.now(),
          wallClockMs: () => performance.timeOrigin + performance.now(),
          sleep,
          publish: (m) => broker.publish(m.queue, m.body, m.properties),
          connected: () => broker.connected,
          onRetry: sendMetrics.retried,
          log,
          signal,
        }),
    };
  },
});
