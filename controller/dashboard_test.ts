import assert from "node:assert/strict";
import type { DecisionPoint } from "./autoscale_loop.ts";
import { dashboardRoute, DecisionHistory, RolloutHistory } from "./dashboard.ts";

function point(atMs: number, service = "ml_model"): DecisionPoint {
  return {
    atMs,
    service,
    replicas: 2,
    running: 2,
    direction: "hold",
    reason: "steady",
    backlog: 5,
  };
}

Deno.test("DecisionHistory keeps each service's last hour", () => {
  const history = new DecisionHistory(60_000);
  for (let s = 0; s <= 120; s += 10) history.add(point(s * 1000));
  history.add(point(5_000, "ml_other"));
  const json = history.toJSON();
  assert.deepEqual(json.ml_model.map((p) => p.atMs / 1000), [60, 70, 80, 90, 100, 110, 120]);
  assert.equal(json.ml_other.length, 1);
});

Deno.test("dashboardRoute() serves the page and the history, and nothing else", async () => {
  const history = new DecisionHistory();
  history.add(point(1));
  const page = dashboardRoute(history, new URL("http://c/"))!;
  assert.match(page.headers.get("content-type")!, /text\/html/);
  const html = await page.text();
  assert.match(html, /replicas over time beside the backlog/i);
  assert.doesNotMatch(html, /<script src=/, "no script from elsewhere");
  const data = await dashboardRoute(history, new URL("http://c/history.json"))!.json();
  assert.equal(data.ml_model[0].reason, "steady");
  assert.equal(dashboardRoute(history, new URL("http://c/metrics")), undefined);
});

Deno.test("RolloutHistory keeps the last hour of looks and the last decisions, served as rollouts.json", async () => {
  const rollouts = new RolloutHistory(60_000, 2);
  const look = (atMs: number) => ({
    atMs,
    candidate: "v2",
    stable: "v1",
    pairs: atMs / 1000,
    maeCandidate: 30,
    maeStable: 40,
    interval: null,
  });
  for (let s = 0; s <= 120; s += 30) rollouts.look(look(s * 1000));
  for (const phase of ["rejected", "aborted", "promoted"] as const) {
    rollouts.decided({ atMs: 1, candidate: "v2", stable: "v1", phase, reason: "r", pairs: 9 });
  }
  const served = await dashboardRoute(
    new DecisionHistory(),
    new URL("http://c/rollouts.json"),
    rollouts,
  )!.json();
  assert.deepEqual(served.looks.map((l: { pairs: number }) => l.pairs), [60, 90, 120]);
  assert.deepEqual(served.decisions.map((d: { phase: string }) => d.phase), [
    "aborted",
    "promoted",
  ]);
  const html = await dashboardRoute(new DecisionHistory(), new URL("http://c/"))!.text();
  assert.match(html, /fetch\("rollouts\.json"/);
});
