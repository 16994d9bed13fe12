import assert from "node:assert/strict";
import { pairs, SHADOWING, START } from "./fixtures_test_util.ts";
import { NO_PAIRS, PAIRED_ERROR_MOMENTS, type PairedErrors } from "../../stack/paired_errors.ts";
import { MODEL_TARGET, SHADOW_VERSION_LABEL } from "../../stack/model_service.ts";
import type { SwarmService } from "../docker_api.ts";
import type { VectorSample } from "../inputs.ts";
import { readRollout, type Rollout, ROLLOUT_LABEL, rolloutLabel } from "./plan.ts";
import {
  pairedErrorsFrom,
  promotedSpec,
  type RolloutDecision,
  type RolloutLook,
  RolloutLoop,
  type RolloutSwarm,
} from "./rollout_loop.ts";

/** The policy, as labels on ml_model: 100 pairs at least, a look every 15 s. */
const POLICY_LABELS = { "ml.rollout.min-pairs": "100", "ml.rollout.look-seconds": "15" };

/** A model service's spec mounting `ml_model_<version>`, with an unrelated config beside it. */
function modelSpec(name: string, version: string, labels: Record<string, string>) {
  return {
    Name: name,
    Labels: labels,
    Mode: { Replicated: { Replicas: 3 } },
    UpdateConfig: { Order: "start-first", FailureAction: "rollback" },
    TaskTemplate: {
      ContainerSpec: {
        Image: "ml-model:1",
        Configs: [
          { File: { Name: "/etc/other" }, ConfigID: "other-id", ConfigName: "ml_other" },
          {
            File: { Name: MODEL_TARGET },
            ConfigID: `id-${version}`,
            ConfigName: `ml_model_${version}`,
          },
        ],
      },
    },
  };
}

function service(spec: ReturnType<typeof modelSpec>, version = 1): SwarmService {
  return {
    id: spec.Name,
    version,
    name: spec.Name,
    labels: spec.Labels,
    replicas: spec.Mode.Replicated.Replicas,
    env: [],
    updateState: undefined,
    spec,
  };
}

/** A Swarm of plain objects that applies updates and refuses a stale one, as Docker does. */
class FakeSwarm implements RolloutSwarm {
  readonly byName = new Map<string, SwarmService>();
  readonly calls: string[] = [];
  failNextUpdate = false;

  constructor(...services: SwarmService[]) {
    for (const s of services) this.byName.set(s.name, s);
  }

  services(): Promise<SwarmService[]> {
    return Promise.resolve([...this.byName.values()]);
  }

  updateSpec(read: SwarmService, spec: Record<string, unknown>): Promise<void> {
    const now = this.byName.get(read.name)!;
    if (now.version !== read.version) {
      return Promise.reject(new Error("update out of sequence"));
    }
    if (this.failNextUpdate) {
      this.failNextUpdate = false;
      return Promise.reject(new Error("HTTP 500"));
    }
    this.calls.push(`update ${read.name}`);
    const labels = spec.Labels as Record<string, string>;
    this.byName.set(read.name, { ...now, version: now.version + 1, labels, spec });
    return Promise.resolve();
  }

  removeService(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.byName.delete(name);
    return Promise.resolve();
  }

  rollout(): Rollout | undefined {
    const read = readRollout(this.byName.get("ml_model")!.labels);
    assert.ok(read.ok);
    return read.rollout;
  }

  mounted(): string {
    const spec = this.byName.get("ml_model")!.spec as ReturnType<typeof modelSpec>;
    return spec.TaskTemplate.ContainerSpec.Configs.find((c) => c.File.Name === MODEL_TARGET)!
      .ConfigName;
  }
}

function samples(version: string, state: PairedErrors): VectorSample[] {
  return PAIRED_ERROR_MOMENTS.map(([moment, field]) => ({
    metric: { candidate_version: version, moment },
    value: [0, String(state[field])] as const,
  }));
}

function setUp(options: { rollout?: Rollout; moments?: PairedErrors; candidate?: string } = {}) {
  const labels: Record<string, string> = { "ml.autoscale.min": "2", ...POLICY_LABELS };
  if (options.rollout) labels[ROLLOUT_LABEL] = rolloutLabel(options.rollout);
  const stable = service(modelSpec("ml_model", "v1", labels));
  const running = options.candidate === undefined ? "v2" : options.candidate;
  const candidate = running === ""
    ? []
    : [service(modelSpec("ml_model_candidate", running, { [SHADOW_VERSION_LABEL]: running }))];
  const swarm = new FakeSwarm(stable, ...candidate);
  const queries: string[] = [];
  const lines: string[] = [];
  const decisions: RolloutDecision[] = [];
  const counted: string[] = [];
  const looks: RolloutLook[] = [];
  const say = (level: string) => (message: string, properties: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${JSON.stringify(properties)}`);
  const loop = new RolloutLoop({
    stack: "ml",
    swarm,
    prometheus: {
      query(expr) {
        queries.push(expr);
        return Promise.resolve(options.moments ? samples("v2", options.moments) : []);
      },
    },
    log: { info: say("info"), warn: say("warn"), error: say("error") },
    intervalMs: 2_000,
    decisions: { inc: ({ phase }) => void counted.push(phase) },
    record: (decision) => void decisions.push(decision),
    look: (look) => void looks.push(look),
  });
  return { swarm, loop, queries, lines, decisions, counted, looks };
}

Deno.test("RolloutLoop promotes with one update: the candidate's config and the promoted phase", async () => {
  const { swarm, loop, queries, decisions, counted, lines } = setUp({
    rollout: SHADOWING,
    moments: pairs(400, 30, 40),
  });
  await loop.tick(START + 600_000);
  assert.deepEqual(queries, ['ml_metric_shadow_paired_errors{candidate_version="v2"}']);
  assert.deepEqual(swarm.calls, ["update ml_model"]);
  assert.equal(swarm.mounted(), "ml_model_v2");
  assert.equal(swarm.rollout()?.phase, "promoted");
  assert.equal(swarm.rollout()?.pairs, 400);
  // The rest of the spec is as read: the autoscaler's labels, the other config, the update order.
  const after = swarm.byName.get("ml_model")!;
  assert.equal(after.labels["ml.autoscale.min"], "2");
  assert.equal(
    (after.spec as { UpdateConfig: { Order: string } }).UpdateConfig.Order,
    "start-first",
  );
  assert.deepEqual(counted, ["promoted"]);
  assert.equal(decisions[0].pairs, 400);
  assert.ok(decisions[0].decision?.statistic, "the statistic goes to the decision log");
  assert.match(lines.join("\n"), /promoted \{candidate\} over \{stable\}.*"pairs":400/);

  // The next look removes the candidate, and the one after does nothing: never a second promotion.
  await loop.tick(START + 615_000);
  await loop.tick(START + 630_000);
  assert.deepEqual(swarm.calls, ["update ml_model", "remove ml_model_candidate"]);
  assert.deepEqual(counted, ["promoted"]);
});

Deno.test("RolloutLoop rejects a worse candidate: records it, then removes the candidate in the same look", async () => {
  const { swarm, loop, counted, lines } = setUp({
    rollout: SHADOWING,
    moments: pairs(400, 60, 40),
  });
  await loop.tick(START + 600_000);
  assert.deepEqual(swarm.calls, ["update ml_model", "remove ml_model_candidate"]);
  assert.equal(swarm.mounted(), "ml_model_v1", "the stable config never changed");
  assert.equal(swarm.rollout()?.phase, "rejected");
  assert.deepEqual(counted, ["rejected"]);
  assert.match(lines.join("\n"), /warn rejected \{candidate\}/);
});

Deno.test("RolloutLoop restarted between recording a rejection and removing the candidate removes it", async () => {
  const rejected: Rollout = { ...SHADOWING, phase: "rejected", decidedAtMs: START, pairs: 400 };
  const { swarm, loop, counted } = setUp({ rollout: rejected });
  await loop.tick(START + 600_000);
  assert.deepEqual(swarm.calls, ["remove ml_model_candidate"]);
  assert.deepEqual(counted, [], "no second decision");
});

Deno.test("RolloutLoop holds without a verdict, and says so once until the reason changes", async () => {
  const { swarm, loop, lines, looks } = setUp({ rollout: SHADOWING, moments: pairs(50, 30, 40) });
  await loop.tick(START + 600_000);
  await loop.tick(START + 615_000);
  assert.deepEqual(swarm.calls, []);
  const holds = lines.filter((l) => l.startsWith("info holding"));
  assert.equal(holds.length, 1);
  // It names whose rollout it holds: a log read later may hold several rollouts.
  assert.match(
    holds[0],
    /holding the rollout of \{candidate\}: \{why\} \{"candidate":"v2","why":"50 of/,
  );
  // Each look still goes to the dashboard: both MAEs on the pairs, no interval below min-pairs.
  assert.equal(looks.length, 2);
  assert.deepEqual(
    { ...looks[0], maeCandidate: Math.round(looks[0].maeCandidate) },
    {
      atMs: START + 600_000,
      candidate: "v2",
      stable: "v1",
      pairs: 50,
      maeCandidate: 30,
      maeStable: looks[0].maeStable,
      interval: null,
    },
  );
  assert.ok(Math.abs(looks[0].maeStable - 40) < 1e-9);
});

Deno.test("RolloutLoop holds when the pairs cannot be read, and never acts on a partial answer", async () => {
  const { swarm, loop } = setUp({ rollout: SHADOWING });
  await loop.tick(START + 600_000);
  assert.deepEqual(swarm.calls, []);
  const partial = samples("v2", pairs(400, 30, 40)).slice(1);
  assert.equal(pairedErrorsFrom(partial), undefined);
  const twice = [...samples("v2", pairs(400, 30, 40)), ...samples("v2", NO_PAIRS)];
  assert.equal(pairedErrorsFrom(twice), undefined, "two metric series cannot be told apart");
});

Deno.test("RolloutLoop aborts a rollout whose candidate vanished or runs another version", async () => {
  for (const candidate of ["", "v9"]) {
    const { swarm, loop, counted } = setUp({ rollout: SHADOWING, candidate });
    await loop.tick(START + 600_000);
    assert.equal(swarm.rollout()?.phase, "aborted", candidate);
    assert.deepEqual(counted, ["aborted"]);
    assert.deepEqual(
      swarm.calls,
      candidate === "" ? ["update ml_model"] : ["update ml_model", "remove ml_model_candidate"],
    );
  }
});

Deno.test("RolloutLoop leaves a candidate without a rollout alone, and a bad label too", async () => {
  const alone = setUp({});
  await alone.loop.tick(START);
  assert.deepEqual(alone.swarm.calls, []);
  const bad = setUp({});
  const stable = bad.swarm.byName.get("ml_model")!;
  bad.swarm.byName.set("ml_model", { ...stable, labels: { [ROLLOUT_LABEL]: "{" } });
  await bad.loop.tick(START);
  await bad.loop.tick(START + 15_000);
  assert.deepEqual(bad.swarm.calls, []);
  assert.equal(bad.lines.filter((l) => l.startsWith("warn not rolling out")).length, 1);
});

Deno.test("RolloutLoop acts on nothing under a bad policy label, and names it", async () => {
  const { swarm, loop, lines } = setUp({ rollout: SHADOWING, moments: pairs(400, 60, 40) });
  const stable = swarm.byName.get("ml_model")!;
  swarm.byName.set("ml_model", {
    ...stable,
    labels: { ...stable.labels, "ml.rollout.margin": "lots" },
  });
  await loop.tick(START + 600_000);
  assert.deepEqual(swarm.calls, []);
  assert.match(lines.join("\n"), /warn not rolling out.*ml\.rollout\.margin.*lots/);
});

Deno.test("RolloutLoop looks at the pairs at the policy's look-seconds, however often it ticks", async () => {
  const { loop, queries } = setUp({ rollout: SHADOWING, moments: pairs(50, 40, 40) });
  for (let s = 0; s < 30; s += 2) await loop.tick(START + 600_000 + s * 1000);
  assert.equal(queries.length, 2, "at 0 s and 16 s");
});

Deno.test("RolloutLoop promotes only once Swarm's own update of ml_model has ended", async () => {
  const { swarm, loop } = setUp({ rollout: SHADOWING, moments: pairs(400, 30, 40) });
  const stable = swarm.byName.get("ml_model")!;
  swarm.byName.set("ml_model", { ...stable, updateState: "updating" });
  await loop.tick(START + 600_000);
  assert.deepEqual(swarm.calls, []);
  swarm.byName.set("ml_model", { ...swarm.byName.get("ml_model")!, updateState: "completed" });
  await loop.tick(START + 615_000);
  assert.deepEqual(swarm.calls, ["update ml_model"]);
});

Deno.test("RolloutLoop makes no decision when its update is refused, and decides again next look", async () => {
  const { swarm, loop, counted } = setUp({ rollout: SHADOWING, moments: pairs(400, 30, 40) });
  swarm.failNextUpdate = true;
  await assert.rejects(loop.tick(START + 600_000), /HTTP 500/);
  assert.deepEqual(counted, []);
  assert.equal(swarm.rollout()?.phase, "shadowing");
  await loop.tick(START + 615_000);
  assert.deepEqual(counted, ["promoted"]);
  assert.equal(swarm.mounted(), "ml_model_v2");
});

Deno.test("promotedSpec() refuses a candidate that mounts no model", () => {
  const stable = service(modelSpec("ml_model", "v1", {}));
  const bare = service(modelSpec("ml_model_candidate", "v2", {}));
  (bare.spec as ReturnType<typeof modelSpec>).TaskTemplate.ContainerSpec.Configs = [];
  assert.throws(() => promotedSpec(stable, bare, SHADOWING), /mounts no model config/);
});

Deno.test("RolloutLoop does not promote again after Swarm rolled its promotion back", async () => {
  const { swarm, loop, counted } = setUp({ rollout: SHADOWING, moments: pairs(400, 30, 40) });
  await loop.tick(START + 600_000);
  assert.deepEqual(counted, ["promoted"]);
  // Swarm's rollback restores the previous spec whole: the stable config and the label.
  const promoted = swarm.byName.get("ml_model")!;
  const before = service(
    modelSpec("ml_model", "v1", {
      ...POLICY_LABELS,
      [ROLLOUT_LABEL]: rolloutLabel(SHADOWING),
    }),
    promoted.version + 1,
  );
  swarm.byName.set("ml_model", {
    ...before,
    updateState: "rollback_completed",
    updateStartedAtMs: START + 600_500,
    updateMessage: "update rolled back due to failure or early termination of task",
  });
  await loop.tick(START + 615_000);
  assert.deepEqual(counted, ["promoted", "aborted"]);
  assert.equal(swarm.mounted(), "ml_model_v1");
  assert.match(swarm.rollout()!.reason!, /Swarm rolled back the promotion of v2/);
  assert.deepEqual(swarm.calls.at(-1), "remove ml_model_candidate");
});
