import assert from "node:assert/strict";
import {
  holdsAgainst,
  holdValue,
  parseHold,
  readScaleState,
  withHold,
  withScaleState,
} from "./labels.ts";

Deno.test("holdsAgainst() gives a loop everyone's unexpired holds but its own", () => {
  const now = Date.parse("2030-01-01T12:00:00Z");
  const labels = {
    "ml.hold.manual": "load test",
    "ml.hold.rollout": holdValue("canary v2", now + 60_000),
    "ml.hold.autoscale": holdValue("scaled 1 → 4", now + 60_000),
    "ml.hold.old": holdValue("lapsed", now - 1),
    "ml.autoscale.min": "1",
  };
  assert.deepEqual(holdsAgainst(labels, "autoscale", now).map((h) => h.label), [
    "ml.hold.manual",
    "ml.hold.rollout",
  ]);
  assert.deepEqual(holdsAgainst(labels, "rollout", now).map((h) => h.label), [
    "ml.hold.manual",
    "ml.hold.autoscale",
  ]);
});

Deno.test("parseHold() reads an expiry when there is one, else holds until removed", () => {
  assert.deepEqual(parseHold("ml.hold.x", "until 2030-01-01T00:00:00.000Z; canary"), {
    label: "ml.hold.x",
    reason: "canary",
    untilMs: Date.parse("2030-01-01T00:00:00.000Z"),
  });
  assert.deepEqual(parseHold("ml.hold.x", "until Friday"), {
    label: "ml.hold.x",
    reason: "until Friday",
  });
});

Deno.test("withHold() sets and removes only the loop's own hold", () => {
  const labels = { "ml.hold.manual": "x", "a": "b" };
  const held = withHold(labels, "autoscale", { reason: "r", untilMs: 0 });
  assert.equal(held["ml.hold.autoscale"], "until 1970-01-01T00:00:00.000Z; r");
  assert.deepEqual(withHold(held, "autoscale", undefined), labels);
});

Deno.test("the scale state survives a round trip through labels, and garbage reads as absent", () => {
  const labels = withScaleState({ a: "b" }, {
    atMs: 1_700_000_000_000,
    direction: "down",
    replicas: 3,
  });
  assert.deepEqual(readScaleState(labels), {
    lastChangeMs: 1_700_000_000_000,
    direction: "down",
    replicas: 3,
  });
  assert.equal(labels.a, "b");
  assert.deepEqual(
    readScaleState({
      "ml.autoscale.state.last-change": "yesterday",
      "ml.autoscale.state.direction": "sideways",
      "ml.autoscale.state.replicas": "",
    }),
    { lastChangeMs: undefined, direction: undefined, replicas: undefined },
  );
});
