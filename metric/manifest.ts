/**
 * The metric service, said once (see `stack/manifest.ts`).
 *
 * @module
 */
import type { ServiceManifest } from "../stack/manifest.ts";
import { METRIC_HTTP_PORT, metricSchema } from "./config.ts";

export const metricManifest = {
  name: "metric",
  summary: "pairs predictions with true values, appends them to logs/*.csv, serves the dashboard.",
  schema: metricSchema,
  httpPort: METRIC_HTTP_PORT,
  path: { key: "logDir", field: metricSchema.logDir, use: "write" },
  // What renders `error_distribution.png`: resvg's WebAssembly and the font (the renderer's
  // RESVG_WASM and PNG_FONT; ops/launch_test.ts checks they match). Named here rather than
  // imported so that a launcher does not load resvg.
  alsoReads: ["metric/vendor/resvg/index_bg.wasm", "metric/vendor/fonts/DejaVuSans.ttf"],
  image: "ml-metric",
  volume: "logs",
} as const satisfies ServiceManifest<"metric">;
