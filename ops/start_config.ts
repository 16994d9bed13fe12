/**
 * What `deno task start` (`ops/start.ts`) decides before it starts anything:
 * each service's configuration and environment, read from the launcher's
 * own environment, and how long a stop may take. Pure: the environment comes
 * in as a getter.
 *
 * @module
 */
import { featuresSchema } from "../features/config.ts";
import { metricSchema } from "../metric/config.ts";
import { modelSchema } from "../model/config.ts";
import {
  ConfigError,
  type ConfigOf,
  type EnvGetter,
  envNames,
  loadConfig,
  type Schema,
} from "../stack/config.ts";
import { SCHEMAS, type ServiceName } from "./launch.ts";

/** Every service's configuration, as it will read it itself. */
export interface Configs {
  readonly features: ConfigOf<typeof featuresSchema>;
  readonly model: ConfigOf<typeof modelSchema>;
  readonly metric: ConfigOf<typeof metricSchema>;
}

/** What {@link loadConfigs} found: every configuration, or every problem. */
export type ConfigsOrProblems =
  | { readonly configs: Configs; readonly problems?: undefined }
  | { readonly configs?: undefined; readonly problems: readonly string[] };

/** Variables the launcher sets itself for each service (from the broker it uses and the port it picked). */
const SET_BY_LAUNCHER: readonly string[] = ["AMQP_URL", "HTTP_PORT"];

/**
 * `service`'s environment: what the user set of its variables, plus our
 * overrides: a 1 s interval for features, and the readable log format when
 * a person watches (`terminal`) and has not chosen one.
 */
export function serviceEnv(
  service: ServiceName,
  get: EnvGetter,
  terminal: boolean,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of envNames(SCHEMAS[service])) {
    const value = get(name);
    if (value !== undefined) env[name] = value;
  }
  if (service === "features") env.INTERVAL_MS = get("INTERVAL_MS") ?? "1000";
  // Read by the services once they support it; ignored until then.
  if (terminal && get("LOG_FORMAT") === undefined) env.LOG_FORMAT = "pretty";
  return env;
}

/**
 * The variables `service` is spawned with on top of the derived ones:
 * {@link serviceEnv} without `AMQP_URL` and `HTTP_PORT`, which the launcher
 * sets from the broker it uses and the port it picked.
 */
export function spawnEnv(
  service: ServiceName,
  get: EnvGetter,
  terminal: boolean,
): Record<string, string> {
  const env = serviceEnv(service, get, terminal);
  for (const name of SET_BY_LAUNCHER) delete env[name];
  return env;
}

/**
 * Every service's configuration from the environment `get` reads, or every
 * problem, each once with the services it concerns (`AMQP_URL …
 * (features, model, metric)`). Checked before the broker takes its seconds
 * to start.
 */
export function loadConfigs(get: EnvGetter, terminal: boolean): ConfigsOrProblems {
  const problems = new Map<string, string[]>();
  const check = <S extends Schema>(service: ServiceName, schema: S) => {
    const env = serviceEnv(service, get, terminal);
    try {
      return loadConfig(schema, (name) => env[name]);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      for (const problem of error.problems) {
        problems.set(problem, [...problems.get(problem) ?? [], service]);
      }
    }
  };
  const features = check("features", featuresSchema);
  const model = check("model", modelSchema);
  const metric = check("metric", metricSchema);
  if (features && model && metric) return { configs: { features, model, metric } };
  return {
    problems: [...problems].map(([problem, services]) => `${problem} (${services.join(", ")})`),
  };
}

/** How long a stop waits before killing: the longest drain deadline of the services, plus `killGraceMs`. */
export function stopGraceMs(configs: Configs, killGraceMs: number): number {
  const { features, model, metric } = configs;
  return Math.max(features.shutdownTimeoutMs, model.shutdownTimeoutMs, metric.shutdownTimeoutMs) +
    killGraceMs;
}
