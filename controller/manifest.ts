/**
 * The controller, said once (see `stack/manifest.ts`). It has no broker and no path of its own:
 * what it reaches is Prometheus and the Docker API filter, at the addresses its settings name.
 *
 * @module
 */
import type { ServiceManifest } from "../stack/manifest.ts";
import { CONTROLLER_HTTP_PORT, controllerSchema } from "./config.ts";

export const controllerManifest = {
  name: "controller",
  summary: "scales the services that declare a policy in their labels, on their backlog; " +
    "rolls out (and, on drift, retrains) the model.",
  schema: controllerSchema,
  httpPort: CONTROLLER_HTTP_PORT,
  reaches: [controllerSchema.prometheusUrl, controllerSchema.dockerUrl, controllerSchema.metricUrl],
  alsoReads: [],
  // The retrain on drift (retrain.ts): the fit and the artifact checks model's `deno task train
  // --from` uses, and the rows' format metric writes. Nothing of theirs runs but these.
  alsoImports: [
    "model/linear.ts",
    "model/artifact.ts",
    "model/retrain.ts",
    "metric/metric_log/format.ts",
  ],
  image: "ml-controller",
} as const satisfies ServiceManifest<"controller">;
