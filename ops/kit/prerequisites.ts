/**
 * What a throwaway RabbitMQ needs on this machine, checked just before one starts
 * (`ops/kit/pipeline.ts`'s `startBroker`, so `deno task start`, the integration tests and the
 * bench alike). The work is `ops/install.sh start`, the same script `.ci/run` installs with: on
 * Debian or Ubuntu as root it installs a missing `rabbitmq-server` after saying so; elsewhere it
 * prints the exact command to run (the package, or a RabbitMQ container and `AMQP_URL`) and
 * this throws. Needs `--allow-run=bash`.
 *
 * @module
 */

const INSTALL_SH = new URL("../install.sh", import.meta.url).pathname;

/** Resolves once `rabbitmq-server` can be run; throws, after install.sh said why, when it cannot. */
export async function ensureRabbitmqServer(): Promise<void> {
  const { code } = await new Deno.Command("bash", {
    args: [INSTALL_SH, "start"],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot start a throwaway RabbitMQ as rabbitmq-server is missing (bash ${INSTALL_SH} start ` +
        `exited ${code}; what to run instead is printed above)`,
    );
  }
}
