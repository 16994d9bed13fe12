import assert from "node:assert/strict";
import { pairs, SHADOWING, START } from "./fixtures_test_util.ts";
import {
  type Observation,
  planRollout,
  readRollout,
  type Rollout,
  ROLLOUT_LABEL,
  rolloutLabel,
  SCALE_SETTLE_MS,
} from "./plan.ts";
import { DEFAULT_ROLLOUT_POLICY } from "./rollout_policy.ts";

const POLICY = { ...DEFAULT_ROLLOUT_POLICY, minPairs: 100 };

const look = (overrides: Partial<Observation> = {}): Observation => ({
  nowMs: START + 600_000,
  rollout: SHADOWING,
  stableVersion: "v1",
  candidateVersion: "v2",
  moments: pairs(50, 40, 40),
  ...overrides,
});

Deno.test("planRollout() holds below the minimum pairs and promotes an equal candidate after", () => {
  const early = planRollout(look(), POLICY);
  assert.equal(early.kind, "hold");
  const promote = planRollout(look({ moments: pairs(400, 40, 40) }), POLICY);
  assert.equal(promote.kind, "promote");
  if (promote.kind !== "promote") return;
  assert.deepEqual(
    { ...promote.rollout, reason: undefined },
    {
      ...SHADOWING,
      phase: "promoted",
      decidedAtMs: START + 600_000,
      pairs: 400,
      reason: undefined,
    },
  );
  assert.match(promote.rollout.reason!, /within the \+2\.0% margin/);
});

Deno.test("planRollout() rejects a worse candidate and records it before the candidate goes", () => {
  const step = planRollout(look({ moments: pairs(400, 48, 40) }), POLICY);
  assert.equal(step.kind, "end");
  if (step.kind !== "end") return;
  assert.equal(step.rollout.phase, "rejected");
  assert.equal(step.rollout.pairs, 400);
  // The next look finds it decided with the candidate still there: it removes it, once.
  const next = planRollout(look({ rollout: step.rollout }), POLICY);
  assert.deepEqual(next, { kind: "remove-candidate", why: "the rollout of v2 is rejected" });
  const after = planRollout(look({ rollout: step.rollout, candidateVersion: undefined }), POLICY);
  assert.equal(after.kind, "idle");
});

Deno.test("planRollout() never promotes twice: a promoted rollout only removes its candidate", () => {
  const promoted: Rollout = { ...SHADOWING, phase: "promoted", decidedAtMs: START, pairs: 400 };
  // Resumed after a kill between the swap and the removal: ml_model serves v2 now.
  const step = planRollout(
    look({ rollout: promoted, stableVersion: "v2", moments: pairs(400, 30, 40) }),
    POLICY,
  );
  assert.deepEqual(step, { kind: "remove-candidate", why: "the rollout of v2 is promoted" });
});

Deno.test("planRollout() waits for the replica count to settle before promoting", () => {
  const now = START + 600_000;
  const moments = pairs(400, 40, 40);
  const moving = planRollout(look({ moments, lastScaleMs: now - SCALE_SETTLE_MS + 1 }), POLICY);
  assert.equal(moving.kind, "hold");
  assert.match((moving as { why: string }).why, /once the replica count has settled/);
  const settled = planRollout(look({ moments, lastScaleMs: now - SCALE_SETTLE_MS }), POLICY);
  assert.equal(settled.kind, "promote");
});

Deno.test("planRollout() aborts when what it measures changed under it", async (t) => {
  const cases: [string, Partial<Observation>, RegExp][] = [
    ["the candidate's service gone", { candidateVersion: undefined }, /service is gone/],
    ["another candidate version", { candidateVersion: "v3" }, /runs v3 instead/],
    ["another stable version", { stableVersion: "v0" }, /serves v0, not v1/],
    [
      "nothing readable until the time limit",
      { moments: undefined, nowMs: START + POLICY.timeLimitSeconds * 1000 },
      /no pairs readable within the time limit/,
    ],
  ];
  for (const [name, overrides, reason] of cases) {
    await t.step(name, () => {
      const step = planRollout(look(overrides), POLICY);
      assert.equal(step.kind, "end");
      if (step.kind !== "end") return;
      assert.equal(step.rollout.phase, "aborted");
      assert.match(step.rollout.reason!, reason);
    });
  }
  await t.step("unreadable pairs before the limit hold", () => {
    assert.deepEqual(planRollout(look({ moments: undefined }), POLICY), {
      kind: "hold",
      why: "the candidate's pairs cannot be read now",
    });
  });
});

Deno.test("planRollout() leaves a candidate without a rollout alone", () => {
  assert.deepEqual(planRollout(look({ rollout: undefined }), POLICY), {
    kind: "idle",
    why: "a candidate (v2) shadows without a rollout: left alone",
  });
  assert.deepEqual(planRollout(look({ rollout: undefined, candidateVersion: undefined }), POLICY), {
    kind: "idle",
    why: "no rollout",
  });
});

Deno.test("readRollout() reads back rolloutLabel(), and says why another value is not one", () => {
  const decided: Rollout = {
    ...SHADOWING,
    phase: "aborted",
    decidedAtMs: START + 1,
    reason: "x",
    pairs: 3,
  };
  assert.deepEqual(readRollout({ [ROLLOUT_LABEL]: rolloutLabel(decided) }), {
    ok: true,
    rollout: decided,
  });
  assert.deepEqual(readRollout({}), { ok: true });
  assert.deepEqual(readRollout({ [ROLLOUT_LABEL]: "{" }), {
    ok: false,
    reason: "ml.rollout.state is not JSON: {",
  });
  const wrong = rolloutLabel({ ...SHADOWING, phase: "done" as never });
  assert.equal(readRollout({ [ROLLOUT_LABEL]: wrong }).ok, false);
});

Deno.test("planRollout() ends a rollout whose promotion Swarm rolled back, and ignores an older rollback", () => {
  // The rollback restored the label as it was before the promotion: shadowing.
  const after = planRollout(
    look({
      moments: pairs(400, 30, 40),
      rolledBack: { startedAtMs: START + 300_000, message: "update rolled back: task failed" },
    }),
    POLICY,
  );
  assert.equal(after.kind, "end");
  assert.equal(after.kind === "end" && after.rollout.phase, "aborted");
  assert.match(
    after.kind === "end" ? after.rollout.reason! : "",
    /Swarm rolled back the promotion of v2: update rolled back: task failed/,
  );
  const before = planRollout(
    look({
      moments: pairs(400, 30, 40),
      rolledBack: { startedAtMs: START - 1, message: "an older update" },
    }),
    POLICY,
  );
  assert.equal(before.kind, "promote");
});
