/**
 * How each service is run: its narrow Deno permissions, derived from its
 * config schema, and a helper to spawn it as a subprocess. `deno task
 * start`, the integration tests and the benchmarks launch services through
 * here, and a test checks that `deno.json`'s tasks and the Dockerfiles
 * grant exactly the same permissions.
 *
 * @module
 */
import { featuresSchema } from "../../features/config.ts";
import { metricSchema } from "../../metric/config.ts";
import { modelSchema } from "../../model/config.ts";
import { envNames, type Schema } from "../config.ts";

/** The three services. */
export type ServiceName = "features" | "model" | "metric";

/** The services' config schemas, by name. */
export const SCHEMAS: Record<ServiceName, Schema> = {
  features: featuresSchema,
  model: modelSchema,
  metric: metricSchema,
};

/** Where a service may reach and what it may touch. */
export interface Permissions {
  readonly net: readonly string[];
  readonly read: readonly string[];
  readonly write: readonly string[];
  readonly env: readonly string[];
}

/** Where the service runs: its broker, its HTTP port, extra readable paths. */
export interface Placement {
  /** `host:port` of the broker, e.g. `rabbitmq:5672` in the stack. */
  broker: string;
  httpPort: number;
  /** E.g. `/run/secrets` in a container. */
  extraRead?: readonly string[];
  /** Overrides of path settings (data, model, log dir). */
  paths?: { data?: string; model?: string; logDir?: string };
}

/** The permissions of `service` placed as `placement`. */
export function permissionsOf(service: ServiceName, placement: Placement): Permissions {
  const net = [
    placement.broker,
    ...(placement.httpPort > 0 ? [`0.0.0.0:${placement.httpPort}`] : []),
  ];
  const extra = placement.extraRead ?? [];
  const env = envNames(SCHEMAS[service]);
  switch (service) {
    case "features":
      return {
        net,
        read: [placement.paths?.data ?? "stack/data/diabetes.csv", ...extra],
        write: [],
        env,
      };
    case "model":
      return {
        net,
        read: [placement.paths?.model ?? "model/model.json", ...extra],
        write: [],
        env,
      };
    case "metric": {
      const logDir = placement.paths?.logDir ?? "logs";
      return { net, read: [logDir, ...extra], write: [logDir], env };
    }
  }
}

/** `--allow-*` flags for `deno run`; never `-A`. */
export function permissionFlags(permissions: Permissions): string[] {
  const flag = (name: string, values: readonly string[]) =>
    values.length > 0 ? [`--allow-${name}=${values.join(",")}`] : [];
  return [
    ...flag("net", permissions.net),
    ...flag("read", permissions.read),
    ...flag("write", permissions.write),
    ...flag("env", permissions.env),
  ];
}

/** The `deno run` arguments that start `service` (without the leading `deno`). */
export function runArgs(service: ServiceName, placement: Placement): string[] {
  return ["run", ...permissionFlags(permissionsOf(service, placement)), `${service}/main.ts`];
}
