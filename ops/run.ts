/**
 * Starts one service by hand, with exactly the permissions it needs for the
 * broker and port it is given: `deno task features|model|metric`.
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
import { ConfigError } from "../stack/config.ts";
import { placementFromEnv, runArgs, SCHEMAS, type ServiceName } from "./launch.ts";

const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM"];

function isService(name: string | undefined): name is ServiceName {
  return name !== undefined && Object.hasOwn(SCHEMAS, name);
}

/** Runs the service named by `args` to its end; resolves to the exit code to exit with. */
export async function run(args: readonly string[]): Promise<number> {
  const [service, ...rest] = args;
  if (!isService(service) || rest.length > 0) {
    console.error(
      `Cannot launch as the argument must be one service, ${
        Object.keys(SCHEMAS).join(", ")
      }: current value is "${args.join(" ")}"`,
    );
    return 2;
  }
  let denoArgs: string[];
  try {
    denoArgs = runArgs(service, placementFromEnv(service, (name) => Deno.env.get(name)));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${service}: ${error.message}`);
    return 2;
  }
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
