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
  summary: "scales the services that declare a policy in their labels, on their backlog.",
  schema: controllerSchema,
  httpPort: CONTROLLER_HTTP_PORT,
  reaches: [controllerSchema.prometheusUrl, controllerSchema.dockerUrl],
  alsoReads: [],
  image: "ml-controller",
} as const satisfies ServiceManifest<"controller">;
