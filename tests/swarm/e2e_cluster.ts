/**
 * End-to-end on a three-node Swarm (`deno task e2e:cluster`): three Docker-in-Docker nodes, all
 * managers, images pushed to a registry beside them (ml-registry), the stack deployed with
 * `docker stack deploy -c docker-stack.yml -c docker-stack.cluster.yml ml` (a three-member
 * RabbitMQ cluster), then, with features sending throughout:
 *   a. scale ml_model=6: replicas on all three nodes share the work
 *   b. drain a node: its model replicas move; back to active
 *   c. kill a whole node holding model replicas and a broker member: recording goes on
 *   d. reboot it: the broker cluster heals, the node takes model tasks again
 *   e. kill the node running metric: samples wait in the queues, all recorded once it is back
 *   f. docker stack rm
 * After each phase: samples lost (sent, confirmed, no CSV row), duplicated (more than one row),
 * wrong (a bad y_true, y_pred or error), all 0, and the phase's recovery time. Everything made
 * on this machine's engine (mlc-…) is removed at the end, even on failure.
 *
 * Not named `*_test.ts` so `deno task test:integration` does not pick it up.
 */
import assert from "node:assert/strict";
import { loadModelArtifact } from "../../model/artifact.ts";
import { predict } from "../../model/linear.ts";
import type { PairRecord } from "../../metric/record.ts";
import { metricLogPath, readMetricLog } from "../../metric/metric_log.ts";
import { jsonLines } from "../../stack/ops/process.ts";
import { loadDiabetes } from "../../stack/dataset.ts";
import { sentSamples } from "../harness.ts";
import {
  buildNodeImage,
  formSwarm,
  killNode,
  nodeVolumePath,
  outer,
  rebootNode,
  REGISTRY_FOR_NODES,
  removeAll,
  startNode,
  startRegistry,
  swarmNode,
} from "./dind_nodes.ts";
import { followLogs, replicasRunning, secondsSince, sh, waitFor } from "./swarm_shell.ts";

const STACK = "ml";
const REGISTRY_PORT = Number(Deno.env.get("MLC_REGISTRY_PORT") ?? "5000");
const nodes = [1, 2, 3].map(swarmNode);
const [node1, node2, node3] = nodes;
/** Every command goes through node 1's engine: it is never killed (features runs there). */
const control = node1.docker;
const dataset = await loadDiabetes();
const model = await loadModelArtifact();

/**
 * Whether the services take a list of brokers in AMQP_URL and may reach all three (the `client`
 * branch bakes `--allow-net=rabbitmq:5672,rabbitmq-2:5672,rabbitmq-3:5672` into the images).
 * Until then they are given member 1 alone, so no phase kills member 1's node.
 */
const clientKnowsCluster = /rabbitmq-2:5672/.test(await Deno.readTextFile("features/Dockerfile"));

interface PhaseResult {
  phase: string;
  recoveryS: number;
  /** Longest time between two consecutive rows during the phase. */
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
    let metricCsv = "";
    const rows = async (): Promise<PairRecord[]> =>
      metricCsv === "" ? [] : (await readMetricLog(metricCsv)).records;
    const sent = () => sentSamples(jsonLines(features?.lines() ?? []));

    /**
     * Waits until every sample sent so far has a row (up to `timeoutMs`), then counts lost,
     * duplicated and wrong rows over the whole run, and the longest gap between rows since
     * `since` (a wall-clock ms).
     */
    async function tally(phase: string, recoveryS: number, since: number, timeoutMs = 120_000) {
      const ids = sent();
      await waitFor(`metric to record the ${ids.size} samples sent`, async () => {
        const recorded = new Set((await rows()).map((r) => r.id));
        return [...ids.keys()].every((id) => recorded.has(id));
      }, timeoutMs).catch(() => {}); // counted as lost below
      const all = await rows();
      const count = new Map<string, number>();
      for (const row of all) count.set(row.id, (count.get(row.id) ?? 0) + 1);
      const wrong = all.filter((row) => {
        const index = ids.get(row.id);
        if (index === undefined) return false; // sent after the snapshot
        return row.yTrue !== dataset.y[index] ||
          Math.abs(row.yPred - predict(model, dataset.X[index])) > 1e-9 ||
          Math.abs(row.absoluteError - Math.abs(row.yTrue - row.yPred)) > 1e-9;
      }).length;
      const times = all.map((r) => r.pairedAtMs).filter((ms) => ms >= since).sort((a, b) => a - b);
      let gap = 0;
      for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
      const result: PhaseResult = {
        phase,
        recoveryS,
        gapS: Math.round(gap / 100) / 10,
        lost: [...ids.keys()].filter((id) => !count.has(id)).length,
        duplicated: [...count.values()].filter((n) => n > 1).length,
        wrong,
      };
      results.push(result);
      console.log(
        `phase ${phase}: recovery ${recoveryS} s, longest gap between rows ${result.gapS} s; ` +
          `${ids.size} sent, ${result.lost} lost, ${result.duplicated} duplicated, ${wrong} wrong`,
      );
      assert.deepEqual(
        [result.lost, result.duplicated, result.wrong],
        [0, 0, 0],
        `phase ${phase}: lost, duplicated, wrong`,
      );
    }

    async function growth(what: string, timeoutMs = 120_000) {
      const before = (await rows()).length;
      await waitFor(what, async () => (await rows()).length > before + 5, timeoutMs);
    }

    /** Node name of each running task of a service. */
    async function taskNodes(service: string): Promise<string[]> {
      return (await control.out(
        "service",
        "ps",
        `${STACK}_${service}`,
        "--filter",
        "desired-state=running",
        "--format",
        "{{.Node}} {{.CurrentState}}",
      )).split("\n").filter((line) => / Running /.test(line)).map((line) => line.split(" ")[0]);
    }

    /** The container of a broker member on its node, or "" while none runs. */
    async function memberContainer(node: typeof node1, service: string): Promise<string> {
      const result = await node.docker.run([
        "ps",
        "-q",
        "--filter",
        `label=com.docker.swarm.service.name=${STACK}_${service}`,
      ], { allowFail: true });
      return result.ok ? result.stdout.trim().split("\n")[0] : "";
    }

    /** rabbitmqctl in member 1 (never killed), parsed from JSON. */
    async function rabbitmqctl(...args: string[]): Promise<unknown> {
      const id = await memberContainer(node1, "rabbitmq");
      const out = await node1.docker.out("exec", id, "rabbitmqctl", "-q", ...args);
      return JSON.parse(out);
    }

    async function clusterRunning(): Promise<number> {
      try {
        const status = await rabbitmqctl("cluster_status", "--formatter", "json") as {
          running_nodes: string[];
        };
        return status.running_nodes.length;
      } catch {
        return 0;
      }
    }

    /** Quorum queues whose members are not all online; [] when there are none (classic). */
    async function quorumQueuesShort(): Promise<string[]> {
      const queues = await rabbitmqctl(
        "list_queues",
        "name",
        "type",
        "members",
        "online",
        "--formatter",
        "json",
      ) as { name: string; type: string; members: string[]; online: string[] }[];
      return queues.filter((q) => q.type === "quorum" && (q.online ?? []).length < 3)
        .map((q) => `${q.name} (${(q.online ?? []).length}/3 online)`);
    }

    async function healed(): Promise<boolean> {
      return await clusterRunning() === 3 && (await quorumQueuesShort()).length === 0;
    }

    /** Scale model to 3 and back to 6: Swarm removes from the fullest nodes, adds to the emptiest. */
    async function rebalanceModel(): Promise<void> {
      await control.run(["service", "scale", `${STACK}_model=3`]);
      await control.run(["service", "scale", `${STACK}_model=6`]);
    }

    try {
      await t.step("three Docker-in-Docker managers and a registry", async () => {
        const start = performance.now();
        await sh("bash", ["stack/ops/images/build.sh", "secrets", "registry"]);
        const image = await buildNodeImage();
        await startRegistry(REGISTRY_PORT);
        await Promise.all(nodes.map((node) => startNode(node, image)));
        await formSwarm(nodes);
        await control.run(["node", "update", "--label-add", "ml.rabbitmq=1", node1.name]);
        await control.run([
          "node",
          "update",
          "--label-add",
          "ml.rabbitmq=2",
          "--label-add",
          "ml.metric=true",
          node2.name,
        ]);
        await control.run(["node", "update", "--label-add", "ml.rabbitmq=3", node3.name]);
        console.log(`nodes and swarm: ${secondsSince(start)} s (node image ${image})`);
      });

      await t.step("images built and pushed: REGISTRY=… PUSH=1 deno task images", async () => {
        const start = performance.now();
        await sh("bash", ["stack/ops/images/build.sh"], {
          env: { REGISTRY: `127.0.0.1:${REGISTRY_PORT}/`, PUSH: "1" },
        });
        const catalog = await (await fetch(`http://127.0.0.1:${REGISTRY_PORT}/v2/_catalog`)).json();
        for (
          const image of ["ml-rabbitmq", "ml-prometheus", "ml-features", "ml-model", "ml-metric"]
        ) {
          assert.ok(catalog.repositories.includes(image), `${image} not in the registry`);
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
          'version: "3.8"\nservices:\n  features:\n    deploy:\n      placement:\n' +
            "        constraints: [node.labels.ml.rabbitmq == 1]\n",
        );
        const env: Record<string, string> = {
          REGISTRY: `${REGISTRY_FOR_NODES}/`,
          FEATURES_INTERVAL_MS: "50",
          MODEL_REPLICAS: "3",
        };
        if (!clientKnowsCluster) env.CLUSTER_AMQP_URL = "amqp://rabbitmq:5672";
        await control.run([
          "stack",
          "deploy",
          "-c",
          "docker-stack.yml",
          "-c",
          "docker-stack.cluster.yml",
          "-c",
          pin,
          STACK,
        ], { env });
        await Deno.remove(pin);
        await waitFor("three broker members in one cluster", async () => await healed(), 240_000);
        await waitFor("every service at its replica count", async () => {
          const lines = (await control.out("stack", "services", STACK, "--format", "{{.Replicas}}"))
            .split("\n");
          return lines.length === 7 && lines.every((r) => /^(\d+)\/\1/.test(r));
        }, 180_000);
        metricCsv = metricLogPath(await nodeVolumePath(node2, `${STACK}_metric-logs`));
        features = followLogs(control, `${STACK}_features`);
        await growth("rows in metric_log.csv", 180_000);
        console.log(
          `deploy to flowing: ${secondsSince(start)} s ` +
            `(AMQP_URL: ${clientKnowsCluster ? "all three members" : "member 1 only"})`,
        );
      });

      await t.step("Prometheus scrapes all three broker members", async () => {
        const api = `http://${node2.ip}:9090/api/v1/targets?state=active`;
        let up = 0;
        await waitFor("three rabbitmq targets up", async () => {
          const { data } = await (await fetch(api, { signal: AbortSignal.timeout(5_000) })).json();
          up = data.activeTargets.filter((target: { labels: { job: string }; health: string }) =>
            target.labels.job === "rabbitmq" && target.health === "up"
          ).length;
          return up === 3;
        }, 120_000).catch((error) => {
          throw new Error(`${error.message}; ${up} up`);
        });
      });

      await t.step("a. scale ml_model=6: replicas on all three nodes share the work", async () => {
        const start = performance.now();
        const since = Date.now();
        await control.run(["service", "scale", `${STACK}_model=6`]);
        assert.equal(await replicasRunning(control, `${STACK}_model`), "6/6");
        await waitFor("six model tasks over three nodes", async () => {
          const where = await taskNodes("model");
          return where.length === 6 && new Set(where).size === 3;
        });
        await waitFor("rows from six model replicas", async () => {
          const recent = (await rows()).filter((r) => r.pairedAtMs >= since);
          return new Set(recent.map((r) => r.replica)).size === 6;
        });
        await tally("a. scale to 6", secondsSince(start), since);
      });

      await t.step("b. drain a node: its model replicas move", async () => {
        const start = performance.now();
        const since = Date.now();
        await control.run(["node", "update", "--availability", "drain", node3.name]);
        await waitFor("six model tasks, none on the drained node", async () => {
          const where = await taskNodes("model");
          return where.length === 6 && !where.includes(node3.name);
        });
        await growth("rows after the drain");
        const recoveryS = secondsSince(start);
        await control.run(["node", "update", "--availability", "active", node3.name]);
        await waitFor("the drained node's broker member back", healed, 180_000);
        await rebalanceModel();
        await waitFor(
          "model tasks on the node again",
          async () => (await taskNodes("model")).includes(node3.name),
        );
        await tally("b. drain", recoveryS, since);
      });

      await t.step("c. kill a node holding model replicas and a broker member", async () => {
        assert.ok((await taskNodes("model")).includes(node3.name));
        assert.notEqual(await memberContainer(node3, "rabbitmq-3"), "");
        const start = performance.now();
        const since = Date.now();
        await killNode(node3);
        await growth("rows while the node is down", 120_000);
        const recordingS = secondsSince(start);
        await waitFor("six model tasks on the two nodes left", async () => {
          const where = await taskNodes("model");
          return where.length === 6 && !where.includes(node3.name);
        }, 180_000);
        console.log(`recording went on ${recordingS} s after the kill`);
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
        await waitFor("three members running, queues' members all online", healed, 240_000);
        const healedS = secondsSince(start);
        await rebalanceModel();
        await waitFor(
          "model tasks on the rebooted node",
          async () => (await taskNodes("model")).includes(node3.name),
        );
        console.log(`broker cluster healed ${healedS} s after the reboot began`);
        await tally("d. reboot node", secondsSince(start), since);
      });

      await t.step(
        "e. kill the node running metric: samples wait, all recorded after",
        async () => {
          assert.deepEqual(await taskNodes("metric"), [node2.name]);
          const start = performance.now();
          const since = Date.now();
          await killNode(node2);
          await new Promise((resolve) => setTimeout(resolve, 20_000));
          await rebootNode(
            node2,
            await outer.out("inspect", "-f", "{{.Config.Image}}", node1.name),
          );
          await growth("rows again after metric's node is back", 240_000);
          const recordingS = secondsSince(start);
          await waitFor("three members running again", healed, 240_000);
          console.log(
            `metric recording again ${recordingS} s after its node was killed (20 s down)`,
          );
          await tally("e. kill metric's node", recordingS, since, 180_000);
        },
      );

      await t.step("every sample sent was recorded exactly once", async () => {
        await control.run(["service", "scale", `${STACK}_features=0`]);
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        const since = Date.now();
        await tally("end (features stopped)", 0, since);
        const ids = sent();
        const unsent = (await rows()).filter((r) => !ids.has(r.id)).length;
        assert.equal(unsent, 0, "rows whose send features never logged");
        assert.ok(ids.size > 500, `only ${ids.size} samples sent`);
      });

      await t.step("f. docker stack rm leaves nothing behind", async () => {
        const start = performance.now();
        await control.run(["stack", "rm", STACK]);
        for (const node of nodes) {
          await waitFor(
            `the stack's containers gone on ${node.name}`,
            async () =>
              (await node.docker.out(
                "ps",
                "-aq",
                "--filter",
                `label=com.docker.stack.namespace=${STACK}`,
              )) === "",
            120_000,
          );
        }
        assert.equal(
          await control.out(
            "service",
            "ls",
            "-q",
            "--filter",
            `label=com.docker.stack.namespace=${STACK}`,
          ),
          "",
        );
        results.push({
          phase: "f. stack rm",
          recoveryS: secondsSince(start),
          gapS: 0,
          lost: 0,
          duplicated: 0,
          wrong: 0,
        });
      });
    } finally {
      await features?.stop();
      await removeAll(nodes);
      for (
        const image of ["ml-rabbitmq:3.10", "ml-prometheus:2.42"].concat(
          ["features", "model", "metric"].map((s) => `ml-${s}:latest`),
        )
      ) {
        await outer.run(["image", "rm", `127.0.0.1:${REGISTRY_PORT}/${image}`], {
          allowFail: true,
        });
      }
      console.log(
        "\nphase                      recovery s  longest gap s  lost  duplicated  wrong",
      );
      for (const r of results) {
        console.log(
          `${r.phase.padEnd(26)} ${String(r.recoveryS).padStart(10)} ${
            String(r.gapS).padStart(14)
          } ${String(r.lost).padStart(5)} ${String(r.duplicated).padStart(11)} ${
            String(r.wrong).padStart(6)
          }`,
        );
      }
      console.log(`wall time ${secondsSince(started)} s`);
    }
  },
});
