import assert from "node:assert/strict";
import { AutoscaleLoop, type DecisionPoint, HOLD_AFTER_CHANGE_MS } from "./autoscale_loop.ts";
import type { SwarmPort, SwarmService } from "./docker_api.ts";
import type { VectorSample } from "./inputs.ts";
import { readScaleState } from "./labels.ts";
import { createControllerTelemetry } from "./telemetry.ts";

const POLICY_LABELS = {
  "com.docker.stack.namespace": "ml",
  "ml.autoscale.min": "1",
  "ml.autoscale.max": "6",
  "ml.autoscale.queue": "features",
  "ml.autoscale.down-window": "60",
};

function service(over: Partial<SwarmService> = {}): SwarmService {
  return {
    id: "svc-model",
    version: 7,
    name: "ml_model",
    labels: POLICY_LABELS,
    replicas: 1,
    env: ["PREFETCH=1"],
    updateState: undefined,
    spec: { Name: "ml_model" },
    ...over,
  };
}

/** Prometheus's answer for one replica settling 20/s at most, with `arrivals` and `ready`. */
function answer(arrivals: number, ready = 0, age = 2): VectorSample[] {
  const values: Record<string, number> = {
    ready,
    unacked: 0,
    arrivals,
    recent_arrivals: arrivals,
    handled: 10,
    busy: 0.5,
    backlog_age: age,
    handler_age: age,
  };
  return Object.entries(values).map(([input, value]) => ({
    metric: { input },
    value: [0, String(value)] as const,
  }));
}

/** A swarm holding `services`, recording every update, that fails updates while `refuse`. */
function fakeSwarm(services: SwarmService[], refuse = false) {
  const updates: {
    id: string;
    version: number;
    replicas: number;
    labels: Record<string, string>;
  }[] = [];
  const port: SwarmPort = {
    services: () => Promise.resolve(services.map((s) => ({ ...s }))),
    runningTasks: (name) => Promise.resolve(services.find((s) => s.name === name)?.replicas ?? 0),
    nodes: () => Promise.resolve([]),
    update(svc, change) {
      if (refuse) return Promise.reject(new Error("HTTP 500, update out of sequence"));
      updates.push({ id: svc.id, version: svc.version, ...change });
      const i = services.findIndex((s) => s.id === svc.id);
      services[i] = {
        ...services[i],
        version: services[i].version + 1,
        replicas: change.replicas,
        labels: change.labels,
      };
      return Promise.resolve();
    },
  };
  return { port, updates, services };
}

function fixture(
  services: SwarmService[],
  options: { prometheus?: () => Promise<VectorSample[]>; refuse?: boolean } = {},
) {
  const swarm = fakeSwarm(services, options.refuse);
  const logs: { level: string; message: string; properties: Record<string, unknown> }[] = [];
  const queries: string[] = [];
  const points: DecisionPoint[] = [];
  const telemetry = createControllerTelemetry("controller.1", { memoryLimitBytes: 0 });
  const push = (level: string) => (message: string, properties: Record<string, unknown>) =>
    logs.push({ level, message, properties });
  const loop = new AutoscaleLoop({
    swarm: swarm.port,
    prometheus: {
      query(expr) {
        queries.push(expr);
        return options.prometheus?.() ?? Promise.resolve(answer(10));
      },
    },
    log: { info: push("info"), warn: push("warn"), error: push("error") },
    telemetry,
    intervalMs: 2000,
    rateWindowSeconds: 20,
    record: (point) => points.push(point),
  });
  return { loop, swarm, logs, queries, points, telemetry };
}

Deno.test("AutoscaleLoop never touches a service without policy labels", async () => {
  const f = fixture([service({ labels: { "com.docker.stack.namespace": "ml" } })], {
    prometheus: () => Promise.resolve(answer(500, 10_000)),
  });
  await f.loop.tick(1_000_000);
  assert.deepEqual([f.swarm.updates, f.queries, f.logs], [[], [], []]);
});

Deno.test("AutoscaleLoop leaves a service with a bad policy alone and says why once", async () => {
  const f = fixture([service({ labels: { ...POLICY_LABELS, "ml.autoscale.max": "lots" } })]);
  await f.loop.tick(1_000_000);
  await f.loop.tick(1_002_000);
  assert.deepEqual(f.swarm.updates, []);
  assert.equal(f.logs.length, 1);
  assert.match(String(f.logs[0].properties.problems), /'ml.autoscale.max' must be an integer/);
  assert.match(
    await f.telemetry.registry.metrics(),
    /ml_autoscale_policy_valid\{scaled="ml_model".*\} 0/,
  );
});

Deno.test("AutoscaleLoop scales up with one update that sets the count, the state and its hold", async () => {
  const f = fixture([service()], { prometheus: () => Promise.resolve(answer(60, 300)) });
  await f.loop.tick(1_000_000);
  assert.equal(f.swarm.updates.length, 1);
  const update = f.swarm.updates[0];
  assert.equal(update.version, 7);
  assert.equal(update.replicas, 4); // 60/s at 0.8 busy on replicas of 20/s: 3.75
  assert.deepEqual(readScaleState(update.labels), {
    lastChangeMs: 1_000_000,
    direction: "up",
    replicas: 4,
  });
  assert.match(
    update.labels["ml.hold.autoscale"],
    new RegExp(`^until ${new Date(1_000_000 + HOLD_AFTER_CHANGE_MS).toISOString()}; scaled 1 → 4`),
  );
  assert.equal(update.labels["ml.autoscale.queue"], "features", "the policy labels stay");
  const decided = f.logs.find((l) => l.message.startsWith("decided"))!;
  assert.equal(decided.level, "info");
  for (const key of ["backlog", "arrivals", "capacity", "recommended", "running", "reason"]) {
    assert.notEqual(decided.properties[key], undefined, key);
  }
  assert.ok(f.logs.some((l) => l.message.startsWith("scaled {scaled} {direction}")));
  assert.deepEqual(f.points.map((p) => [p.direction, p.replicas, p.backlog]), [["up", 4, 300]]);
});

Deno.test("AutoscaleLoop holds while another loop or a person holds the service", async () => {
  const f = fixture([service({ labels: { ...POLICY_LABELS, "ml.hold.rollout": "canary v2" } })], {
    prometheus: () => Promise.resolve(answer(60, 300)),
  });
  await f.loop.tick(1_000_000);
  assert.deepEqual(f.swarm.updates, []);
  assert.equal(f.points[0].reason, "held");
  assert.equal(f.logs[0].properties.holds, "ml.hold.rollout");
});

Deno.test("AutoscaleLoop holds while Swarm rolls an update out", async () => {
  const f = fixture([service({ updateState: "updating" })], {
    prometheus: () => Promise.resolve(answer(60, 300)),
  });
  await f.loop.tick(1_000_000);
  assert.deepEqual([f.swarm.updates, f.points[0].reason], [[], "rollout"]);
});

Deno.test("AutoscaleLoop holds, warns and exports it when Prometheus cannot answer", async () => {
  const f = fixture([service({ replicas: 4 })], {
    prometheus: () =>
      Promise.reject(new Error("Cannot query Prometheus at http://prometheus:9090")),
  });
  await f.loop.tick(1_000_000);
  assert.deepEqual(f.swarm.updates, []);
  const line = f.logs.find((l) => l.message.startsWith("decided"))!;
  assert.equal(line.level, "warn");
  assert.equal(line.properties.reason, "missing");
  assert.match(String(line.properties.error), /Cannot query Prometheus/);
  assert.match(
    await f.telemetry.registry.metrics(),
    /ml_autoscale_inputs_usable\{scaled="ml_model".*\} 0/,
  );
});

Deno.test("AutoscaleLoop restarted after a change resumes without a second one", async (t) => {
  // The first controller scaled down to 3 at t=1,000 s and died; its labels say so.
  const labels = {
    ...POLICY_LABELS,
    "ml.autoscale.state.last-change": new Date(1_000_000).toISOString(),
    "ml.autoscale.state.direction": "down",
    "ml.autoscale.state.replicas": "3",
  };
  const f = fixture([service({ replicas: 3, labels })], {
    prometheus: () => Promise.resolve(answer(0)),
  });
  await t.step("the new one holds for a whole down window, from its own start", async () => {
    for (let s = 10; s < 70; s += 2) await f.loop.tick(1_000_000 + s * 1000);
    assert.deepEqual(f.swarm.updates, []);
    assert.deepEqual(new Set(f.points.map((p) => p.reason)), new Set(["down-window"]));
  });
  await t.step("then goes on down", async () => {
    for (let s = 70; s < 80; s += 2) await f.loop.tick(1_000_000 + s * 1000);
    assert.deepEqual(f.swarm.updates.map((u) => u.replicas), [1]);
  });
});

Deno.test("AutoscaleLoop treats a count someone else set as a change: no scale-down for a window", async () => {
  const f = fixture([service({ replicas: 2 })], { prometheus: () => Promise.resolve(answer(0)) });
  for (let s = 0; s <= 60; s += 2) await f.loop.tick(1_000_000 + s * 1000);
  assert.deepEqual(f.swarm.updates.map((u) => u.replicas), [1]);
  f.swarm.services[0] = { ...f.swarm.services[0], replicas: 4 }; // docker service scale ml_model=4
  for (let s = 62; s <= 120; s += 2) await f.loop.tick(1_000_000 + s * 1000);
  assert.deepEqual(f.swarm.updates.map((u) => u.replicas), [1]);
  assert.ok(f.logs.some((l) => l.message.startsWith("replicas of {scaled} changed outside")));
  for (let s = 122; s <= 130; s += 2) await f.loop.tick(1_000_000 + s * 1000);
  assert.deepEqual(f.swarm.updates.map((u) => u.replicas), [1, 1]);
});

Deno.test("AutoscaleLoop counts a change of direction as a reversal", async () => {
  const labels = {
    ...POLICY_LABELS,
    "ml.autoscale.state.last-change": new Date(0).toISOString(),
    "ml.autoscale.state.direction": "down",
    "ml.autoscale.state.replicas": "1",
  };
  const f = fixture([service({ labels })], { prometheus: () => Promise.resolve(answer(60)) });
  await f.loop.tick(1_000_000);
  assert.match(
    await f.telemetry.registry.metrics(),
    /ml_autoscale_reversals_total\{scaled="ml_model".*\} 1/,
  );
});

Deno.test("AutoscaleLoop logs and counts an update the Docker API refuses, and goes on", async () => {
  const f = fixture([service()], {
    prometheus: () => Promise.resolve(answer(60, 300)),
    refuse: true,
  });
  await f.loop.tick(1_000_000);
  const error = f.logs.find((l) => l.level === "error")!;
  assert.match(String(error.properties.error), /update out of sequence/);
  assert.match(
    await f.telemetry.registry.metrics(),
    /ml_autoscale_updates_failed_total\{scaled="ml_model".*\} 1/,
  );
});
