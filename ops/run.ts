/**
 * Starts one service, or a broker tool, by hand, with exactly the permissions it needs for the
 * broker and port it is given: `deno task features|model|metric|dlq`.
 *
 * ```sh
 * AMQP_URL=amqp://guest:guest@rabbitmq.internal:5672 HTTP_PORT=9002 deno task model
 * ```
 *
 * Reads `AMQP_URL`, `HTTP_PORT` and the service's path setting (`DATA_PATH`,
 * `MODEL_PATH` or `LOG_DIR`) with the service's own defaults, derives the
 * flags with `runArgs()` (`ops/launch.ts`), prints them on stderr, and
 * runs `deno run <flags> SERVICE/main.ts` in the foreground: same stdio,
 * SIGINT and SIGTERM passed on, its exit code returned. The service reads the
 * rest of its environment itself.
 *
 * @module
 */
import { ConfigError, type EnvGetter, envNames, loadConfig } from "../stack/config.ts";
import { dlqPermissionFlags, dlqSchema } from "./dlq.ts";
import { placementFromEnv, placementSchema, runArgs } from "./launch.ts";
import { isServiceName, SERVICE_NAMES } from "./services.ts";

const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** The `*_FILE` variables naming the broker's credentials (Docker secrets or local files). */
const SECRET_FILE_VARIABLES = ["AMQP_USER_FILE", "AMQP_PASSWORD_FILE", "AMQP_CA_FILE"] as const;

/**
 * A broker tool `deno task` starts through this launcher: what the launcher reads to place it,
 * and the `deno run` arguments for that placement.
 */
interface Tool {
  readonly reads: readonly string[];
  denoArgs(get: EnvGetter, args: readonly string[]): string[];
}

/** The broker tools: like the services, each may reach only the broker `AMQP_URL` names. */
export const TOOLS: Readonly<Record<string, Tool>> = {
  dlq: {
    reads: [dlqSchema().amqpUrls.env, ...SECRET_FILE_VARIABLES],
    denoArgs(get, args) {
      // Of a cluster's members dlq talks to the first listed: any member serves every queue.
      const { amqpUrls } = loadConfig({ amqpUrls: dlqSchema().amqpUrls }, get);
      const files = SECRET_FILE_VARIABLES.flatMap((name) => get(name) || []);
      return ["run", ...dlqPermissionFlags(amqpUrls[0], files), "ops/dlq.ts", ...args];
    },
  },
};

/**
 * The variables the launcher reads for `name` (what its `deno.json` task must allow):
 * a service's placement, or a tool's.
 */
export function launcherEnv(name: string): string[] {
  if (isServiceName(name)) return envNames(placementSchema(name));
  return [...TOOLS[name].reads];
}

/**
 * The `deno` arguments that start `args[0]` (a service, or a tool with its own arguments after
 * it) from the variables `get` reads. Throws a `RangeError` naming the choices when `args` names
 * neither, and the config's `ConfigError` when a variable is invalid.
 */
export function launchArgs(args: readonly string[], get: EnvGetter): string[] {
  const [name, ...rest] = args;
  if (isServiceName(name) && rest.length === 0) return runArgs(name, placementFromEnv(name, get));
  if (name !== undefined && Object.hasOwn(TOOLS, name)) return TOOLS[name].denoArgs(get, rest);
  throw new RangeError(
    `Cannot launch as the arguments must be one service (${SERVICE_NAMES.join(", ")}) or a tool (${
      Object.keys(TOOLS).join(", ")
    }) and its arguments: current value is "${args.join(" ")}"`,
  );
}

/** Runs the program named by `args` to its end; resolves to the exit code to exit with. */
export async function run(args: readonly string[]): Promise<number> {
  let denoArgs: string[];
  try {
    denoArgs = launchArgs(args, (name) => Deno.env.get(name));
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof RangeError)) throw error;
    console.error(error instanceof ConfigError ? `${args[0]}: ${error.message}` : error.message);
    return 2;
  }
  const service = args[0];
  console.error(`${service}: deno ${denoArgs.join(" ")}`);

  const child = new Deno.Command("deno", {
    args: denoArgs,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // On Ctrl-C the terminal signals the child too; passing it on again is
  // harmless (a service's shutdown runs once) and covers a lone `kill`.
  const forwards = SIGNALS.map((signal) => {
    const forward = () => {
      try {
        child.kill(signal);
      } catch {
        // Already exited: its status is on the way.
      }
    };
    Deno.addSignalListener(signal, forward);
    return () => Deno.removeSignalListener(signal, forward);
  });
  try {
    return (await child.status).code;
  } finally {
    for (const remove of forwards) remove();
  }
}

if (import.meta.main) Deno.exit(await run(Deno.args));
