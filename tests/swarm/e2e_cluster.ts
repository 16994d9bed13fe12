/**
 * End-to-end on a three-node Swarm (`deno task e2e:cluster`): three Docker-in-Docker nodes, all
 * managers, images pushed to a registry beside them (ml-registry), the stack deployed with
 * `docker stack deploy -c docker-stack.yml -c docker-stack.cluster.yml ml` (a three-member
 * RabbitMQ cluster; every service's AMQP_URL lists the three members; the work queues are quorum
 * queues with a member on each node, under the policy ml-work-queues), then, with features sending
 * throughout:
 *   a. scale ml_model=6: replicas on all three nodes share the work
 *   b. drain the node of broker member 1 (`rabbitmq`, first in every AMQP_URL): its model
 *      replicas move, its member stops, clients fail over; back to active
 *   c. kill that node (model replicas and member 1): clients fail over, recording goes on
 *   d. reboot it: the broker cluster heals (three members, every quorum queue's members
 *      online), the node takes model tasks again
 *   e. kill the node running metric (and member 2): samples wait in the queues, all recorded
 *      once it is back
 *   f. docker stack rm
 * After each phase: samples lost (sent, confirmed, no CSV row), duplicated (more than one row),
 * wrong (a bad y_true, y_pred or error), all 0 (`assertExactlyOnce`), and the phase's recovery
 * time. Everything made on this machine's engine (mlc-…) is removed at the end, even on failure.
 *
 * Where things run: node 1 is never killed: the test's `docker` commands, features (pinned, so
 * that every confirmed send is in the logs the test counts from) and member 3. Node 2 has member
 * 2, metric and Prometheus (ml.metric). Node 3 has member 1, the one every service tries first.
 *
 * Not named `*_test.ts` so `deno task test:integration` does not pick it up.
 */
import assert from "node:assert/strict";
import { metricLogPath, type PairRecord } from "../../metric/metric_log/format.ts";
import { readMetricLog } from "../../metric/metric_log/reader.ts";
import { jsonLines } from "../../ops/kit/process.ts";
import { assertExactlyOnce, sentSamples } from "../harness.ts";
import { POLICIES, policyOf } from "../../stack/policies.ts";
import { PIPELINE_QUEUES } from "../../stack/topology.ts";
import {
  buildNodeImage,
  formSwarm,
  killNode,
  nodeVolumePath,
  outer,
  rebootNode,
  REGISTRY_FOR_NODES,
  type RegistryAccess,
  removeAll,
  startNode,
  startRegistry,
  swarmNode,
} from "./dind_nodes.ts";
import {
  containersOf,
  converge,
  declaredServices,
  followLogs,
  growth,
  rabbitmqctlJson,
  removeStack,
  replicasRunning,
  secondsSince,
  sh,
  taskNodes,
  waitFor,
} from "./swarm_shell.ts";

const STACK = "ml";
const REGISTRY_PORT = Number(Deno.env.get("MLC_REGISTRY_PORT") ?? "5000");
/**
 * The tag of the images this test builds (services and broker): not the ones the single-node
 * e2e builds and deploys on this machine's engine (`latest`, `3.10`).
 */
const IMAGE_TAG = "mlc-cluster";
const TAGS = { IMAGE_TAG, RABBITMQ_TAG: IMAGE_TAG };
const nodes = [1, 2, 3].map(swarmNode);
const [node1, node2, node3] = nodes;
/** Every command goes through node 1's engine: it is never killed (features runs there). */
const control = node1.docker;
/** The broker member each node carries (its ml.rabbitmq label): member 1 on the node killed. */
const MEMBER_ON = new Map([[node1, "rabbitmq-3"], [node2, "rabbitmq-2"], [node3, "rabbitmq"]]);
/**
 * The wall time this test must stay under, as CI runs it: 15–16 min when every member boots
 * cleanly, and each member stuck at boot (RabbitMQ 3.10.8's hang, healed by the members' health
 * check) adds 3–4 min; CI saw member 1 stuck twice in one run (18.8 min).
 */
const WALL_LIMIT_S = 24 * 60;
/**
 * How long a phase waits for every broker member to run again: a member stuck at boot is replaced
 * by Swarm (its health check) 2.5–3.5 min after it started, then boots in under a minute.
 */
const MEMBER_BACK_MS = 360_000;

interface PhaseResult {
  phase: string;
  recoveryS: number;
  /** Longest time without a new row during the phase, from its start. */
  gapS: number;
  lost: number;
  duplicated: number;
  wrong: number;
}
const results: PhaseResult[] = [];

Deno.test({
  name:
    "the ml stack on three Swarm managers with a RabbitMQ cluster records every sample exactly once through drain, node kills and reboots",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const started = performance.now();
    await removeAll(nodes); // an earlier run's leftovers
    let features: ReturnType<typeof followLogs> | undefined;
    let registry: RegistryAccess | undefined;
    /** The docker CLI's logins for this run only (never the user's ~/.docker). */
    const dockerConfig = await Deno.makeTempDir({ prefix: "mlc-docker-config-" });
    const login = async (server: string, host?: string) => {
      await sh("docker", ["login", "--username", registry!.user, "--password-stdin", server], {
        env: { DOCKER_CONFIG: dockerConfig, ...(host ? { DOCKER_HOST: host } : {}) },
        stdin: registry!.password,
      });
    };
    let metricCsv = "";
    const rows = async (): Promise<PairRecord[]> =>
      metricCsv === "" ? [] : (await readMetricLog(metricCsv)).records;
    const sent = () => sentSamples(jsonLines(features?.lines() ?? []));

    /**
     * Waits until every sample sent so far has a row (up to `timeoutMs`), then counts lost,
     * duplicated and wrong rows among those samples over the whole run, and the longest time
     * without a new row since `since` (a wall-clock ms); asserts them with `assertExactlyOnce`.
     */
    async function tally(phase: string, recoveryS: number, since: number, timeoutMs = 120_000) {
      const ids = sent();
      await waitFor(`metric to record the ${ids.size} samples sent`, async () => {
        const recorded = new Set((await rows()).map((r) => r.id));
        return [...ids.keys()].every((id) => recorded.has(id));
      }, timeoutMs).catch(() => {}); // counted as lost below
      const all = await rows();
      // Rows of samples whose send is not in the logs yet are the next phase's.
      const mine = all.filter((row) => ids.has(row.id));
      const count = new Map<string, number>();
      for (const row of mine) count.set(row.id, (count.get(row.id) ?? 0) + 1);
      let wrong = 0;
      for (const row of mine) {
        await assertExactlyOnce([row], new Map([[row.id, ids.get(row.id)!]])).catch(() => wrong++);
      }
      // From the phase's start, so that a phase whose first row comes late (metric's node down)
      // shows that wait too.
      const times = [since, ...all.map((r) => r.pairedAtMs).filter((ms) => ms >= since)]
        .sort((a, b) => a - b);
      let gap = 0;
      let gapAt = since;
      for (let i = 1; i < times.length; i++) {
        if (times[i] - times[i - 1] > gap) [gap, gapAt] = [times[i] - times[i - 1], times[i - 1]];
      }
      const lost = [...ids.keys()].filter((id) => !count.has(id));
      if (lost.length > 0) console.log(await saidOf(lost.slice(0, 10)));
      const result: PhaseResult = {
        phase,
        recoveryS,
        gapS: Math.round(gap / 100) / 10,
        lost: lost.length,
        duplicated: [...count.values()].filter((n) => n > 1).length,
        wrong,
      };
      results.push(result);
      console.log(
        `phase ${phase}: recovery ${recoveryS} s, longest time without a row ${result.gapS} s ` +
          `(from ${((gapAt - since) / 1000).toFixed(1)} s into the phase); ` +
          `${ids.size} sent, ${result.lost} lost, ${result.duplicated} duplicated, ${wrong} wrong`,
      );
      await assertExactlyOnce(mine, ids);
    }

    /**
     * What model's and metric's containers, on every node and exited ones too, logged of `ids`
     * (a dead letter names its sample's id): why a sample was lost, when one was.
     */
    async function saidOf(ids: string[]): Promise<string> {
      const said: string[] = [`lines naming the first ${ids.length} samples lost:`];
      for (const node of nodes) {
        for (const service of ["model", "metric"]) {
          for (const id of await containersOf(node.docker, `${STACK}_${service}`, { all: true })) {
            const logs = await node.docker.run(["logs", id], { allowFail: true });
            for (const line of `${logs.stdout}\n${logs.stderr}`.split("\n")) {
              if (ids.some((sample) => line.includes(sample))) {
                said.push(`${node.name} ${service} ${id.slice(0, 12)}: ${line.slice(0, 400)}`);
              }
            }
          }
        }
      }
      return said.length > 1 ? said.join("\n") : `${said[0]} none`;
    }

    const grown = (what: string, timeoutMs = 120_000) => growth(what, rows, { timeoutMs });
    const modelNodes = () => taskNodes(control, `${STACK}_model`);

    /** The running container of the broker member on `node`, or "" while none runs. */
    async function memberContainer(node: typeof node1): Promise<string> {
      return (await containersOf(node.docker, `${STACK}_${MEMBER_ON.get(node)}`))[0] ?? "";
    }

    /**
     * How many times the image's watch unblocked the boot of the member now running on `node`
     * (`ops/images/rabbitmq/global-hang-watch.sh`: a global:sync blocked at boot,
     * rabbitmq-server#6034), from its log.
     */
    async function syncsUnblocked(node: typeof node1): Promise<number> {
      const id = await memberContainer(node);
      if (id === "") return 0;
      const logs = await node.docker.out("logs", id).catch(() => "");
      return logs.split("\n").filter((line) => line.includes("ml global hang watch: global:sync"))
        .length;
    }

    /** rabbitmqctl (JSON) in the first member that answers, node 1's first: any member will do. */
    async function rabbitmqctl<T>(...args: string[]): Promise<T> {
      let last: unknown = new Error("no broker member is running");
      for (const node of nodes) {
        const id = await memberContainer(node);
        if (id === "") continue;
        try {
          return await rabbitmqctlJson<T>(node.docker, id, ...args);
        } catch (error) {
          last = error;
        }
      }
      throw last;
    }

    async function clusterRunning(): Promise<number> {
      try {
        const status = await rabbitmqctl<{ running_nodes: string[] }>("cluster_status");
        return status.running_nodes.length;
      } catch {
        return 0;
      }
    }

    interface QueueInfo {
      name: string;
      type: string;
      policy: string;
      members?: string[];
      online?: string[];
    }

    /** What is missing for every work queue to be a quorum queue, policy applied, 3/3 online. */
    async function workQueuesShort(): Promise<string[]> {
      const queues = await rabbitmqctl<QueueInfo[]>(
        "list_queues",
        "name",
        "type",
        "policy",
        "members",
        "online",
      );
      // dead_letter too (it takes QUEUE_TYPE); each queue under its own policy.
      return PIPELINE_QUEUES.flatMap((name) => {
        const q = queues.find((q) => q.name === name);
        if (q === undefined) return [`${name} missing`];
        const members = (q.members ?? []).length;
        const online = (q.online ?? []).length;
        const policy = policyOf(name)?.name ?? "";
        return q.type === "quorum" && q.policy === policy && members === 3 && online === 3
          ? []
          : [`${name}: ${q.type}, policy '${q.policy}', ${online}/${members} of 3 online`];
      });
    }

    /** Each member's cluster as that member sees it: what a split looks like from outside. */
    async function clusterViews(): Promise<string> {
      const views: string[] = [];
      for (const node of nodes) {
        const member = MEMBER_ON.get(node)!;
        const id = await memberContainer(node).catch(() => "");
        if (id === "") {
          views.push(`${member} not running`);
          continue;
        }
        try {
          const status = await rabbitmqctlJson<{ running_nodes: string[] }>(
            node.docker,
            id,
            "cluster_status",
          );
          views.push(`${member} sees [${status.running_nodes.sort().join(", ")}]`);
        } catch (error) {
          // What rabbitmqctl said, and the member's last log lines: why it has not booted.
          const logs = await node.docker.run(["logs", "--tail", "8", id], { allowFail: true });
          const said = (error as Error).message.split("\n").slice(0, 3).join(" ");
          views.push(
            `${member} not booted (${said}; last log: ${
              `${logs.stdout}${logs.stderr}`.trim().split("\n").join(" | ")
            })`,
          );
        }
      }
      return views.join("; ");
    }

    /**
     * True once three members run as one cluster and every queue has its three members online;
     * otherwise throws what is missing, each member's view of the cluster included, so that a
     * wait that times out says why (`waitFor` keeps the last error).
     */
    async function healed(): Promise<boolean> {
      const short = await workQueuesShort().catch((error) => [`queues: ${error.message}`]);
      if (await clusterRunning() === 3 && short.length === 0) return true;
      throw new Error(`${await clusterViews()}; ${short.join("; ")}`);
    }

    /**
     * Members whose task the health check had Swarm replace (stuck at boot, rabbitmq-server#6034:
     * ops/images/rabbitmq/member-health.sh), e.g. "rabbitmq-2 ×1"; "none" when none. Swarm stops
     * an unhealthy task's container, the member shuts down cleanly and the task ends Complete; a
     * member's server never exits 0 otherwise (a drained or updated task ends Shutdown, a dead
     * node's too).
     */
    async function membersReplacedUnhealthy(): Promise<string> {
      const replaced: string[] = [];
      for (const member of MEMBER_ON.values()) {
        const states = await control.out(
          "service",
          "ps",
          `${STACK}_${member}`,
          "--format",
          "{{.CurrentState}}",
        ).catch(() => "");
        const count = states.split("\n").filter((state) => state.startsWith("Complete")).length;
        if (count > 0) replaced.push(`${member} ×${count}`);
      }
      return replaced.join(", ") || "none";
    }

    /** Clients' connections per broker member, e.g. { "rabbit@rabbitmq": 4, … }. */
    async function connectionsPerMember(): Promise<Record<string, number>> {
      // list_connections has no node column in 3.10, and its pids print without one.
      const nodesOf = "[node(P) || P <- rabbit_networking:connections()].";
      for (const node of nodes) {
        const id = await memberContainer(node);
        if (id === "") continue;
        const result = await node.docker.run(
          ["exec", id, "rabbitmqctl", "-q", "eval", nodesOf],
          { allowFail: true },
        );
        if (!result.ok) continue;
        const per: Record<string, number> = {};
        for (const [member] of result.stdout.matchAll(/rabbit@[\w-]+/g)) {
          per[member] = (per[member] ?? 0) + 1;
        }
        return per;
      }
      throw new Error("no broker member answers");
    }

    /** Scale model to 3 and back to 6: Swarm removes from the fullest nodes, adds to the emptiest. */
    async function rebalanceModel(): Promise<void> {
      await converge(control, ["scale", `${STACK}_model=3`], [`${STACK}_model`]);
      await converge(control, ["scale", `${STACK}_model=6`], [`${STACK}_model`]);
    }

    /**
     * Rebalances model until a client is connected to member 1, for step c to fail over; up to
     * five times (CI runs have needed one, two and three). After member 1 was away its clients
     * stay on the members they failed over to; only a replica the rebalance adds starts at its
     * slot's member (stack/broker_members.ts), and Swarm reuses the slots it freed, which it
     * chooses: the three may all lead elsewhere. A task is Running once live, before it
     * connects, hence the wait.
     */
    async function clientOnMember1(): Promise<void> {
      const onMember1 = async () => ((await connectionsPerMember())["rabbit@rabbitmq"] ?? 0) > 0;
      for (let attempt = 1;; attempt++) {
        try {
          return await waitFor("a client on member 1", onMember1, 30_000);
        } catch (error) {
          if (attempt === 5) throw error;
          console.log(
            `no client on member 1 after rebalance ${attempt}: ` +
              JSON.stringify(await connectionsPerMember()),
          );
          await rebalanceModel();
        }
      }
    }

    try {
      await t.step("three Docker-in-Docker managers and a registry", async () => {
        const start = performance.now();
        await sh("bash", ["ops/images/build.sh", "secrets", "registry"]);
        const image = await buildNodeImage();
        registry = await startRegistry(REGISTRY_PORT);
        await Promise.all(nodes.map((node) => startNode(node, image)));
        await formSwarm(nodes);
        for (const [node, member] of MEMBER_ON) {
          const labels = ["--label-add", `ml.rabbitmq=${member.split("-")[1] ?? "1"}`];
          if (node === node2) labels.push("--label-add", "ml.metric=true");
          await control.run(["node", "update", ...labels, node.name]);
        }
        console.log(`nodes and swarm: ${secondsSince(start)} s (node image ${image})`);
      });

      await t.step("images built and pushed: REGISTRY=… PUSH=1 deno task images", async () => {
        const start = performance.now();
        await login(`127.0.0.1:${REGISTRY_PORT}`);
        await sh("bash", ["ops/images/build.sh"], {
          env: {
            REGISTRY: `127.0.0.1:${REGISTRY_PORT}/`,
            PUSH: "1",
            DOCKER_CONFIG: dockerConfig,
            ...TAGS,
          },
        });
        const client = Deno.createHttpClient({ caCerts: [registry!.ca] });
        const api = async (path: string, init: RequestInit = {}, auth = true) => {
          const headers = new Headers(init.headers);
          if (auth) headers.set("authorization", `Basic ${btoa(`ml:${registry!.password}`)}`);
          return await fetch(`https://127.0.0.1:${REGISTRY_PORT}${path}`, {
            ...init,
            headers,
            client,
          });
        };
        try {
          const anonymous = await api("/v2/_catalog", {}, false);
          await anonymous.body?.cancel();
          assert.equal(anonymous.status, 401, "the registry lists its images without a login");
          const catalog = await (await api("/v2/_catalog")).json();
          for (
            const image of ["ml-rabbitmq", "ml-prometheus", "ml-features", "ml-model", "ml-metric"]
          ) {
            assert.ok(catalog.repositories.includes(image), `${image} not in the registry`);
          }
          const manifest = `/v2/ml-features/manifests/${IMAGE_TAG}`;
          const head = await api(manifest, {
            method: "HEAD",
            headers: {
              accept: "application/vnd.docker.distribution.manifest.v2+json, " +
                "application/vnd.oci.image.manifest.v1+json",
            },
          });
          const digest = head.headers.get("docker-content-digest");
          assert.match(digest ?? "", /^sha256:[0-9a-f]{64}$/);
          const deleted = await api(`/v2/ml-features/manifests/${digest}`, { method: "DELETE" });
          await deleted.body?.cancel();
          assert.equal(deleted.status, 405, "the registry deleted a manifest");
        } finally {
          client.close();
        }
        console.log(`build and push: ${secondsSince(start)} s`);
      });

      await t.step("deploy with both files: three broker members form one cluster", async () => {
        const start = performance.now();
        // Test-only: features stays on node 1, never killed, so that every confirmed send is
        // in the logs the test counts from.
        const pin = await Deno.makeTempFile({ prefix: "mlc-pin-", suffix: ".yml" });
        await Deno.writeTextFile(
          pin,
          'version: "3.9"\nservices:\n  features:\n    deploy:\n      placement:\n' +
            `        constraints: [node.hostname == ${node1.name}]\n`,
        );
        const env: Record<string, string> = {
          REGISTRY: `${REGISTRY_FOR_NODES}/`,
          ...TAGS,
          FEATURES_INTERVAL_MS: "50",
          MODEL_REPLICAS: "3",
        };
        // The nodes pull with this login, verified against the stack's CA; Swarm pins each image
        // to the digest the registry gives for its tag (docker stack deploy's --resolve-image
        // always, the default).
        await login(REGISTRY_FOR_NODES, control.host);
        await control.run([
          "stack",
          "deploy",
          "--with-registry-auth",
          "-c",
          "docker-stack.yml",
          "-c",
          "docker-stack.cluster.yml",
          "-c",
          pin,
          STACK,
        ], { env: { ...env, DOCKER_CONFIG: dockerConfig } });
        await Deno.remove(pin);
        const images = (await control.out(
          "service",
          "inspect",
          "--format",
          "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
          ...(await control.out("stack", "services", "-q", STACK)).split("\n"),
        )).split("\n");
        for (const image of images) {
          assert.match(image, /^mlc-registry:5000\/ml-[a-z-]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
        }
        // This test scales ml_model by hand: the autoscaler (controller/) holds for it.
        // A label of the service, not of its tasks: nothing restarts, nothing to wait for.
        await control.run([
          "service",
          "update",
          "--detach",
          "--label-add",
          "ml.hold.e2e=scaled by hand",
          `${STACK}_model`,
        ]);
        const labelled = secondsSince(start);
        await waitFor("three broker members in one cluster", async () => await healed(), 240_000);
        const clustered = secondsSince(start);
        const declared = await declaredServices("docker-stack.yml", "docker-stack.cluster.yml");
        await waitFor("every service at its replica count", async () => {
          const lines = (await control.out("stack", "services", STACK, "--format", "{{.Replicas}}"))
            .split("\n");
          return lines.length === declared.length && lines.every((r) => /^(\d+)\/\1/.test(r));
        }, 180_000);
        const converged = secondsSince(start);
        metricCsv = metricLogPath(await nodeVolumePath(node2, `${STACK}_metric-logs`));
        features = followLogs(control, `${STACK}_features`);
        await grown("rows in metric_log.csv", 180_000);
        // Where the time went: ml_model's update waits for its tasks, which wait for the broker.
        console.log(
          `deploy to flowing: ${secondsSince(start)} s (ml_model labelled after ${labelled} s, ` +
            `one broker cluster after ${clustered} s, every service at its count after ` +
            `${converged} s)`,
        );
      });

      await t.step("every service is given all three members", async () => {
        for (const service of ["features", "model", "metric"]) {
          const env = JSON.parse(
            await control.out(
              "service",
              "inspect",
              "-f",
              "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
              `${STACK}_${service}`,
            ),
          ) as string[];
          const url = env.find((e) => e.startsWith("AMQP_URL="))?.slice("AMQP_URL=".length);
          assert.deepEqual(
            url?.split(",").map((u) => new URL(u).host),
            ["rabbitmq:5671", "rabbitmq-2:5671", "rabbitmq-3:5671"],
            `${service}'s AMQP_URL`,
          );
        }
      });

      await t.step("the members speak Erlang distribution over TLS only", async () => {
        // A member on TLS distribution cannot talk to one on TCP: with all three on it and one
        // cluster formed, every link between them is TLS (ops/images/rabbitmq/rabbitmq-env.conf).
        for (const node of nodes) {
          const id = await memberContainer(node);
          const proto = await node.docker.out(
            "exec",
            id,
            "rabbitmqctl",
            "-q",
            "eval",
            "init:get_argument(proto_dist).",
          );
          assert.equal(proto, '{ok,[["inet_tls"]]}', `${MEMBER_ON.get(node)}'s distribution`);
        }
      });

      await t.step(
        "the policies are on the cluster; work queues are quorum, 3/3 online",
        async () => {
          const policies = await rabbitmqctl<
            { name: string; pattern: string; definition: string | Record<string, unknown> }[]
          >("list_policies");
          for (const expected of POLICIES) {
            const policy = policies.find((p) => p.name === expected.name);
            assert.ok(policy, `no policy ${expected.name}: ${JSON.stringify(policies)}`);
            assert.equal(policy.pattern, expected.pattern);
            const definition = typeof policy.definition === "string"
              ? JSON.parse(policy.definition)
              : policy.definition;
            assert.deepEqual(definition, expected.definition, `policy ${expected.name}`);
          }
          let short: string[] = [];
          await waitFor("every work queue a quorum queue with 3 members online", async () => {
            short = await workQueuesShort().catch((error) => [String(error)]);
            return short.length === 0;
          }, 60_000).catch((error) => {
            throw new Error(`${error.message}: ${short.join("; ")}`);
          });
          console.log(`connections per member: ${JSON.stringify(await connectionsPerMember())}`);
        },
      );

      await t.step("Prometheus scrapes all three broker members", async () => {
        // Asked inside Prometheus's own container: its port is published nowhere (people reach
        // it through the gateway), and minbase has bash's /dev/tcp but no curl. With its login,
        // the token it holds as a secret.
        const ask = "exec 3<>/dev/tcp/127.0.0.1/9090 && " +
          "printf 'GET /api/v1/targets?state=active HTTP/1.0\\r\\nAuthorization: Basic %s\\r\\n\\r\\n' " +
          `"$(printf 'ml:%s' "$(cat /run/secrets/telemetry_token)" | base64 -w0)" >&3 && cat <&3`;
        const targets = async () => {
          const [id] = await containersOf(node2.docker, `${STACK}_prometheus`);
          const answer = await node2.docker.out("exec", id, "bash", "-c", ask);
          return JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
        };
        type Target = {
          labels: { job: string; instance?: string };
          health: string;
          lastError?: string;
        };
        let brokers: Target[] = [];
        // Up to 6 min: in two runs of three, one member's address answered "connection refused"
        // (no client had connected to that member either) for the first 2 min and was reached
        // later in the run. Suspected: a stale address in Docker's DNS after that member's task
        // was replaced during the deploy. The wait is logged, to tell a late member from a lost one.
        const since = performance.now();
        await waitFor("three rabbitmq targets up", async () => {
          const { data } = await targets();
          brokers = data.activeTargets.filter((target: Target) => target.labels.job === "rabbitmq");
          return brokers.filter((target) => target.health === "up").length === 3;
        }, 360_000).then(() =>
          console.log(
            `three broker targets up after ${((performance.now() - since) / 1000).toFixed(1)} s`,
          )
        ).catch((error) => {
          // Each target as Prometheus last saw it: which member, and why its scrape failed.
          const seen = brokers.map((t) => `${t.labels.instance} ${t.health} ${t.lastError ?? ""}`);
          throw new Error(`${error.message}; ${seen.join(" | ") || "no rabbitmq target"}`);
        });
      });

      await t.step("a. scale ml_model=6: replicas on all three nodes share the work", async () => {
        const start = performance.now();
        const since = Date.now();
        await converge(control, ["scale", `${STACK}_model=6`], [`${STACK}_model`]);
        assert.equal(await replicasRunning(control, `${STACK}_model`), "6/6");
        await waitFor("six model tasks over three nodes", async () => {
          const where = await modelNodes();
          return where.length === 6 && new Set(where).size === 3;
        });
        await waitFor("rows from six model replicas", async () => {
          const recent = (await rows()).filter((r) => r.pairedAtMs >= since);
          return new Set(recent.map((r) => r.replica)).size === 6;
        });
        await tally("a. scale to 6", secondsSince(start), since);
      });

      await t.step("b. drain member 1's node: its replicas move, clients fail over", async () => {
        const start = performance.now();
        const since = Date.now();
        await control.run(["node", "update", "--availability", "drain", node3.name]);
        await waitFor("six model tasks, none on the drained node", async () => {
          const where = await modelNodes();
          return where.length === 6 && !where.includes(node3.name);
        });
        await waitFor("member 1 stopped", async () => await memberContainer(node3) === "");
        await grown("rows after the drain");
        const recoveryS = secondsSince(start);
        await control.run(["node", "update", "--availability", "active", node3.name]);
        const activated = performance.now();
        await waitFor("the drained node's broker member back", healed, MEMBER_BACK_MS);
        console.log(
          `member 1 back in the cluster ${secondsSince(activated)} s after its node was active; ` +
            `its boot unblocked by the watch: ${await syncsUnblocked(node3)} time(s); ` +
            `members replaced as unhealthy: ${await membersReplacedUnhealthy()}`,
        );
        await rebalanceModel();
        await waitFor(
          "model tasks on the node again",
          async () => (await modelNodes()).includes(node3.name),
        );
        await clientOnMember1();
        await tally("b. drain", recoveryS, since);
      });

      await t.step("c. kill member 1's node (model replicas too): clients fail over", async () => {
        assert.ok((await modelNodes()).includes(node3.name));
        assert.notEqual(await memberContainer(node3), "");
        const before = await connectionsPerMember();
        console.log(`connections per member before the kill: ${JSON.stringify(before)}`);
        assert.ok((before["rabbit@rabbitmq"] ?? 0) > 0, "no client on member 1 to fail over");
        const start = performance.now();
        const since = Date.now();
        await killNode(node3);
        await grown("rows while the node is down", 120_000);
        const recordingS = secondsSince(start);
        await waitFor("six model tasks on the two nodes left", async () => {
          const where = await modelNodes();
          return where.length === 6 && !where.includes(node3.name);
        }, 180_000);
        const after = await connectionsPerMember();
        console.log(
          `recording went on ${recordingS} s after the kill; connections per member now: ` +
            JSON.stringify(after),
        );
        assert.equal(after["rabbit@rabbitmq"], undefined);
        await tally("c. kill node", secondsSince(start), since);
      });

      await t.step("d. reboot it: broker cluster heals, the node takes tasks again", async () => {
        const start = performance.now();
        const since = Date.now();
        await rebootNode(node3, await outer.out("inspect", "-f", "{{.Config.Image}}", node1.name));
        await waitFor(
          "the rebooted node Ready",
          async () =>
            (await control.out("node", "inspect", "-f", "{{.Status.State}}", node3.name)) ===
              "ready",
        );
        await waitFor("three members running, queues' members all online", healed, MEMBER_BACK_MS);
        const healedS = secondsSince(start);
        await rebalanceModel();
        await waitFor(
          "model tasks on the rebooted node",
          async () => (await modelNodes()).includes(node3.name),
        );
        console.log(
          `broker cluster healed ${healedS} s after the reboot began; member 1's boot unblocked ` +
            `by the watch: ${await syncsUnblocked(node3)} time(s)`,
        );
        await tally("d. reboot node", secondsSince(start), since);
      });

      await t.step(
        "e. kill the node running metric: samples wait, all recorded after",
        async () => {
          assert.deepEqual(await taskNodes(control, `${STACK}_metric`), [node2.name]);
          const start = performance.now();
          const since = Date.now();
          await killNode(node2);
          await new Promise((resolve) => setTimeout(resolve, 20_000));
          await rebootNode(
            node2,
            await outer.out("inspect", "-f", "{{.Config.Image}}", node1.name),
          );
          await grown("rows again after metric's node is back", 240_000);
          const recordingS = secondsSince(start);
          await waitFor("three members running again", healed, MEMBER_BACK_MS);
          console.log(
            `metric recording again ${recordingS} s after its node was killed (20 s down); ` +
              `members replaced as unhealthy: ${await membersReplacedUnhealthy()}`,
          );
          await tally("e. kill metric's node", recordingS, since, 180_000);
        },
      );

      await t.step("every sample sent was recorded exactly once", async () => {
        await converge(control, ["scale", `${STACK}_features=0`], [`${STACK}_features`]);
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        const since = Date.now();
        await tally("end (features stopped)", 0, since);
        const ids = sent();
        await assertExactlyOnce(await rows(), ids); // no row of a sample never sent, either
        assert.ok(ids.size > 500, `only ${ids.size} samples sent`);
      });

      await t.step("f. docker stack rm leaves nothing behind", async () => {
        const start = performance.now();
        await removeStack(control, STACK, { engines: nodes.map((node) => node.docker) });
        results.push({
          phase: "f. stack rm",
          recoveryS: secondsSince(start),
          gapS: 0,
          lost: 0,
          duplicated: 0,
          wrong: 0,
        });
      });

      await t.step(`the whole run took under ${WALL_LIMIT_S / 60} minutes`, () => {
        // The issue's bound for CI; cleanup, after this, takes a few seconds more.
        const wallS = secondsSince(started);
        assert.ok(wallS < WALL_LIMIT_S, `${wallS} s`);
      });
    } finally {
      await features?.stop();
      await removeAll(nodes);
      await Deno.remove(dockerConfig, { recursive: true }).catch(() => {});
      for (
        const image of ["ml-prometheus:2.42", "ml-alertmanager:0.25", "ml-docker-proxy:2.6"].concat(
          ["rabbitmq", "features", "model", "metric", "controller"].map((s) =>
            `ml-${s}:${IMAGE_TAG}`
          ),
        )
      ) {
        await outer.run(["image", "rm", `127.0.0.1:${REGISTRY_PORT}/${image}`], {
          allowFail: true,
        });
      }
      // Untagged only: their layers stay, Docker's build cache for the next run.
      for (const service of ["rabbitmq", "features", "model", "metric", "controller"]) {
        await outer.run(["image", "rm", "--no-prune", `ml-${service}:${IMAGE_TAG}`], {
          allowFail: true,
        });
      }
      console.log(
        "\nphase                      recovery s  no row for s  lost  duplicated  wrong",
      );
      for (const r of results) {
        console.log(
          `${r.phase.padEnd(26)} ${String(r.recoveryS).padStart(10)} ${
            String(r.gapS).padStart(13)
          } ${String(r.lost).padStart(5)} ${String(r.duplicated).padStart(11)} ${
            String(r.wrong).padStart(6)
          }`,
        );
      }
      console.log(`wall time ${secondsSince(started)} s`);
    }
  },
});
