/**
 * The metric service's settings.
 *
 * @module
 */
import { commonSchema } from "../stack/common_config.ts";
import { intField, textField } from "../stack/config.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../stack/contracts.ts";
import { DEFAULT_ROTATION } from "./metric_log/rotation.ts";

const DAY_MS = 86_400_000;

/** Port of the metric service's `/healthz`, `/readyz`, `/metrics` and dashboard. */
export const METRIC_HTTP_PORT = 8003;

/** Every variable the metric service reads. */
export const metricSchema = {
  // Prefetch bounds how many halves may wait for their other half: it must
  // cover the skew between y_true and y_pred (model replicas, redeliveries).
  ...commonSchema({ httpPort: METRIC_HTTP_PORT, prefetch: 1000 }),
  logDir: textField("LOG_DIR", "logs", {
    doc: "Where metric_log.csv, labels_log.txt and error_distribution.svg are written",
  }),
  // Rotation and retention of metric_log.csv and labels_log.txt (metric_log/rotation.ts).
  logRotateBytes: intField("LOG_ROTATE_BYTES", DEFAULT_ROTATION.rotateBytes, {
    min: 4096,
    max: 2 ** 40,
    doc: "Size at which metric_log.csv and labels_log.txt each rotate to a numbered file",
  }),
  logRotateMs: intField("LOG_ROTATE_MS", DEFAULT_ROTATION.rotateMs, {
    min: 0,
    max: 366 * DAY_MS,
    doc: "Period they also rotate at, UTC-aligned (a day: a file a day at least); 0: by size only",
  }),
  logRetentionBytes: intField("LOG_RETENTION_BYTES", DEFAULT_ROTATION.retainBytes, {
    min: 4096,
    max: 2 ** 50,
    doc: "Most bytes each log's files keep together; the oldest rotated files go first",
  }),
  logRetentionMs: intField("LOG_RETENTION_MS", DEFAULT_ROTATION.retainMs, {
    min: 0,
    max: 3660 * DAY_MS,
    doc: "Age past which a rotated file goes; 0: by size only",
  }),
  snapshotEveryMs: intField("SNAPSHOT_EVERY_MS", 60_000, {
    min: 100,
    max: 3_600_000,
    doc:
      "How often metric_state.json (statistics, recent ids) is rewritten; a restart reads only the rows since",
  }),
  unpairedTtlMs: intField("UNPAIRED_TTL_MS", 300_000, {
    min: 100,
    max: 86_400_000,
    doc: "How long a truth or prediction waits for its other half before it is dead-lettered",
  }),
  maxBodyBytes: intField("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, {
    min: 64,
    max: 1_048_576,
    doc: "Larger bodies are dead-lettered unread",
  }),
  maeLogEveryMs: intField("MAE_LOG_EVERY_MS", 5_000, {
    min: 0,
    max: 86_400_000,
    doc: "How often to log the running MAE; 0 turns it off",
  }),
  plotEveryMs: intField("PLOT_EVERY_MS", 10_000, {
    min: 0,
    max: 86_400_000,
    doc:
      "How often to rewrite error_distribution.svg when new samples came in; 0 writes it only at shutdown",
  }),
  pngIdleMs: intField("PNG_IDLE_MS", 60_000, {
    min: 1000,
    max: 86_400_000,
    doc:
      "How long the worker that renders /error_distribution.png on request lives after the last request",
  }),
};
