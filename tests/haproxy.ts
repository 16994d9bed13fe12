/**
 * Debian's `haproxy` binary running one of the stack's own configuration files, for the tests
 * of the Docker API filter and of the gateway: started in the foreground on a free port,
 * awaited until it listens, stopped with SIGTERM. Its log is printed with SHOW_PROXY_LOG=1.
 *
 * @module
 */
import { freePort } from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";

/** A running haproxy. */
export interface Haproxy {
  /** The port of `LISTEN`. */
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts haproxy with `configs` (`-f` each, in order) and `env`, plus `LISTEN` and
 * `HEALTH_LISTEN` on free loopback ports; resolves once `LISTEN` accepts connections.
 */
export async function startHaproxy(
  configs: readonly string[],
  env: Readonly<Record<string, string>>,
): Promise<Haproxy> {
  const port = freePort();
  const child = new Deno.Command("haproxy", {
    args: ["-db", ...configs.flatMap((config) => ["-f", config])],
    env: {
      LISTEN: `127.0.0.1:${port}`,
      HEALTH_LISTEN: `127.0.0.1:${freePort()}`,
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const stop = async () => {
    child.kill("SIGTERM");
    await child.status;
    const [stdout, stderr] = await output;
    if (Deno.env.get("SHOW_PROXY_LOG")) console.log(stdout, stderr);
  };
  try {
    await waitFor("haproxy to listen", async () => {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    }, { timeoutMs: 10_000, intervalMs: 50 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}
