/**
 * The features service's settings.
 *
 * @module
 */
import { commonSchema } from "../stack/common_config.ts";
import { type Field, intField, optionalIntField, textField } from "../stack/config.ts";
import { DIABETES_CSV_PATH } from "../stack/dataset.ts";
import { type ColumnShift, parseFeatureDrift, parseTargetDrift, type Shift } from "./drift.ts";
import { parseSquareWave, type WaveSetting } from "./square_wave.ts";

// A drift setting: its text parsed by features/drift.ts, errors in config's wording.
function driftField<T>(env: string, doc: string, parse: (text: string) => T): Field<T> {
  return {
    env,
    doc,
    parse(raw) {
      try {
        return parse(raw ?? "");
      } catch (error) {
        throw new SyntaxError(
          `is invalid, as ${(error as Error).message}: current value is ${JSON.stringify(raw)}`,
        );
      }
    },
  };
}

/** Port of the features service's `/healthz`, `/readyz` and `/metrics`. */
export const FEATURES_HTTP_PORT = 8001;

/** Every variable the features service reads. */
export const featuresSchema = {
  ...commonSchema({ httpPort: FEATURES_HTTP_PORT, prefetch: 1 }),
  intervalMs: intField("INTERVAL_MS", 1000, {
    min: 0,
    max: 86_400_000,
    doc: "Time between samples; 0 sends as fast as confirms allow",
  }),
  ratePerSec: intField("RATE_PER_SEC", 0, {
    min: 0,
    max: 100_000,
    doc:
      "Samples per second on a steady schedule, finer than INTERVAL_MS; 0 leaves INTERVAL_MS in charge",
  }),
  count: intField("COUNT", 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Samples to send before exiting; 0 sends forever",
  }),
  seed: optionalIntField("SEED", {
    min: 0,
    max: 4_294_967_295,
    doc: "Seed for a reproducible sequence of rows (default: random)",
  }),
  dataPath: textField("DATA_PATH", DIABETES_CSV_PATH, { doc: "The data set CSV" }),
  // Past the confirm round trip a wider window only lets features run ahead
  // of the consumers, and the broker writes a backed-up queue of persistent
  // messages to disk. Measurements: docs/benchmarks.md, "In-flight window".
  maxInFlight: intField("MAX_IN_FLIGHT", 32, {
    min: 1,
    max: 10_000,
    doc: "Samples published but not yet confirmed, at most",
  }),
  driftFeatures: driftField<readonly ColumnShift[]>(
    "DRIFT_FEATURES",
    "Drift the inputs: comma-separated `column op number`, op one of `+ - *` (`bmi*3,s5+0.1`)",
    parseFeatureDrift,
  ),
  driftTarget: driftField<Shift | undefined>(
    "DRIFT_TARGET",
    "Drift the labels: `op number` applied to every true target (`*1.5`, `+30`)",
    parseTargetDrift,
  ),
  driftAfterSamples: intField("DRIFT_AFTER_SAMPLES", 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Samples sent before the drift starts (and DRIFT_AFTER_MS passed)",
  }),
  driftAfterMs: intField("DRIFT_AFTER_MS", 0, {
    min: 0,
    max: 86_400_000 * 365,
    doc: "Milliseconds of sending before the drift starts (and DRIFT_AFTER_SAMPLES sent)",
  }),
  squareWave: {
    env: "SQUARE_WAVE",
    doc: "A square wave of load, `rate/highMs/lowMs` (`60/90000/600000`): that rate for highMs, " +
      "then the usual pace for lowMs, and again, starting high; unset: none",
    parse: (raw) => parseSquareWave(raw ?? ""),
  } satisfies Field<WaveSetting | undefined>,
  progressEveryMs: intField("PROGRESS_EVERY_MS", 10_000, {
    min: 0,
    max: 86_400_000,
    doc: "How often to log progress (sent so far, rate); 0 turns it off",
  }),
};
