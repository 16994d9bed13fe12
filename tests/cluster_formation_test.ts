/**
 * RabbitMQ cluster formation as `docker-stack.cluster.yml` sets it up, on three private nodes on
 * this machine: each node gets the files of `ops/cluster/` that its Swarm member gets:
 * `rabbitmq-cluster.conf` with the Swarm node names (rabbit@rabbitmq, rabbit@rabbitmq-2,
 * rabbit@rabbitmq-3) replaced by the local nodes' names, then `rabbitmq-join.conf` for members 2
 * and 3, or `rabbitmq-seed.config` as member 1's advanced.config.
 *
 * The order that used to split the cluster in two: members 2 and 3 blank and up first, member 1
 * later than its own retry window. Members 2 and 3 must wait without forming a cluster of their
 * own; once member 1 comes, the three must be one cluster. Then member 1 loses its data: blank
 * again, it must join the other two, not form a cluster beside them.
 *
 * Along the way, the members' health check (`ops/images/rabbitmq/member-health.sh`): healthy while
 * blank members wait and once the cluster runs; unhealthy only for a member its peers count as
 * running whose rabbit app is not (stuck at boot, rabbitmq-server#6034), made here by starting a
 * stopped member's database alone.
 *
 * And the watch for a blocked `global:sync` (`ops/images/rabbitmq/global-hang-watch.sh`, the fix
 * of rabbitmq-server#6046 that 3.10.8 lacks): given to a member while it boots, once only, and
 * gone once it has booted; a member that has booted gets none. What it does when a sync blocks is
 * seen in `deno task e2e:cluster`, where members come back after a drain or a killed node.
 */
import assert from "node:assert/strict";
import {
  freePort,
  type LocalNode,
  nodeCtl,
  prepareLocalNode,
  startDetached,
} from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const CLUSTER_DIR = new URL("../ops/cluster/", import.meta.url);
/** The node names in the files, member 1 first. */
const SWARM_NAMES = ["rabbit@rabbitmq", "rabbit@rabbitmq-2", "rabbit@rabbitmq-3"];
const WAITING = "Trying to join discovered peers failed";

/** The number a member's file sets for `key`: `key = N` (rabbitmq.conf) or `{key, N}` (Erlang). */
function setting(text: string, key: string): number {
  const conf = text.match(new RegExp(`^cluster_formation\\.${key}\\s*=\\s*(\\d+)\\s*$`, "m"));
  const erlang = text.match(new RegExp(`^\\s*\\{${key},\\s*(\\d+)\\}`, "m"));
  const match = conf ?? erlang;
  assert.ok(match, `${key} is not set`);
  return Number(match[1]);
}

const read = (file: string) => Deno.readTextFile(new URL(file, CLUSTER_DIR));

/**
 * Gives member `index` (0-based) its files: rabbitmq-cluster.conf (Swarm names replaced by
 * `names`) and rabbitmq-join.conf appended to its rabbitmq.conf, rabbitmq-seed.config as member
 * 1's advanced.config. Returns the environment that makes rabbitmq-server read them.
 */
async function configure(node: LocalNode, index: number, names: string[]) {
  const cluster = (await read("rabbitmq-cluster.conf")).replace(
    /rabbit@rabbitmq(-[23])?\b/g,
    (name) => {
      const i = SWARM_NAMES.indexOf(name);
      assert.ok(i >= 0, `unknown member ${name} in rabbitmq-cluster.conf`);
      return names[i];
    },
  );
  const role = index === 0 ? "" : await read("rabbitmq-join.conf");
  await Deno.writeTextFile(`${node.dir}/rabbitmq.conf`, `${cluster}\n${role}`, { append: true });
  if (index !== 0) return node.env;
  const advanced = `${node.dir}/advanced.config`;
  await Deno.writeTextFile(advanced, await read("rabbitmq-seed.config"));
  return { ...node.env, RABBITMQ_ADVANCED_CONFIG_FILE: advanced };
}

/** Stops a node; one still in peer discovery ignores `rabbitmqctl stop`, so it is killed. */
async function halt(node: LocalNode): Promise<void> {
  const pid = Number(await Deno.readTextFile(`${node.dir}/rabbitmq.pid`).catch(() => ""));
  if (pid > 0) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* not running */ }
  }
}

/** The node's own log (info level): what peer discovery did. */
function log(node: LocalNode): Promise<string> {
  return Deno.readTextFile(`${node.dir}/log/${node.nodeName}.log`).catch(() => "");
}

const HEALTH_SCRIPT = new URL("../ops/images/rabbitmq/member-health.sh", import.meta.url).pathname;

/** The members' health check run against `node`: its exit code and what it printed. */
async function health(node: LocalNode): Promise<{ code: number; said: string }> {
  const output = await new Deno.Command("sh", {
    args: [HEALTH_SCRIPT],
    env: node.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(output.stdout).trim();
  return { code: output.code, said };
}

const WATCH_SCRIPT = new URL("../ops/images/rabbitmq/global-hang-watch.sh", import.meta.url)
  .pathname;

/** The entrypoint's watch for a blocked global:sync, given to `node`: what it said on stderr. */
async function watchBoot(node: LocalNode): Promise<string> {
  // The CLI's cookie is the node's user's, as in the image.
  const output = await new Deno.Command("sh", {
    args: [WATCH_SCRIPT],
    env: { ...node.env, HOME: "/var/lib/rabbitmq" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return new TextDecoder().decode(output.stderr).trim();
}

/** The watch's process on `node`, or "undefined" when it has none. */
async function watchProcess(node: LocalNode): Promise<string> {
  return (await nodeCtl(node)("eval", "whereis(ml_global_hang_watch).")).trim();
}

/**
 * Starts member 1 with ports picked now. It starts a minute after the others (and again later),
 * and a port picked free when it was prepared may have been taken since by a test running beside
 * this one: the node then never comes up (a CI run of a4e06cd saw member 1 "not running at all").
 * Its name stays: the others' files name it, and the cluster finds it by name through epmd.
 */
function startWithFreshPorts(node: LocalNode, env: Record<string, string>): Promise<void> {
  return startDetached(node, {
    ...env,
    RABBITMQ_NODE_PORT: String(freePort()),
    RABBITMQ_DIST_PORT: String(freePort()),
  });
}

/** The last lines of each node's log, for a failure's message. */
async function logTails(nodes: LocalNode[], lines = 12): Promise<string> {
  const tails = await Promise.all(nodes.map(async (node) => {
    const text = (await log(node)).trimEnd().split("\n").slice(-lines).join("\n");
    return `--- ${node.nodeName}'s log, last ${lines} lines:\n${text || "(empty)"}`;
  }));
  return tails.join("\n");
}

/** Whether the rabbit application runs: false while a blank node waits in peer discovery. */
async function running(node: LocalNode): Promise<boolean> {
  return (await nodeCtl(node)("eval", "rabbit:is_running().")).trim() === "true";
}

async function runningNodes(node: LocalNode): Promise<string[]> {
  const status = JSON.parse(await nodeCtl(node)("cluster_status", "--formatter", "json"));
  return [...status.running_nodes].sort();
}

/**
 * Waits until every node runs and each sees all of them as its cluster; a node that sees another
 * cluster keeps failing the check, and the timeout says which node saw what.
 */
async function waitOneCluster(what: string, nodes: LocalNode[], timeoutMs: number) {
  const names = nodes.map((node) => node.nodeName).sort();
  await waitFor(what, async () => {
    for (const node of nodes) {
      if (!(await running(node))) return false;
      assert.deepEqual(await runningNodes(node), names, `${node.nodeName}'s view`);
    }
    return true;
  }, { timeoutMs, intervalMs: 1000 }).catch(async (error) => {
    // The logs say why a node is not up; the summary goes last, where a cut output keeps it.
    throw new Error(`${await logTails(nodes)}\n${error.message}`);
  });
}

Deno.test({
  name:
    "blank members 2 and 3 started first wait for member 1 instead of forming a cluster, then all three form one; a blank member 1 rejoins it",
  ...integration,
  async fn() {
    const nodes = await Promise.all([0, 1, 2].map(() => prepareLocalNode({ logLevel: "info" })));
    const names = nodes.map((n) => n.nodeName);
    const [seed, ...joiners] = nodes;
    try {
      const envs = await Promise.all(nodes.map((node, i) => configure(node, i, names)));
      const [seedEnv, ...joinerEnvs] = envs;
      const seedFile = await read("rabbitmq-seed.config");
      const seedWindowMs = setting(seedFile, "discovery_retry_limit") *
        setting(seedFile, "discovery_retry_interval");
      const joinFile = await read("rabbitmq-join.conf");
      const joinerTries = setting(joinFile, "discovery_retry_limit");

      // Members 2 and 3 first, blank; member 1 not at all yet.
      await Promise.all(joiners.map((node, i) => startDetached(node, joinerEnvs[i])));
      await waitFor("members 2 and 3 to wait for a peer", async () => {
        const logs = await Promise.all(joiners.map(log));
        return logs.some((text) => text.includes(WAITING));
      }, { timeoutMs: 60_000, intervalMs: 500 });
      // Longer than member 1 ever looks before it forms a cluster alone: members 2 and 3 have
      // had every chance to do the same, and must not have.
      await new Promise((resolve) => setTimeout(resolve, seedWindowMs + 10_000));
      for (const node of joiners) {
        assert.equal(
          await running(node),
          false,
          `${node.nodeName} formed a cluster without member 1`,
        );
      }
      const left = [
        ...(await Promise.all(joiners.map(log))).join("\n").matchAll(
          /Will retry after a delay of \d+ ms, (\d+) retries left/g,
        ),
      ].map((m) => Number(m[1]));
      // Still far from giving up: the window is rabbitmq-join.conf's, not the default 10.
      assert.ok(
        left.length > 0 && Math.min(...left) > joinerTries - 100,
        `retries left: ${left.join(", ")} of ${joinerTries}`,
      );
      // Waiting blank is healthy: Swarm must leave them be.
      for (const node of joiners) assert.deepEqual(await health(node), { code: 0, said: "" });
      // Booting, they get the watch for a blocked global:sync; asked twice, still one watch.
      for (const node of joiners) {
        assert.equal(
          await watchBoot(node),
          "ml-global-hang-watch: watching the boot for a blocked global:sync",
        );
        assert.match(await watchProcess(node), /^<\d+\.\d+\.\d+>$/);
        assert.equal(await watchBoot(node), "");
      }

      // Member 1, blank too: it finds no clustered peer, forms the cluster, the others join it.
      const seedStarted = Date.now();
      await startWithFreshPorts(seed, seedEnv);
      await waitOneCluster(
        "all three members running in one cluster",
        nodes,
        seedWindowMs + 90_000,
      );
      console.log(
        `one cluster ${((Date.now() - seedStarted) / 1000).toFixed(1)} s after member 1 started`,
      );
      assert.match(await log(seed), /Starting as a blank standalone node|Discovered no peer/);
      for (const node of joiners) assert.match(await log(node), /selected for auto-clustering/);
      // Booted: the watch has ended (it looks every 10 s), and a booted member gets none.
      await waitFor("the watches to end", async () => {
        const left = await Promise.all(joiners.map(watchProcess));
        return left.every((pid) => pid === "undefined");
      }, { timeoutMs: 30_000, intervalMs: 1000 });
      assert.equal(await watchBoot(seed), "");
      assert.equal(await watchProcess(seed), "undefined");

      // Member 1 loses its data while 2 and 3 run (a replaced disk): blank again, it must join
      // them, not form a second cluster beside them.
      await halt(seed);
      await waitFor("member 1 to be down", async () => !(await running(seed).catch(() => false)), {
        timeoutMs: 30_000,
        intervalMs: 500,
      });
      await Deno.remove(`${seed.dir}/mnesia`, { recursive: true });
      await Deno.rename(`${seed.dir}/log/${seed.nodeName}.log`, `${seed.dir}/log/first-boot.log`);
      await startWithFreshPorts(seed, seedEnv);
      await waitOneCluster("blank member 1 back in the cluster", nodes, seedWindowMs + 90_000);
      const rejoined = await log(seed);
      assert.match(rejoined, /selected for auto-clustering/);
      assert.doesNotMatch(rejoined, /Starting as a blank standalone node|Discovered no peer/);

      // The health check: every member healthy; one stopped by an operator still is; one whose
      // database its peers count as running while its rabbit app is down is stuck, and says so.
      for (const node of nodes) assert.deepEqual(await health(node), { code: 0, said: "" });
      const [member2] = joiners;
      await nodeCtl(member2)("stop_app");
      assert.deepEqual(await health(member2), { code: 0, said: "" });
      await nodeCtl(member2)("eval", "mnesia:start().");
      await waitFor(
        "member 2's database counted as running by its peers",
        async () => (await runningNodes(seed)).includes(member2.nodeName),
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      assert.deepEqual(await health(member2), {
        code: 1,
        said: "stuck at boot: a peer counts this member as running, but its rabbit app is not",
      });
      assert.deepEqual(await health(seed), { code: 0, said: "" });
      await nodeCtl(member2)("eval", "mnesia:stop().");
      await nodeCtl(member2)("start_app");
      assert.deepEqual(await health(member2), { code: 0, said: "" });
    } finally {
      await Promise.all(nodes.map(async (node) => {
        await halt(node);
        await Deno.remove(node.dir, { recursive: true }).catch(() => {});
      }));
    }
  },
});
