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
import { type EnvGetter, envNames, loadConfig, type Schema } from "../stack/config.ts";
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
   * cluster (each listed in `AMQP_URL`). Ignored for a service without one.
   */
  broker: string | readonly string[];
  httpPort: number;
  /** E.g. `/run/secrets` in a container. */
  extraRead?: readonly string[];
  /** Overrides of path settings (data, model, log dir). */
  paths?: { data?: string; model?: string; logDir?: string };
  /** `host:port` of what it reaches besides the broker (default: its manifest's defaults). */
  reach?: readonly string[];
}

/** Whether `service` talks to the broker: its schema has the broker's settings. */
export function usesBroker(service: ServiceName): boolean {
  return "amqpUrls" in manifestOf(service).schema;
}

/** `host:port` of an HTTP URL, as `--allow-net` names it. */
function httpAddress(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** The permissions of `service` placed as `placement`, from its manifest. */
export function permissionsOf(service: ServiceName, placement: Placement): Permissions {
  const { path, alsoReads, reaches = [] } = manifestOf(service);
  const net = [
    ...(usesBroker(service) ? [placement.broker].flat() : []),
    ...(placement.reach ?? reaches.map((field) => httpAddress(field.parse(undefined)))),
    // Its port, and loopback, where Deno's server listens behind the relay that bounds
    // connections (stack/http_limits.ts) on a port the system picks.
    ...(placement.httpPort > 0 ? [`0.0.0.0:${placement.httpPort}`, "127.0.0.1"] : []),
  ];
  const own = path ? [placement.paths?.[path.key] ?? path.field.parse(undefined)] : [];
  return {
    net,
    read: [...own, ...alsoReads, ...(placement.extraRead ?? [])],
    write: path?.use === "write" ? own : [],
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
 * address, the HTTP port, the one path it reads or writes and what else it
 * reaches. A launcher reads only these (and may only read these).
 */
export function placementSchema(service: ServiceName): Schema {
  const { schema, path, reaches = [] } = manifestOf(service);
  return {
    ...("amqpUrls" in schema ? { amqpUrls: schema.amqpUrls } : {}),
    httpPort: schema.httpPort,
    ...(path ? { path: path.field } : {}),
    ...Object.fromEntries(reaches.map((field) => [field.env, field])),
  };
}

/**
 * Where `service` runs when started by hand, from the same variables it will
 * read itself (`AMQP_URL`, `HTTP_PORT`, its path setting, what it reaches),
 * with the same defaults. Throws the config's `ConfigError` when one of them
 * is invalid.
 */
export function placementFromEnv(service: ServiceName, get: EnvGetter): Placement {
  const { path, reaches = [] } = manifestOf(service);
  const values: Record<string, unknown> = loadConfig(placementSchema(service), get);
  const urls = (values.amqpUrls ?? []) as readonly URL[];
  return {
    broker: urls.map((url) => brokerAddress(url)),
    httpPort: values.httpPort as number,
    ...(path ? { paths: { [path.key]: values.path as string } } : {}),
    ...(reaches.length > 0
      ? { reach: reaches.map((field) => httpAddress(values[field.env] as URL)) }
      : {}),
  };
}
