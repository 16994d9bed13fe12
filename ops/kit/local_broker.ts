/**
 * A throwaway RabbitMQ for `deno task start`, the integration tests and the
 * benchmarks: the machine's `rabbitmq-server` binary with its own node name,
 * ports and data directory, so it never touches a broker that is already
 * running. Needs Debian's rabbitmq-server package; run as root (the wrapper
 * drops to the `rabbitmq` user, who must own the data directory).
 *
 * @module
 */
import { sleep } from "../../stack/async.ts";
import { POLICIES, setPolicyArgs } from "../../stack/policies.ts";

/** A running throwaway broker. */
export interface LocalBroker {
  /** `amqp://guest:guest@localhost:<port>` (guest works on loopback). */
  readonly url: string;
  readonly port: number;
  readonly nodeName: string;
  /** Management UI port, when enabled. */
  readonly managementPort?: number;
  /** AMQPS port on loopback, when started with `tls`. */
  readonly tlsPort?: number;
  /**
   * Stops the node and starts it again on the same data: queues and
   * persistent messages survive. `whileDown` runs between the two, for a
   * test to look at its clients during the outage; the node comes back
   * even when it throws.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Stops the node and deletes its data directory. */
  stop(): Promise<void>;
  /** `rabbitmqctl -n <node> ...args`, returning stdout; throws on failure. */
  ctl(...args: string[]): Promise<string>;
  /** Sets the pipeline's policies (`stack/policies.ts`) in `vhost`; `/` has them from the start. */
  applyPolicies(vhost: string): Promise<void>;
}

/** A TCP port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const output = await new Deno.Command(command, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `Cannot run '${command} ${args.join(" ")}': exit ${output.code}\n${
        decoder.decode(output.stderr)
      }${decoder.decode(output.stdout)}`,
    );
  }
  return decoder.decode(output.stdout);
}

/** The files and environment of a private node, before it runs. */
export interface LocalNode {
  readonly dir: string;
  readonly port: number;
  readonly nodeName: string;
  readonly managementPort?: number;
  /** The AMQPS port (TLS on loopback), when `tls` was given. */
  readonly tlsPort?: number;
  /** RABBITMQ_* variables that make `rabbitmq-server` and `rabbitmqctl` use this node. */
  readonly env: Record<string, string>;
}

/** How a private node is set up. */
export interface LocalNodeOptions {
  /** Start the management UI on a free port. */
  management?: boolean;
  /** The AMQP port; a free one by default. */
  port?: number;
  /** The log file's level (`<dir>/log/<node>.log`); `warning` by default. */
  logLevel?: "debug" | "info" | "warning" | "error";
  /**
   * Also listen for AMQP over TLS on a free loopback port, with this
   * certificate and key (PEM files the node's user can read; `ops/secrets/tls.sh`).
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
}

/**
 * Prepares a private node: a temp directory (owned by `rabbitmq` when run as
 * root) with its config, plugins and data, and the environment that points
 * `rabbitmq-server` and `rabbitmqctl` at it.
 */
export async function prepareLocalNode(options: LocalNodeOptions = {}): Promise<LocalNode> {
  const port = options.port ?? freePort();
  const distPort = freePort();
  const managementPort = options.management ? freePort() : undefined;
  const tlsPort = options.tls ? freePort() : undefined;
  const nodeName = `ml-${port}@localhost`;
  const dir = await Deno.makeTempDir({ prefix: "ml-rabbitmq-" });
  await Deno.writeTextFile(
    `${dir}/enabled_plugins`,
    managementPort ? "[rabbitmq_management].\n" : "[].\n",
  );
  await Deno.writeTextFile(
    `${dir}/rabbitmq.conf`,
    [
      "log.console = false",
      `log.file.level = ${options.logLevel ?? "warning"}`,
      // Tests fill queues fast; the default 50 MB disk alarm is fine, but do not
      // let a small /tmp block publishers during a benchmark.
      "disk_free_limit.absolute = 50MB",
      ...(managementPort
        ? [`management.tcp.port = ${managementPort}`, "management.tcp.ip = 127.0.0.1"]
        : []),
      ...(options.tls
        ? [
          `listeners.ssl.1 = 127.0.0.1:${tlsPort}`,
          `ssl_options.cacertfile = ${options.tls.caFile}`,
          `ssl_options.certfile = ${options.tls.certFile}`,
          `ssl_options.keyfile = ${options.tls.keyFile}`,
          // Clients log in with a password, not a certificate.
          "ssl_options.verify = verify_none",
          "ssl_options.fail_if_no_peer_cert = false",
        ]
        : []),
    ].join("\n") + "\n",
  );
  const env = {
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: `${dir}/mnesia`,
    RABBITMQ_LOG_BASE: `${dir}/log`,
    RABBITMQ_PID_FILE: `${dir}/rabbitmq.pid`,
    RABBITMQ_ENABLED_PLUGINS_FILE: `${dir}/enabled_plugins`,
    RABBITMQ_CONFIG_FILE: `${dir}/rabbitmq.conf`,
  };
  // Debian's wrapper runs the node as the rabbitmq user: it must own the directory.
  if (Deno.uid() === 0) await run("chown", ["-R", "rabbitmq:rabbitmq", dir]);
  return { dir, port, nodeName, managementPort, tlsPort, env };
}

/** `rabbitmqctl -n <node> ...args` for `node`, returning stdout; throws on failure. */
export function nodeCtl(node: LocalNode): (...args: string[]) => Promise<string> {
  return (...args) => run("rabbitmqctl", ["-n", node.nodeName, ...args], node.env);
}

/**
 * Starts `node`'s server in the background (`rabbitmq-server -detached`) and
 * returns at once, before it has booted; `env` defaults to `node.env`.
 */
export async function startDetached(
  node: LocalNode,
  env: Record<string, string> = node.env,
): Promise<void> {
  await run("rabbitmq-server", ["-detached"], env);
}

/**
 * Starts a private RabbitMQ node and resolves once it accepts connections
 * (about 5–8 s), with the pipeline's policies set in the default vhost.
 * `management: true` also starts the management UI on a free port.
 */
export async function startLocalBroker(
  options: Pick<LocalNodeOptions, "management" | "port" | "tls"> = {},
): Promise<LocalBroker> {
  const node = await prepareLocalNode(options);
  const { dir, port, nodeName, managementPort, tlsPort } = node;
  const ctl = nodeCtl(node);
  const boot = async () => {
    await startDetached(node);
    // -detached returns before the node registers with epmd, and
    // await_startup fails at once on an unknown node: poll until it answers.
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await ctl("--timeout", "60", "await_startup");
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(250);
      }
    }
  };
  const halt = async () => {
    await ctl("stop").catch(() => {});
  };
  const applyPolicies = async (vhost: string) => {
    for (const policy of POLICIES) await ctl(...setPolicyArgs(policy, vhost));
  };
  try {
    await boot();
    await applyPolicies("/");
  } catch (error) {
    await halt();
    throw new Error(
      `Cannot start a local RabbitMQ (node ${nodeName}, data ${dir}): ${(error as Error).message}`,
    );
  }
  return {
    url: `amqp://guest:guest@localhost:${port}`,
    port,
    nodeName,
    managementPort,
    tlsPort,
    ctl,
    applyPolicies,
    async restart(whileDown) {
      await ctl("stop");
      try {
        await whileDown?.();
      } finally {
        await boot();
      }
    },
    async stop() {
      await halt();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
