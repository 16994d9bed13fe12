import assert from "node:assert/strict";
import { CSV_HEADER, formatRecord } from "../metric/metric_log/format.ts";
import { loadModelArtifact, serializeModelArtifact } from "../model/artifact.ts";
import { predict } from "../model/linear.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { MODEL_TARGET, SHADOW_VERSION_LABEL } from "../stack/model_service.ts";
import type { ReceivedAlert } from "./alerts.ts";
import {
  DRIFT_ALERT_FOR_MS,
  driftBeganMs,
  RETRAIN_DEFAULTS,
  retrainDecision,
  type RetrainPolicy,
  type RetrainState,
  RetrainTrigger,
  windowOf,
} from "./retrain.ts";
import { readRollout, ROLLOUT_LABEL } from "./rollout/plan.ts";
import type { DockerCalls, ServiceSpec } from "./rollout/start.ts";

const NOW = Date.UTC(2026, 11, 5, 12);
const POLICY: RetrainPolicy = { enabled: true, ...RETRAIN_DEFAULTS };

function drift(version: string, status: "firing" | "resolved" = "firing"): ReceivedAlert {
  return {
    name: "ModelDrift",
    status,
    labels: { alertname: "ModelDrift", model_version: version, severity: "warning" },
    summary: "",
    startsAt: new Date(NOW - 120_000).toISOString(),
    receivedAt: NOW,
  };
}

const IDLE: RetrainState = { nowMs: NOW, served: "v1", candidateRuns: false, retraining: false };

Deno.test("retrainDecision() acts on a drift of the served version with nothing under way", () => {
  assert.deepEqual(retrainDecision(drift("v1"), IDLE, POLICY), { act: true });
  // An earlier rollout that ended, of another origin or past the cooldown, does not hold it.
  for (
    const rollout of [
      { candidate: "v0", stable: "v1", phase: "rejected", startedAtMs: NOW - 60_000 },
      {
        candidate: "v0",
        stable: "v1",
        phase: "aborted",
        startedAtMs: NOW - RETRAIN_DEFAULTS.cooldownMs - 1,
        origin: "drift",
      },
      { candidate: "v1", stable: "v0", phase: "promoted", startedAtMs: NOW - 60_000 },
    ] as const
  ) {
    assert.deepEqual(retrainDecision(drift("v1"), { ...IDLE, rollout }, POLICY), { act: true });
  }
});

Deno.test("retrainDecision() holds, and says why, whenever acting could fight something", () => {
  const cases: [Partial<RetrainState>, ReceivedAlert, RetrainPolicy, RegExp][] = [
    [{}, drift("v1"), { ...POLICY, enabled: false }, /AUTO_RETRAIN is off/],
    [{}, drift("v0"), POLICY, /the drift is of v0, and v1 is served now/],
    [{ retraining: true }, drift("v1"), POLICY, /a retrain is under way/],
    [
      { rollout: { candidate: "v2", stable: "v1", phase: "shadowing", startedAtMs: NOW } },
      drift("v1"),
      POLICY,
      /the rollout of v2 is under way/,
    ],
    [{ candidateRuns: true }, drift("v1"), POLICY, /a candidate shadows without a rollout/],
    [
      {
        rollout: {
          candidate: "v2",
          stable: "v1",
          phase: "rejected",
          startedAtMs: NOW - 10 * 60_000,
          origin: "drift",
        },
      },
      drift("v1"),
      POLICY,
      /a retrain \(of v1\) started 10 min ago, rejected; the cooldown is 60 min/,
    ],
    [
      {
        served: "v2",
        rollout: {
          candidate: "v2",
          stable: "v1",
          phase: "promoted",
          startedAtMs: NOW - 59 * 60_000,
          origin: "drift",
        },
      },
      drift("v2"),
      POLICY,
      /a retrain \(of v1\) started 59 min ago, promoted; the cooldown is 60 min/,
    ],
  ];
  for (const [state, alert, policy, reason] of cases) {
    const decision = retrainDecision(alert, { ...IDLE, ...state }, policy);
    assert.equal(decision.act, false, String(reason));
    assert.match((decision as { reason: string }).reason, reason);
  }
});

/** metric's /records answer: the header and a row per sample, paired a second apart from `from`. */
async function recordsCsv(from: number, count: number, scaleY: number): Promise<string> {
  const { X, y } = await loadDiabetes();
  const stable = await loadModelArtifact();
  const rows = [CSV_HEADER];
  for (let i = 0; i < count; i++) {
    const x = X[i % X.length];
    const yTrue = y[i % y.length] * scaleY;
    const yPred = predict(stable, x);
    rows.push(formatRecord({
      id: `s${i}`,
      yTrue,
      yPred,
      absoluteError: Math.abs(yTrue - yPred),
      modelVersion: stable.version,
      replica: "ml_model.1",
      latencyMs: 3,
      pairedAtMs: from + i * 1000,
      inputs: x,
    }));
  }
  return rows.join("\n") + "\n";
}

Deno.test("windowOf() keeps the rows paired since the drift began, at most the last N", async () => {
  const csv = await recordsCsv(NOW - 100_000, 100, 1);
  assert.equal(windowOf(csv, NOW - 40_000, 1000).samples.length, 40);
  assert.deepEqual(windowOf(csv, NOW - 40_000, 10).samples.map((s) => s.id).at(0), "s90");
});

/** A Docker API that serves `ml_model` with the committed model's config and records each call. */
async function fakeSwarm() {
  const stable = await loadModelArtifact();
  const calls: { method: string; path: string; body?: unknown }[] = [];
  const configs = new Map<string, string>([["cfg-stable", serializeModelArtifact(stable)]]);
  let index = 10;
  const spec: ServiceSpec = {
    Name: "ml_model",
    Labels: { "com.docker.stack.namespace": "ml", "ml.autoscale.min": "1" },
    TaskTemplate: {
      ContainerSpec: {
        Image: "ml-model:latest",
        Env: ["MODEL_ROLE=stable"],
        Configs: [{
          File: { Name: MODEL_TARGET },
          ConfigID: "cfg-stable",
          ConfigName: `ml_model_${stable.version}`,
        }],
      },
      Networks: [{ Target: "net", Aliases: ["model"] }],
    },
    Mode: { Replicated: { Replicas: 2 } },
  };
  let candidate: ServiceSpec | undefined;
  const docker: DockerCalls = {
    call<T>(method: string, path: string, options: { body?: unknown; allow404?: boolean } = {}) {
      calls.push({ method, path, body: options.body });
      const found = (value: unknown) => Promise.resolve(value as T);
      const missing = () => {
        if (options.allow404) return Promise.resolve(undefined);
        return Promise.reject(new Error(`404 ${path}`));
      };
      if (method === "GET" && path === "/services/ml_model") {
        return found({ ID: "svc-model", Version: { Index: index }, Spec: structuredClone(spec) });
      }
      if (method === "GET" && path === "/services/ml_model_candidate") {
        return candidate ? found({ Spec: candidate }) : missing();
      }
      if (method === "GET" && path.startsWith("/configs/")) {
        const id = path.slice("/configs/".length);
        const data = configs.get(id);
        return data ? found({ ID: id, Spec: { Data: btoa(data) } }) : missing();
      }
      if (method === "POST" && path === "/configs/create") {
        const { Name, Data } = options.body as { Name: string; Data: string };
        configs.set(Name, atob(Data));
        return found({ ID: Name });
      }
      if (method === "POST" && path === "/services/create") {
        candidate = options.body as ServiceSpec;
        return found({ ID: "svc-candidate" });
      }
      if (method === "POST" && path === `/services/svc-model/update?version=${index}`) {
        spec.Labels = (options.body as ServiceSpec).Labels;
        index++;
        return found(undefined);
      }
      return Promise.reject(new Error(`unexpected ${method} ${path}`));
    },
  };
  return { docker, calls, stable, spec: () => spec, candidate: () => candidate, configs };
}

function trigger(
  swarm: Awaited<ReturnType<typeof fakeSwarm>>,
  csv: () => string,
  policy: Partial<RetrainPolicy> = {},
) {
  const lines: string[] = [];
  const outcomes: string[] = [];
  const record = (level: string) => (text: string, properties: Record<string, unknown>) =>
    lines.push(`${level} ${text} ${JSON.stringify(properties)}`);
  const sleeps: number[] = [];
  const retrains = new RetrainTrigger({ ...POLICY, ...policy }, {
    stack: "ml",
    docker: swarm.docker,
    records: () => Promise.resolve(csv()),
    log: { info: record("info"), warn: record("warn"), error: record("error") },
    outcome: (outcome) => outcomes.push(outcome),
    now: () => NOW,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  return { retrains, lines, outcomes, sleeps };
}

Deno.test("a drift of the served version retrains on the drifted rows and starts a rollout from drift", async () => {
  const swarm = await fakeSwarm();
  // Labels 1.5 times what they were since 10 minutes before the alert; clean rows before.
  const clean = await recordsCsv(NOW - 3_600_000, 600, 1);
  const drifted = (await recordsCsv(NOW - 119_000, 900, 1.5)).split("\n").slice(1).join("\n");
  const { retrains, lines, outcomes } = trigger(swarm, () => clean + drifted);
  await retrains.consider([drift(swarm.stable.version)]);
  await retrains.running;
  assert.deepEqual(outcomes, ["started"], lines.join("\n"));

  const rollout = readRollout(swarm.spec().Labels ?? {});
  assert.ok(rollout.ok && rollout.rollout);
  assert.equal(rollout.rollout.phase, "shadowing");
  assert.equal(rollout.rollout.origin, "drift");
  assert.equal(rollout.rollout.stable, swarm.stable.version);
  assert.equal(rollout.rollout.startedAtMs, NOW);
  const version = rollout.rollout.candidate;
  // It learned from the 900 drifted rows only (a fifth held out), and the drifted labels: on
  // them its MAE is well below the stable model's.
  const artifact = JSON.parse(swarm.configs.get(`ml_model_${version}`)!);
  assert.equal(artifact.version, version);
  assert.ok(artifact.training.rows > 650 && artifact.training.rows < 800, artifact.training.rows);
  const { X, y } = await loadDiabetes();
  const mae = (model: typeof swarm.stable) =>
    X.reduce((sum, x, i) => sum + Math.abs(1.5 * y[i] - predict(model, x)), 0) / X.length;
  assert.ok(mae(artifact) < 0.8 * mae(swarm.stable), `${mae(artifact)} vs ${mae(swarm.stable)}`);
  // The shadow: the stable spec as a candidate, its config at MODEL_PATH; name first for the filter.
  const candidate = swarm.candidate()!;
  assert.equal(Object.keys(candidate)[0], "Name");
  assert.equal(candidate.Name, "ml_model_candidate");
  assert.equal(candidate.Labels?.[SHADOW_VERSION_LABEL], version);
  assert.ok(candidate.TaskTemplate.ContainerSpec.Env?.includes("MODEL_ROLE=candidate"));
  const create = swarm.calls.find((c) => c.path === "/configs/create")!;
  assert.equal(Object.keys(create.body as object)[0], "Name");
  assert.match(lines.join("\n"), /retrained on drift of \{version\}.*held-out MAE/);
  assert.ok(swarm.spec().Labels?.[ROLLOUT_LABEL]);
});

Deno.test("a retrain waits for rows while the drift is young, and gives up when it resolves", async () => {
  // Two reads too short, then enough rows.
  const swarm = await fakeSwarm();
  const few = await recordsCsv(NOW - 119_000, 100, 1.5);
  const enough = await recordsCsv(NOW - 119_000, 700, 1.5);
  let reads = 0;
  const waits = trigger(swarm, () => (++reads < 3 ? few : enough));
  await waits.retrains.consider([drift(swarm.stable.version)]);
  await waits.retrains.running;
  assert.deepEqual(waits.outcomes, ["started"], waits.lines.join("\n"));
  assert.deepEqual(waits.sleeps, [30_000, 30_000]);
  assert.equal(waits.lines.filter((l) => /waits for rows/.test(l)).length, 2);

  // Too few rows, and the alert resolves while it waits: no retrain, said once.
  const quiet = await fakeSwarm();
  const late = trigger(quiet, () => few);
  await late.retrains.consider([drift(quiet.stable.version)]);
  await late.retrains.consider([drift(quiet.stable.version, "resolved")]);
  await late.retrains.running;
  assert.deepEqual(late.outcomes, ["skipped"]);
  assert.match(late.lines.at(-1)!, /fewer than \{min\}\{why\}.*and the alert resolved/);
  assert.equal(quiet.candidate(), undefined);
  assert.ok(!quiet.calls.some((c) => c.method === "POST"));
});

Deno.test("a second drift notification while one retrain runs, or after it started a rollout, starts none", async () => {
  const swarm = await fakeSwarm();
  const csv = await recordsCsv(NOW - 119_000, 900, 1.5);
  const { retrains, outcomes, lines } = trigger(swarm, () => csv);
  // Two messages at once (as two webhook posts may come), then one after the rollout started.
  await Promise.all([
    retrains.consider([drift(swarm.stable.version)]),
    retrains.consider([drift(swarm.stable.version)]),
  ]);
  await retrains.running;
  await retrains.consider([drift(swarm.stable.version)]);
  assert.deepEqual(outcomes, ["skipped", "started", "skipped"], lines.join("\n"));
  assert.match(lines[0], /a retrain is under way/);
  assert.match(lines.at(-1)!, /is under way/);
  assert.equal(swarm.calls.filter((c) => c.path === "/services/create").length, 1);
});

Deno.test("the drift began the alert's for: before it fired, as alerts.yml says", async () => {
  const rules = await Deno.readTextFile(
    new URL("../ops/images/prometheus/alerts.yml", import.meta.url),
  );
  const rule = /- alert: ModelDrift\n(?:\s{8,}.*\n)*?\s+for: (\d+)m\n/.exec(rules);
  assert.ok(rule, "ModelDrift and its for: in alerts.yml");
  assert.equal(Number(rule[1]) * 60_000, DRIFT_ALERT_FOR_MS);
  assert.equal(driftBeganMs(drift("v1")), NOW - 120_000 - DRIFT_ALERT_FOR_MS);
  assert.equal(driftBeganMs({ ...drift("v1"), startsAt: "" }), 0);
});
