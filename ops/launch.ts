/**
 * How each service is run: its narrow Deno permissions, derived from its
 * config schema and where it runs. `deno task features|model|metric` (through
 * `ops/run.ts`), `deno task start`, the integration tests and the
 * benchmarks launch services through here, and a test checks that the
 * Dockerfiles grant exactly the same permissions.
 *
 * @module
 */
import { featuresSchema } from "../features/config.ts";
import { metricSchema } from "../metric/config.ts";
import { modelSchema } from "../model/config.ts";
import { brokerAddress } from "../stack/common_config.ts";
import { type EnvGetter, envNames, type Field, loadConfig, type Schema } from "../stack/config.ts";

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
  /**
   * `host:port` of the broker, e.g. `rabbitmq:5672`, or of every member of a
   * cluster (each listed in `AMQP_URL`).
   */
  broker: string | readonly string[];
  httpPort: number;
  /** E.g. `/run/secrets` in a container. */
  extraRead?: readonly string[];
  /** Overrides of path settings (data, model, log dir). */
  paths?: { data?: string; model?: string; logDir?: string };
}

/**
 * What metric reads to render `error_distribution.png`: resvg's WebAssembly and the font
 * (`RESVG_WASM` and `PNG_FONT` of metric/png.ts, which this module does not import so that the
 * launcher does not load resvg).
 */
export const METRIC_PNG_READ: readonly string[] = [
  "metric/vendor/resvg/index_bg.wasm",
  "metric/vendor/fonts/DejaVuSans.ttf",
];

/** The permissions of `service` placed as `placement`. */
export function permissionsOf(service: ServiceName, placement: Placement): Permissions {
  const net = [
    ...[placement.broker].flat(),
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
      return { net, read: [logDir, ...METRIC_PNG_READ, ...extra], write: [logDir], env };
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

/**
 * The fields of `service`'s schema that decide its permissions: the broker
 * address, the HTTP port and the one path it reads or writes. A launcher
 * reads only these (and may only read these).
 */
export function placementSchema(
  service: ServiceName,
): { amqpUrls: Field<readonly URL[]>; httpPort: Field<number>; path: Field<string> } {
  switch (service) {
    case "features":
      return { ...pick(featuresSchema), path: featuresSchema.dataPath };
    case "model":
      return { ...pick(modelSchema), path: modelSchema.modelPath };
    case "metric":
      return { ...pick(metricSchema), path: metricSchema.logDir };
  }
}

function pick(schema: { amqpUrls: Field<readonly URL[]>; httpPort: Field<number> }) {
  return { amqpUrls: schema.amqpUrls, httpPort: schema.httpPort };
}

/** Which of {@link Placement}'s paths each service's path setting is. */
const PATH_KEY = { features: "data", model: "model", metric: "logDir" } as const;

/**
 * Where `service` runs when started by hand, from the same variables it will
 * read itself (`AMQP_URL`, `HTTP_PORT`, its path setting), with the same
 * defaults. Throws the config's `ConfigError` when one of them is invalid.
 */
export function placementFromEnv(service: ServiceName, get: EnvGetter): Placement {
  const { amqpUrls, httpPort, path } = loadConfig(placementSchema(service), get);
  return {
    broker: amqpUrls.map((url) => brokerAddress(url)),
    httpPort,
    paths: { [PATH_KEY[service]]: path },
  };
}
