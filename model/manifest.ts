/**
 * The model service, said once (see `stack/manifest.ts`).
 *
 * @module
 */
import type { ServiceManifest } from "../stack/manifest.ts";
import { MODEL_HTTP_PORT, modelSchema } from "./config.ts";

export const modelManifest = {
  name: "model",
  summary: "consumes feature messages, predicts with model/model.json, publishes predictions.",
  schema: modelSchema,
  httpPort: MODEL_HTTP_PORT,
  path: { key: "model", field: modelSchema.modelPath, use: "read" },
  alsoReads: [],
  image: "ml-model",
} as const satisfies ServiceManifest<"model">;
