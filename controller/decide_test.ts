import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decide,
  type DecideArgs,
  type Decision,
  type History,
  type Inputs,
  NO_HISTORY,
  recommend,
} from "./decide.ts";
import type { Policy } from "./policy.ts";

const POLICY: Policy = {
  min: 1,
  max: 6,
  queue: "features",
  vhost: "/",
  job: "model",
  drainSeconds: 60,
  busyRatio: 0.8,
  slots: 1,
  upWindowSeconds: 0,
  downWindowSeconds: 60,
  tolerance: 0.1,
  maxStepUp: 4,
  maxStepDown: 6,
  staleSeconds: 30,
};

/** One replica settles 20/s (50 ms per message, one at a time); handled 10/s, half busy. */
const QUIET: Inputs = {
  ready: 0,
  unacked: 0,
  arrivalsPerSecond: 10,
  recentArrivalsPerSecond: 0,
  handledPerSecond: 10,
  busySeconds: 0.5,
  backlogAgeSeconds: 3,
  handlerAgeSeconds: 3,
};

function args(over: Partial<DecideArgs> & { inputs?: Partial<Inputs> } = {}): DecideArgs {
  const { inputs, ...rest } = over;
  return {
    policy: POLICY,
    reading: { ok: true, inputs: { ...QUIET, ...inputs } },
    replicas: 1,
    holds: [],
    history: NO_HISTORY,
    nowMs: 1_000_000,
    ...rest,
  };
}

/** A history whose fresh run began `seconds` ago and recommended `replicas` all along. */
function watched(seconds: number, replicas: number, nowMs = 1_000_000): History {
  const points = [];
  for (let s = seconds; s >= 1; s -= 2) points.push({ atMs: nowMs - s * 1000, replicas });
  return { sinceMs: nowMs - seconds * 1000, points };
}

Deno.test("recommend() takes the larger of the arrivals' need and the backlog's", async (t) => {
  const cases: [string, Partial<Inputs>, number, string][] = [
    // capacity 20/s per replica: 50 ms mean, one slot
    ["10/s at 0.8 busy needs 0.625 of a replica", {}, 0.625, "arrivals"],
    ["40/s at 0.8 busy needs 2.5", { arrivalsPerSecond: 40 }, 2.5, "arrivals"],
    [
      "a backlog of 2,400 within 60 s on top of 40/s needs 4",
      { arrivalsPerSecond: 40, ready: 2000, unacked: 400 },
      4,
      "backlog",
    ],
    ["nothing arriving and nothing waiting is idle", { arrivalsPerSecond: 0 }, 0, "idle"],
  ];
  for (const [name, inputs, raw, need] of cases) {
    await t.step(name, () => {
      const r = recommend({ ...QUIET, ...inputs }, POLICY)!;
      assert.ok(Math.abs(r.raw - raw) < 1e-9, `${r.raw} ≠ ${raw}`);
      assert.equal(r.need, need);
      assert.equal(r.capacityPerReplica, 20);
    });
  }
  await t.step("slots multiply a replica's capacity (handlers that overlap)", () => {
    const r = recommend({ ...QUIET, arrivalsPerSecond: 40 }, { ...POLICY, slots: 10 })!;
    assert.equal(r.capacityPerReplica, 200);
    assert.equal(r.replicas, 1);
  });
  await t.step("the count is rounded up and clamped to the bounds", () => {
    assert.equal(recommend({ ...QUIET, arrivalsPerSecond: 1000 }, POLICY)!.replicas, 6);
    assert.equal(recommend({ ...QUIET, arrivalsPerSecond: 0 }, { ...POLICY, min: 2 })!.replicas, 2);
    assert.equal(recommend({ ...QUIET, arrivalsPerSecond: 16 }, POLICY)!.replicas, 1);
  });
  await t.step("work waiting with nothing settled cannot be measured", () => {
    assert.equal(
      recommend({ ...QUIET, handledPerSecond: 0, busySeconds: 0, ready: 5 }, POLICY),
      undefined,
    );
  });
  await t.step("no work and nothing settled is idle, at the minimum", () => {
    const r = recommend(
      { ...QUIET, handledPerSecond: 0, busySeconds: 0, arrivalsPerSecond: 0 },
      POLICY,
    )!;
    assert.deepEqual([r.need, r.replicas, r.capacityPerReplica], ["idle", 1, undefined]);
  });
});

Deno.test("decide() scales up at once, by the step limit, to what the inputs need", async (t) => {
  const cases: [
    string,
    Partial<DecideArgs> & { inputs?: Partial<Inputs> },
    string,
    string,
    number,
  ][] = [
    [
      "40/s on one replica: up to 3 for the arrivals",
      { inputs: { arrivalsPerSecond: 40 } },
      "up",
      "arrivals",
      3,
    ],
    [
      "a backlog on top: up by the step of 4 towards the backlog's need",
      { inputs: { arrivalsPerSecond: 40, ready: 4000 } },
      "up",
      "backlog",
      5,
    ],
    [
      "the step is max(maxStepUp, current): 1 → 2 with maxStepUp 1",
      { inputs: { arrivalsPerSecond: 100 }, policy: { ...POLICY, maxStepUp: 1 } },
      "up",
      "arrivals",
      2,
    ],
    [
      "and doubles from 3 with maxStepUp 1",
      { replicas: 3, inputs: { arrivalsPerSecond: 100 }, policy: { ...POLICY, maxStepUp: 1 } },
      "up",
      "arrivals",
      6,
    ],
    [
      "below the minimum: up to it",
      { replicas: 1, policy: { ...POLICY, min: 2 } },
      "up",
      "below-min",
      2,
    ],
    ["above the maximum: down to it", { replicas: 9 }, "down", "above-max", 6],
    [
      "within 10%: hold",
      { replicas: 2, inputs: { arrivalsPerSecond: 34 } },
      "hold",
      "tolerance",
      2,
    ],
    [
      "needing more than the maximum at the maximum: hold",
      { replicas: 6, inputs: { arrivalsPerSecond: 500 } },
      "hold",
      "at-max",
      6,
    ],
    [
      "an up window not yet watched: hold",
      { inputs: { arrivalsPerSecond: 40 }, policy: { ...POLICY, upWindowSeconds: 10 } },
      "hold",
      "up-window",
      1,
    ],
    [
      "an up window watched, its lowest recommendation wins",
      {
        inputs: { arrivalsPerSecond: 60 },
        policy: { ...POLICY, upWindowSeconds: 10 },
        history: watched(20, 2),
      },
      "up",
      "arrivals",
      2,
    ],
  ];
  for (const [name, over, direction, reason, replicas] of cases) {
    await t.step(name, () => {
      const d = decide(args(over));
      assert.deepEqual([d.direction, d.reason, d.replicas], [direction, reason, replicas]);
    });
  }
});

Deno.test("decide() scales down only after a whole watched window, and not soon after a change", async (t) => {
  const low = { replicas: 4, inputs: { arrivalsPerSecond: 10 } };
  const cases: [
    string,
    Partial<DecideArgs> & { inputs?: Partial<Inputs> },
    string,
    string,
    number,
  ][] = [
    ["a fresh controller has watched nothing: hold", low, "hold", "down-window", 4],
    ["half a window watched: hold", { ...low, history: watched(30, 1) }, "hold", "down-window", 4],
    [
      "a window watched, all low: down to the window's highest",
      { ...low, history: watched(61, 1) },
      "down",
      "arrivals",
      1,
    ],
    [
      "a window holding a high point: hold",
      {
        ...low,
        history: {
          sinceMs: 0,
          points: [...watched(61, 1).points, { atMs: 1_000_000 - 20_000, replicas: 4 }],
        },
      },
      "hold",
      "down-window",
      4,
    ],
    [
      "a window whose highest is 2: down to 2",
      {
        ...low,
        history: {
          sinceMs: 0,
          points: [...watched(61, 1).points, { atMs: 1_000_000 - 20_000, replicas: 2 }],
        },
      },
      "down",
      "arrivals",
      2,
    ],
    [
      "changed 30 s ago (a restart's labels): hold",
      { ...low, history: watched(61, 1), lastChangeMs: 1_000_000 - 30_000 },
      "hold",
      "cooldown",
      4,
    ],
    [
      "changed 61 s ago: down",
      { ...low, history: watched(61, 1), lastChangeMs: 1_000_000 - 61_000 },
      "down",
      "arrivals",
      1,
    ],
    [
      "by at most maxStepDown",
      { ...low, history: watched(61, 1), policy: { ...POLICY, maxStepDown: 1 } },
      "down",
      "arrivals",
      3,
    ],
    [
      "idle goes to the minimum",
      { ...low, inputs: { arrivalsPerSecond: 0 }, history: watched(61, 1) },
      "down",
      "idle",
      1,
    ],
    [
      "messages waiting ready: hold, the replicas drain them first",
      { ...low, inputs: { arrivalsPerSecond: 10, ready: 30 }, history: watched(61, 1) },
      "hold",
      "waiting",
      4,
    ],
    [
      "within 10% of ten replicas: hold",
      {
        replicas: 10,
        inputs: { arrivalsPerSecond: 9 * 16 },
        policy: { ...POLICY, max: 20 },
        history: watched(61, 9),
      },
      "hold",
      "tolerance",
      10,
    ],
  ];
  for (const [name, over, direction, reason, replicas] of cases) {
    await t.step(name, () => {
      const d = decide(args(over));
      assert.deepEqual([d.direction, d.reason, d.replicas], [direction, reason, replicas]);
    });
  }
});

Deno.test("decide() counts the drain target from when messages began to wait", async (t) => {
  // 1,200 ready with 10/s arriving, replicas of 20/s: (10 + 1200/60) / 20 = 1.5 → 2 at once.
  const waiting = { replicas: 2, inputs: { arrivalsPerSecond: 10, ready: 1200 } };
  await t.step("a backlog seen now is to be drained in the whole drainSeconds", () => {
    const d = decide(args(waiting));
    assert.deepEqual([d.direction, d.recommendation!.drainLeftSeconds], ["hold", 60]);
    assert.equal(d.history.backlogSinceMs, 1_000_000);
  });
  await t.step("the same backlog 30 s later: in the 30 s left, so 3 replicas", () => {
    const history = { ...watched(30, 2), backlogSinceMs: 1_000_000 - 30_000 };
    const d = decide(args({ ...waiting, history }));
    assert.equal(d.recommendation!.drainLeftSeconds, 30);
    assert.deepEqual([d.direction, d.reason, d.replicas], ["up", "backlog", 3]);
  });
  await t.step("never in less than a quarter of drainSeconds", () => {
    const history = { ...watched(30, 2), backlogSinceMs: 1_000_000 - 600_000 };
    assert.equal(decide(args({ ...waiting, history })).recommendation!.drainLeftSeconds, 15);
  });
  await t.step("nothing ready: the clock stops", () => {
    const history = { ...watched(30, 2), backlogSinceMs: 1_000_000 - 30_000 };
    const d = decide(args({ replicas: 2, inputs: { unacked: 2 }, history }));
    assert.equal(d.history.backlogSinceMs, undefined);
  });
  await t.step("the last scrape's arrivals count when they are higher than the window's", () => {
    const d = decide(args({ inputs: { arrivalsPerSecond: 12, recentArrivalsPerSecond: 40 } }));
    assert.deepEqual([d.direction, d.replicas, d.recommendation!.arrivals], ["up", 3, 40]);
  });
});

Deno.test("decide() holds on missing, stale or unmeasurable inputs, and forgets what it watched", async (t) => {
  const high = { replicas: 4, history: watched(120, 1) };
  const cases: [string, Partial<DecideArgs>, string][] = [
    [
      "Prometheus unreachable",
      { ...high, reading: { ok: false, missing: ["prometheus"] } },
      "missing",
    ],
    ["a backlog sample 31 s old", {
      ...high,
      reading: { ok: true, inputs: { ...QUIET, backlogAgeSeconds: 31 } },
    }, "stale"],
    ["a handler sample 31 s old", {
      ...high,
      reading: { ok: true, inputs: { ...QUIET, handlerAgeSeconds: 31 } },
    }, "stale"],
    ["an age that is not a number", {
      ...high,
      reading: { ok: true, inputs: { ...QUIET, handlerAgeSeconds: Number.NaN } },
    }, "stale"],
    [
      "work waiting, nothing settled",
      {
        ...high,
        reading: { ok: true, inputs: { ...QUIET, handledPerSecond: 0, busySeconds: 0, ready: 9 } },
      },
      "no-throughput",
    ],
  ];
  for (const [name, over, reason] of cases) {
    await t.step(name, () => {
      const d = decide(args(over));
      assert.deepEqual([d.direction, d.reason, d.replicas], ["hold", reason, 4]);
      assert.deepEqual(d.history, NO_HISTORY);
    });
  }
});

Deno.test("decide() holds while another loop or a person holds, or a rollout runs, but keeps watching", async (t) => {
  for (
    const [name, over, reason] of [
      ["a hold label", { holds: ["ml.hold.rollout=canary"] }, "held"],
      ["a rolling update", { rollout: "updating" }, "rollout"],
    ] as const
  ) {
    await t.step(name, () => {
      const d = decide(args({ ...over, inputs: { arrivalsPerSecond: 100 } }));
      assert.deepEqual([d.direction, d.reason, d.replicas], ["hold", reason, 1]);
      assert.equal(d.history.points.length, 1);
    });
  }
});

// --- Properties ------------------------------------------------------------------------------

const policies = fc.record({
  min: fc.integer({ min: 1, max: 5 }),
  span: fc.integer({ min: 0, max: 10 }),
  drainSeconds: fc.integer({ min: 1, max: 600 }),
  busyRatio: fc.double({ min: 0.05, max: 1, noNaN: true }),
  slots: fc.integer({ min: 1, max: 100 }),
  upWindowSeconds: fc.integer({ min: 0, max: 60 }),
  downWindowSeconds: fc.integer({ min: 0, max: 300 }),
  tolerance: fc.double({ min: 0, max: 0.5, noNaN: true }),
  maxStepUp: fc.integer({ min: 1, max: 10 }),
  maxStepDown: fc.integer({ min: 1, max: 10 }),
}).map(({ span, ...p }): Policy => ({
  ...POLICY,
  ...p,
  max: p.min + span,
}));

const inputs = fc.record({
  ready: fc.integer({ min: 0, max: 100_000 }),
  unacked: fc.integer({ min: 0, max: 1_000 }),
  arrivalsPerSecond: fc.double({ min: 0, max: 5_000, noNaN: true }),
  recentArrivalsPerSecond: fc.double({ min: 0, max: 5_000, noNaN: true }),
  handledPerSecond: fc.double({ min: 0, max: 5_000, noNaN: true }),
  busySeconds: fc.double({ min: 0, max: 500, noNaN: true }),
  backlogAgeSeconds: fc.double({ min: 0, max: 120, noNaN: true }),
  handlerAgeSeconds: fc.double({ min: 0, max: 120, noNaN: true }),
});

/** Runs `decide` every `stepMs` for `steps` ticks, applying each action; the decisions made. */
function run(
  policy: Policy,
  start: number,
  inputsAt: (tick: number) => Inputs | undefined,
  steps: number,
  stepMs = 2_000,
): Decision[] {
  let replicas = start;
  let history = NO_HISTORY;
  let lastChangeMs: number | undefined;
  const decisions: Decision[] = [];
  for (let tick = 0; tick < steps; tick++) {
    const nowMs = 1_000_000 + tick * stepMs;
    const at = inputsAt(tick);
    const d = decide({
      policy,
      reading: at ? { ok: true, inputs: at } : { ok: false, missing: ["prometheus"] },
      replicas,
      holds: [],
      history,
      lastChangeMs,
      nowMs,
    });
    history = d.history;
    if (d.direction !== "hold") {
      replicas = d.replicas;
      lastChangeMs = nowMs;
    }
    decisions.push(d);
  }
  return decisions;
}

Deno.test("property: every replica count decide() sets is within the bounds", () => {
  fc.assert(
    fc.property(policies, inputs, fc.integer({ min: 0, max: 20 }), (policy, at, replicas) => {
      const d = decide({
        policy,
        reading: { ok: true, inputs: at },
        replicas,
        holds: [],
        history: NO_HISTORY,
        nowMs: 0,
      });
      if (d.direction === "hold") return d.replicas === replicas;
      return d.replicas >= policy.min && d.replicas <= policy.max;
    }),
  );
});

Deno.test("property: decide() never scales down on stale or missing inputs, whatever it watched before", () => {
  fc.assert(
    fc.property(
      policies,
      inputs,
      fc.integer({ min: 1, max: 20 }),
      fc.oneof(fc.constant("missing"), fc.constant("stale")),
      (policy, at, replicas, kind) => {
        const reading = kind === "missing" ? { ok: false as const, missing: ["prometheus"] } : {
          ok: true as const,
          inputs: { ...at, backlogAgeSeconds: policy.staleSeconds + 0.001 },
        };
        const d = decide({
          policy,
          reading,
          replicas,
          holds: [],
          history: watched(3_600, policy.min),
          nowMs: 1_000_000,
        });
        return d.direction === "hold" && d.replicas === replicas;
      },
    ),
  );
});

Deno.test("property: under steady inputs decide() never reverses, and settles", () => {
  fc.assert(
    fc.property(policies, inputs, fc.integer({ min: 1, max: 15 }), (policy, at, start) => {
      const fresh = { ...at, backlogAgeSeconds: 1, handlerAgeSeconds: 1 };
      // Long enough for every step down, each a window apart, and for the urgency of a waiting
      // backlog to reach its cap (three quarters of drainSeconds), ticking every 5 s.
      const steps = Math.ceil(Math.abs(start - policy.min) / policy.maxStepDown) + 2;
      const ramp = 0.75 * policy.drainSeconds + policy.upWindowSeconds;
      const ticks = Math.ceil((steps * (policy.downWindowSeconds + 10) + ramp) / 5) + 20;
      const decisions = run(policy, start, () => fresh, ticks, 5_000);
      const moves = decisions.filter((d) => d.direction !== "hold").map((d) => d.direction);
      const reversals = moves.filter((m, i) => i > 0 && m !== moves[i - 1]).length;
      const settled = decisions.slice(-10).every((d) => d.direction === "hold");
      return reversals === 0 && settled;
    }),
    { numRuns: 200 },
  );
});

Deno.test("property: a recommendation flickering across one step never moves the count down", () => {
  // Noise between two neighbouring counts: up at once is allowed, down never, as the window's
  // highest point is always the higher count.
  fc.assert(
    fc.property(
      policies,
      fc.array(fc.boolean(), { minLength: 50, maxLength: 300 }),
      (policy, flips) => {
        const p = {
          ...policy,
          min: 1,
          max: Math.max(policy.max, 4),
          downWindowSeconds: Math.max(policy.downWindowSeconds, 10),
        };
        const capacity = 20;
        const high = {
          ...QUIET,
          arrivalsPerSecond: 2.6 * capacity * p.busyRatio,
          handledPerSecond: 10,
          busySeconds: 10 * p.slots / capacity,
        };
        const low = { ...high, arrivalsPerSecond: 2.2 * capacity * p.busyRatio };
        // ticks alternate by the flips, but every 5 s window of 2 s ticks holds a high one
        const decisions = run(
          p,
          3,
          (tick) => (flips[tick % flips.length] || tick % 2 === 0 ? high : low),
          flips.length,
        );
        return decisions.every((d) => d.direction !== "down");
      },
    ),
  );
});
