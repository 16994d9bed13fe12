/**
 * The one list of the pipeline's services. Everything that names the services derives from it:
 * permissions (`launch.ts`), the `deno.json` tasks (checked by `launch_test.ts`), the images
 * (`images/dockerfile.ts`, `images/build.sh services`), `deno task start`, the tests and the
 * bench. To add a service, write its `manifest.ts` (see `stack/manifest.ts`) and add it here.
 *
 * @module
 */
import { controllerManifest } from "../controller/manifest.ts";
import { featuresManifest } from "../features/manifest.ts";
import { metricManifest } from "../metric/manifest.ts";
import { modelManifest } from "../model/manifest.ts";
import type { Schema } from "../stack/config.ts";
import type { ServiceManifest } from "../stack/manifest.ts";

/** The services, in the order they start (consumers may start in any order; features is first). */
export const SERVICES = [
  featuresManifest,
  modelManifest,
  metricManifest,
  controllerManifest,
] as const;

/** A service's name. */
export type ServiceName = typeof SERVICES[number]["name"];

/** The service's manifest. */
export type Manifest = typeof SERVICES[number];

/** The names, in order. */
export const SERVICE_NAMES: readonly ServiceName[] = SERVICES.map((service) => service.name);

/** Whether `name` is one of the services. */
export function isServiceName(name: string | undefined): name is ServiceName {
  return SERVICES.some((service) => service.name === name);
}

/** The manifest of `name`. */
export function manifestOf(name: ServiceName): ServiceManifest<ServiceName> {
  return SERVICES.find((service) => service.name === name)!;
}

/** The services' config schemas, by name. */
export const SCHEMAS = Object.fromEntries(
  SERVICES.map((service) => [service.name, service.schema]),
) as unknown as Readonly<Record<ServiceName, Schema>>;
