/**
 * The model service's settings.
 *
 * @module
 */
import { commonSchema } from "../stack/common_config.ts";
import { choiceField, intField, textField } from "../stack/config.ts";
import { DEFAULT_MAX_BODY_BYTES, QUEUES } from "../stack/contracts.ts";
import { MODEL_PATH } from "./artifact.ts";

/** Port of the model's `/healthz`, `/readyz` and `/metrics`. */
export const MODEL_HTTP_PORT = 8002;

/**
 * What a model replica serves: the stable pipeline, or a candidate in shadow that sees a copy of
 * every sample and whose predictions metric pairs apart (`stack/contracts.ts`).
 */
export const MODEL_ROLES = ["stable", "candidate"] as const;
/** One of {@link MODEL_ROLES}. */
export type ModelRole = typeof MODEL_ROLES[number];

/** The queue a model of `role` consumes and the one it publishes to. */
export function queuesOf(role: ModelRole): { readonly input: string; readonly output: string } {
  return role === "stable"
    ? { input: QUEUES.features, output: QUEUES.yPred }
    : { input: QUEUES.featuresShadow, output: QUEUES.yPredShadow };
}

/** Every variable the model service reads. */
export const modelSchema = {
  ...commonSchema({ httpPort: MODEL_HTTP_PORT, prefetch: 50 }),
  modelPath: textField("MODEL_PATH", MODEL_PATH, {
    doc: "Model artifact written by `deno task train`",
  }),
  role: choiceField(
    "MODEL_ROLE",
    "stable",
    MODEL_ROLES,
    "`stable` serves `features` → `y_pred`; `candidate` shadows it: `features_shadow` → `y_pred_shadow`",
  ),
  inferenceDelayMs: intField("INFERENCE_DELAY_MS", 0, {
    min: 0,
    max: 60_000,
    doc: "Extra time per prediction, to emulate a heavy model in scaling experiments",
  }),
  maxBodyBytes: intField("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, {
    min: 64,
    max: 1_048_576,
    doc: "Larger `features` bodies are dead-lettered unread",
  }),
};
