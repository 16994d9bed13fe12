/**
 * The model service's settings.
 *
 * @module
 */
import { commonSchema } from "../stack/common_config.ts";
import { intField, textField } from "../stack/config.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../stack/contracts.ts";
import { MODEL_PATH } from "./artifact.ts";

/** Port of the model's `/healthz`, `/readyz` and `/metrics`. */
export const MODEL_HTTP_PORT = 8002;

/** Every variable the model service reads. */
export const modelSchema = {
  ...commonSchema({ httpPort: MODEL_HTTP_PORT, prefetch: 50 }),
  modelPath: textField("MODEL_PATH", MODEL_PATH, {
    doc: "Model artifact written by `deno task train`",
  }),
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
