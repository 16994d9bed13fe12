import assert from "node:assert/strict";
import fc from "fast-check";
import { type ShadowHalf, shadowKey, ShadowPairer, type StableOutcome } from "./shadow_pairer.ts";

const TTL = 100;

function pairer(options: Partial<ConstructorParameters<typeof ShadowPairer>[0]> = {}) {
  return new ShadowPairer<string>({ ttlMs: TTL, seenCapacity: 8, outcomeCapacity: 4, ...options });
}

const half = (id: string, arrivedAt = 0, version = "v2", value = 150): ShadowHalf<string> => ({
  id,
  version,
  value,
  arrivedAt,
  token: `${version}/${id}@${arrivedAt}`,
});

const outcome = (id: string, yTrue = 151, absoluteError = 9): StableOutcome => ({
  id,
  yTrue,
  absoluteError,
  modelVersion: "v1",
});

Deno.test("ShadowPairer pairs a prediction that waited with the stable outcome when it comes", () => {
  const p = pairer();
  assert.deepEqual(p.offer(half("a", 0)), { kind: "pending" });
  assert.equal(p.pendingCount, 1);
  const matches = p.noteStable(outcome("a"), 10);
  assert.deepEqual(matches, [{ half: half("a", 0), stable: outcome("a") }]);
  assert.equal(p.pendingCount, 0);
  // Recorded: the same prediction again is a duplicate.
  assert.deepEqual(p.offer(half("a", 20)), { kind: "recorded" });
});

Deno.test("ShadowPairer keeps stable outcomes while shadowing, and pairs a late prediction at once", () => {
  const p = pairer();
  p.offer(half("first", 0)); // a shadow is running from now on
  assert.deepEqual(p.noteStable(outcome("b"), 5), []);
  assert.equal(p.outcomeCount, 1);
  assert.deepEqual(p.offer(half("b", 30)), {
    kind: "paired",
    match: { half: half("b", 30), stable: outcome("b") },
  });
});

Deno.test("ShadowPairer keeps nothing for a candidate when none is shadowing", () => {
  const p = pairer();
  assert.equal(p.shadowing(0), false);
  p.noteStable(outcome("x"), 0);
  assert.equal(p.outcomeCount, 0);
  // The last prediction was longer than ttlMs ago: no longer shadowing.
  p.offer(half("y", 0));
  assert.equal(p.shadowing(TTL), true);
  assert.equal(p.shadowing(TTL + 1), false);
  p.noteStable(outcome("z"), TTL + 1);
  assert.equal(p.outcomeCount, 0);
});

Deno.test("ShadowPairer restarted in a shadow keeps outcomes from the start: the backlog pairs", () => {
  const p = pairer({ shadowingSince: 1000 });
  assert.equal(p.shadowing(1000 + TTL), true);
  p.noteStable(outcome("backlog"), 1010);
  assert.equal(p.offer(half("backlog", 1020)).kind, "paired");
  assert.equal(p.shadowing(1020 + TTL + 1), false);
});

Deno.test("ShadowPairer keeps one prediction per version and sample; two versions both pair", () => {
  const p = pairer();
  assert.deepEqual(p.offer(half("a", 0, "v2")), { kind: "pending" });
  assert.deepEqual(p.offer(half("a", 1, "v2")), { kind: "replaced", replaced: half("a", 0, "v2") });
  assert.deepEqual(p.offer(half("a", 2, "v3")), { kind: "pending" });
  const matches = p.noteStable(outcome("a"), 3);
  assert.deepEqual(matches.map((m) => m.half.token), ["v2/a@1", "v3/a@2"]);
});

Deno.test("ShadowPairer expires predictions and outcomes older than ttlMs, the outcomes by age", () => {
  const p = pairer();
  p.offer(half("waits", 0));
  p.noteStable(outcome("old"), 10);
  p.noteStable(outcome("young"), 60);
  assert.deepEqual(p.expire(TTL).map((h) => h.id), []);
  assert.deepEqual(p.expire(TTL + 1).map((h) => h.id), ["waits"]);
  assert.equal(p.outcomeCount, 2);
  p.expire(TTL + 11);
  assert.equal(p.outcomeCount, 1);
  // The young one still pairs (the shadow stopped, but what it kept is still good).
  assert.equal(p.offer(half("young", TTL + 20)).kind, "paired");
});

Deno.test("ShadowPairer keeps at most outcomeCapacity outcomes, the newest", () => {
  const p = pairer({ outcomeCapacity: 2 });
  p.offer(half("start", 0));
  for (const id of ["a", "b", "c"]) p.noteStable(outcome(id), 1);
  assert.equal(p.outcomeCount, 2);
  assert.equal(p.offer(half("a", 2)).kind, "pending");
  assert.equal(p.offer(half("c", 2)).kind, "paired");
});

Deno.test("ShadowPairer forgets the oldest keys past seenCapacity; markRecorded restores them", () => {
  const p = pairer({ seenCapacity: 2 });
  p.markRecorded(shadowKey("v2", "a"));
  p.markRecorded(shadowKey("v2", "b"));
  assert.equal(p.offer(half("a")).kind, "recorded");
  assert.equal(p.offer(half("a", 0, "v3")).kind, "pending");
  p.markRecorded(shadowKey("v2", "c"));
  assert.equal(p.offer(half("a")).kind, "pending");
});

Deno.test("ShadowPairer refuses settings that cannot work, naming them", () => {
  assert.throws(() => pairer({ ttlMs: 0 }), /'ttlMs' must be positive: current value is 0/);
  assert.throws(
    () => pairer({ seenCapacity: 1.5 }),
    /'seenCapacity' must be a positive integer: current value is 1.5/,
  );
  assert.throws(() => pairer({ outcomeCapacity: 0 }), /'outcomeCapacity' must be a positive/);
});

Deno.test("ShadowPairer pairs each prediction at most once, whatever the order of arrivals", () => {
  // Stable outcomes and candidate predictions (some sent twice) in any order, all within the TTL:
  // every sample predicted is paired exactly once, and nothing is left waiting.
  const event = fc.oneof(
    fc.record({ kind: fc.constant("stable" as const), id: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ kind: fc.constant("shadow" as const), id: fc.integer({ min: 0, max: 5 }) }),
  );
  fc.assert(fc.property(fc.array(event, { maxLength: 40 }), (events) => {
    const p = pairer({ seenCapacity: 100, outcomeCapacity: 100 });
    p.offer(half("warm-up", 0)); // shadowing from the start
    const paired = new Map<string, number>();
    const stable = new Set<string>();
    const count = (id: string) => paired.set(id, (paired.get(id) ?? 0) + 1);
    for (const [i, e] of events.entries()) {
      const id = `s${e.id}`;
      if (e.kind === "stable") {
        if (stable.has(id)) continue; // metric records a stable pair once
        stable.add(id);
        for (const m of p.noteStable(outcome(id), i)) count(m.half.id);
      } else {
        const offer = p.offer(half(id, i));
        if (offer.kind === "paired") count(offer.match.half.id);
      }
    }
    const predicted = new Set(events.filter((e) => e.kind === "shadow").map((e) => `s${e.id}`));
    for (const id of predicted) {
      assert.equal(paired.get(id) ?? 0, stable.has(id) ? 1 : 0, id);
    }
    assert.equal(p.pendingCount, [...predicted].filter((id) => !stable.has(id)).length + 1);
  }));
});
