/**
 * How each service is run: its narrow Deno permissions, derived from its
 * manifest (`ops/services.ts`) and where it runs. `deno task features|model|metric`
 * (through `ops/run.ts`), `deno task start`, the integration tests, the
 * benchmarks and the images' CMD (`ops/images/dockerfile.ts`) all launch
 * services through here.
 *
 * @module
 */
import { brokerAddress } from "../stack/common_config.ts";
import { type EnvGetter, envNames, type Field, loadConfig } from "../stack/config.ts";
import { manifestOf, SCHEMAS, type ServiceName } from "./services.ts";

export { SCHEMAS, type ServiceName };

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

/** The permissions of `service` placed as `placement`, from its manifest. */
export function permissionsOf(service: ServiceName, placement: Placement): Permissions {
  const { path, alsoReads } = manifestOf(service);
  const net = [
    ...[placement.broker].flat(),
    ...(placement.httpPort > 0 ? [`0.0.0.0:${placement.httpPort}`] : []),
  ];
  const own = placement.paths?.[path.key] ?? path.field.parse(undefined);
  return {
    net,
    read: [own, ...alsoReads, ...(placement.extraRead ?? [])],
    write: path.use === "write" ? [own] : [],
    env: envNames(SCHEMAS[service]),
  };
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
  const { schema, path } = manifestOf(service);
  return { amqpUrls: schema.amqpUrls, httpPort: schema.httpPort, path: path.field };
}

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
    paths: { [manifestOf(service).path.key]: path },
  };
}
