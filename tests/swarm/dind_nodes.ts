/**
 * A Swarm of Docker-in-Docker nodes on this machine's engine, for tests/swarm/e2e_cluster.ts:
 * node containers (image from `build.sh node`) on one bridge network with fixed addresses, a
 * registry beside them (ml-registry), three managers, and kill / recreate of a whole node.
 *
 * Everything it creates on the outer engine is named `mlc-…`, and `removeAll` takes it all away.
 * Facts behind the flags: /work/shared/docs/multinode-swarm.md (`--privileged` is refused here).
 */
import { type Docker, dockerOn, sh, waitFor } from "./swarm_shell.ts";

/** The nodes' bridge network on the outer engine; not in 10.0.0.0/8 (Swarm's overlay pool). */
export const NETWORK = "mlc-nodes";
const SUBNET_PREFIX = "172.28.213";
/**
 * The registry as the nodes see it: over TLS, its certificate checked against the CA in each
 * node's /etc/docker/certs.d/mlc-registry:5000/ (no --insecure-registry), with a login.
 */
export const REGISTRY_FOR_NODES = "mlc-registry:5000";
const REGISTRY_CONTAINER = "mlc-registry";
const REGISTRY_VOLUME = "mlc-registry-data";
/** Where each node's engine also listens, on the outer machine: <dir>/<n>/docker.sock. */
const SOCKET_DIR = "/run/mlc-nodes";
/** The registry's login, certificate and CA (ops/secrets/registry.sh), made for each run. */
const REGISTRY_SECRETS = `${SOCKET_DIR}/registry`;
/** Mounted on every node as /etc/docker/certs.d: the CA the nodes verify the registry with. */
const NODE_CERTS_DIR = `${SOCKET_DIR}/certs.d`;

/** The registry's login and the CA its certificate chains to, as startRegistry made them. */
export interface RegistryAccess {
  readonly user: string;
  readonly password: string;
  readonly ca: string;
}

/** The outer engine. */
export const outer: Docker = dockerOn();

/** One node: its container, address, and a `docker` that talks to its engine. */
export interface SwarmNode {
  readonly index: number;
  /** The container's and the Swarm node's name: mlc-node-<index>. */
  readonly name: string;
  readonly ip: string;
  readonly docker: Docker;
}

export function swarmNode(index: number): SwarmNode {
  return {
    index,
    name: `mlc-node-${index}`,
    ip: `${SUBNET_PREFIX}.${10 + index}`,
    docker: dockerOn(`unix://${SOCKET_DIR}/${index}/docker.sock`),
  };
}

/**
 * The bridge network, and the registry on it, published on 127.0.0.1:<port> only (for pushing):
 * TLS, a login for every request, delete off, a read-only root and no capabilities. Resolves
 * once it asks for its login.
 */
export async function startRegistry(port: number): Promise<RegistryAccess> {
  await sh("bash", ["ops/secrets/registry.sh", REGISTRY_SECRETS], {
    env: { REGISTRY_NAMES: REGISTRY_FOR_NODES.split(":")[0] },
  });
  const ca = await Deno.readTextFile(`${REGISTRY_SECRETS}/broker_ca.pem`);
  await Deno.mkdir(`${NODE_CERTS_DIR}/${REGISTRY_FOR_NODES}`, { recursive: true });
  await Deno.writeTextFile(`${NODE_CERTS_DIR}/${REGISTRY_FOR_NODES}/ca.crt`, ca, { mode: 0o444 });
  await outer.run(["network", "create", "--subnet", `${SUBNET_PREFIX}.0/24`, NETWORK]);
  const secret = (
    file: string,
    as: string,
  ) => ["-v", `${REGISTRY_SECRETS}/${file}:/etc/docker/registry/secrets/${as}:ro`];
  await outer.run([
    "run",
    "-d",
    "--name",
    REGISTRY_CONTAINER,
    "--network",
    NETWORK,
    "--ip",
    `${SUBNET_PREFIX}.5`,
    // The outer engine pushes through 127.0.0.1 (an engine does not verify a registry on a
    // loopback address); the nodes pull from REGISTRY_FOR_NODES, verified.
    "-p",
    `127.0.0.1:${port}:5000`,
    "--read-only",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--pids-limit",
    "200",
    "-v",
    `${REGISTRY_VOLUME}:/var/lib/docker-registry`,
    ...secret("registry_htpasswd", "htpasswd"),
    ...secret("registry_tls.crt", "tls.crt"),
    ...secret("registry_tls.key", "tls.key"),
    "ml-registry:2.8",
  ]);
  const client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    await waitFor("the registry to ask for its login", async () => {
      try {
        const response = await fetch(`https://127.0.0.1:${port}/v2/`, { client });
        await response.body?.cancel();
        return response.status === 401;
      } catch {
        return false;
      }
    }, 30_000);
  } finally {
    client.close();
  }
  const password = (await Deno.readTextFile(`${REGISTRY_SECRETS}/registry_password`)).trim();
  return { user: "ml", password, ca };
}

/**
 * Starts node `node` from `image`, its /var/lib/docker on the volume mlc-node-<n>-docker (kept
 * across a kill: recreating the container is a reboot of the same machine). Resolves once its
 * engine answers.
 */
export async function startNode(node: SwarmNode, image: string): Promise<void> {
  await Deno.mkdir(`${SOCKET_DIR}/${node.index}`, { recursive: true });
  await outer.run([
    "run",
    "-d",
    "--name",
    node.name,
    "--hostname",
    node.name,
    "--network",
    NETWORK,
    "--ip",
    node.ip,
    "--cap-add",
    "ALL",
    "--cap-drop",
    "SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--device",
    "/dev/net/tun",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "-v",
    "/lib/modules:/lib/modules:ro",
    "-v",
    `${node.name}-docker:/var/lib/docker`,
    "-v",
    `${SOCKET_DIR}/${node.index}:/run/mlc`,
    "-v",
    `${NODE_CERTS_DIR}:/etc/docker/certs.d:ro`,
    image,
    "dockerd",
    "--storage-driver=overlay2",
    "-H",
    "unix:///var/run/docker.sock",
    "-H",
    "unix:///run/mlc/docker.sock",
  ]);
  await waitFor(
    `${node.name}'s engine`,
    async () => (await node.docker.run(["info"], { allowFail: true })).ok,
    60_000,
  );
}

/** Kills node `node` as a power cut would: the container and everything in it, at once. */
export async function killNode(node: SwarmNode): Promise<void> {
  await outer.run(["kill", node.name]);
}

/**
 * Brings a killed node back as a reboot does: a new container on the same /var/lib/docker
 * volume and address (a killed Docker-in-Docker container does not restart cleanly).
 */
export async function rebootNode(node: SwarmNode, image: string): Promise<void> {
  await outer.run(["rm", "-f", node.name]);
  await startNode(node, image);
}

/** Swarm with every node a manager: init on the first, join the others with its token. */
export async function formSwarm(nodes: readonly SwarmNode[]): Promise<void> {
  const [first, ...others] = nodes;
  await first.docker.run(["swarm", "init", "--advertise-addr", first.ip]);
  const token = await first.docker.out("swarm", "join-token", "-q", "manager");
  for (const node of others) {
    await node.docker.run([
      "swarm",
      "join",
      "--token",
      token,
      "--advertise-addr",
      node.ip,
      `${first.ip}:2377`,
    ]);
  }
  await waitFor("every node Ready and a reachable manager", async () => {
    const lines = (await first.docker.out(
      "node",
      "ls",
      "--format",
      "{{.Hostname}} {{.Status}} {{.ManagerStatus}}",
    )).split("\n");
    return lines.length === nodes.length &&
      lines.every((line) => / Ready (Leader|Reachable)$/.test(line));
  });
}

/** Removes every mlc- container, volume and network this module creates, and the sockets. */
export async function removeAll(nodes: readonly SwarmNode[]): Promise<void> {
  const containers = [...nodes.map((node) => node.name), REGISTRY_CONTAINER];
  await outer.run(["rm", "-f", "-v", ...containers], { allowFail: true });
  await outer.run(["volume", "rm", ...nodes.map((n) => `${n.name}-docker`), REGISTRY_VOLUME], {
    allowFail: true,
  });
  await outer.run(["network", "rm", NETWORK], { allowFail: true });
  await Deno.remove(SOCKET_DIR, { recursive: true }).catch(() => {});
}

/** The path, on this machine, of a named volume in node `node`'s engine. */
export async function nodeVolumePath(node: SwarmNode, volume: string): Promise<string> {
  const root = await outer.out(
    "volume",
    "inspect",
    `${node.name}-docker`,
    "--format",
    "{{.Mountpoint}}",
  );
  return `${root}/volumes/${volume}/_data`;
}

/** Runs `bash ops/images/build.sh node` and returns the node image's name. */
export async function buildNodeImage(): Promise<string> {
  const { stdout } = await sh("bash", ["ops/images/build.sh", "node"]);
  return stdout.trim().split("\n").at(-1)!;
}
