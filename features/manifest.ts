/**
 * The features service, said once (see `stack/manifest.ts`).
 *
 * @module
 */
import type { ServiceManifest } from "../stack/manifest.ts";
import { FEATURES_HTTP_PORT, featuresSchema } from "./config.ts";

export const featuresManifest = {
  name: "features",
  summary: "samples rows of the diabetes data set and publishes them as feature messages.",
  schema: featuresSchema,
  httpPort: FEATURES_HTTP_PORT,
  path: { key: "data", field: featuresSchema.dataPath, use: "read" },
  alsoReads: [],
  image: "ml-features",
} as const satisfies ServiceManifest<"features">;
