/**
 * The decision core against a model of the stack's delays, to check that the chosen intervals
 * meet the reaction and drain targets before Docker is involved: a queue fed by a square wave,
 * replicas that each settle `capacity` messages per second, the broker's statistics refreshed
 * every 5 s (RabbitMQ's collect_statistics_interval), Prometheus scraping every 5 s, the
 * controller polling every 2 s with 20 s rate windows, and a new task consuming 10 s after the
 * update. `deno task e2e` measures the same figures on the real Swarm.
 */
import assert from "node:assert/strict";
import { decide, type Decision, type Inputs, NO_HISTORY } from "./decide.ts";
import type { Policy } from "./policy.ts";

/** The stack's intervals (docker-stack.yml, prometheus.yml, controller/config.ts). */
const DELAYS = { statsS: 5, scrapeS: 5, pollS: 2, rateWindowS: 20, taskStartS: 10 };
const DT = 0.25;

/** The e2e's policy labels (tests/swarm/e2e_swarm.ts). */
const E2E_POLICY: Policy = {
  min: 1,
  max: 6,
  queue: "features",
  vhost: "/",
  job: "model",
  drainSeconds: 60,
  busyRatio: 0.8,
  slots: 1,
  upWindowSeconds: 0,
  downWindowSeconds: 30,
  tolerance: 0.1,
  maxStepUp: 4,
  maxStepDown: 1,
  staleSeconds: 20,
};

interface Scenario {
  readonly policy: Policy;
  /** Messages per second one replica settles. */
  readonly capacity: number;
  /** Arrivals per second at time t (s). */
  arrivals(t: number): number;
  readonly seconds: number;
  /** Prometheus down over [from, to) (s). */
  readonly outage?: readonly [number, number];
  /** Controller restarted at (s): its history is gone, the labels stay. */
  readonly restartAt?: number;
}

interface Trace {
  /** [t, backlog, spec replicas, running replicas] every second. */
  readonly samples: [number, number, number, number][];
  readonly actions: { t: number; decision: Decision }[];
}

interface Sample {
  t: number;
  backlog: number;
  published: number;
  handled: number;
  busy: number;
}

function simulate(s: Scenario): Trace {
  let backlog = 0;
  let published = 0;
  let handled = 0;
  let busy = 0;
  let spec = s.policy.min;
  const starts: number[] = []; // when each pending replica starts consuming
  let running = spec;
  let brokerStats = { backlog: 0, t: 0 };
  const scraped: Sample[] = [];
  let history = NO_HISTORY;
  let lastChangeMs: number | undefined;
  const samples: Trace["samples"] = [];
  const actions: Trace["actions"] = [];
  const every = (t: number, period: number) => Math.abs(t / period - Math.round(t / period)) < 1e-9;
  for (let t = 0; t <= s.seconds + 1e-9; t += DT) {
    // the queue
    running += starts.filter((at) => at <= t + 1e-9).length;
    starts.splice(0, starts.length, ...starts.filter((at) => at > t + 1e-9));
    const arriving = s.arrivals(t) * DT;
    backlog += arriving;
    published += arriving;
    const done = Math.min(backlog, running * s.capacity * DT);
    backlog -= done;
    handled += done;
    busy += done / s.capacity;
    // the broker's statistics, then Prometheus
    if (every(t, DELAYS.statsS)) brokerStats = { backlog, t };
    const up = !(s.outage && t >= s.outage[0] && t < s.outage[1]);
    if (up && every(t, DELAYS.scrapeS)) {
      scraped.push({ t, backlog: brokerStats.backlog, published, handled, busy });
    }
    if (s.restartAt !== undefined && Math.abs(t - s.restartAt) < 1e-9) history = NO_HISTORY;
    // the controller
    if (every(t, DELAYS.pollS) && t > 0) {
      const window = scraped.filter((p) => p.t >= t - DELAYS.rateWindowS);
      const last = window.at(-1);
      const first = window[0];
      const rate = (key: "published" | "handled" | "busy") =>
        last && first && last.t > first.t ? (last[key] - first[key]) / (last.t - first.t) : 0;
      const previous = window.at(-2);
      const irate = last && previous
        ? (last.published - previous.published) / (last.t - previous.t)
        : 0;
      const inputs: Inputs | undefined = up && last && window.length >= 2
        ? {
          ready: last.backlog,
          unacked: 0,
          arrivalsPerSecond: rate("published"),
          recentArrivalsPerSecond: irate,
          handledPerSecond: rate("handled"),
          busySeconds: rate("busy"),
          backlogAgeSeconds: t - brokerStats.t + (t - last.t),
          handlerAgeSeconds: t - last.t,
        }
        : undefined;
      const decision = decide({
        policy: s.policy,
        reading: inputs ? { ok: true, inputs } : { ok: false, missing: ["prometheus"] },
        replicas: spec,
        holds: [],
        history,
        lastChangeMs,
        nowMs: t * 1000,
      });
      history = decision.history;
      if (decision.direction === "up") {
        for (let i = spec; i < decision.replicas; i++) starts.push(t + DELAYS.taskStartS);
      } else if (decision.direction === "down") {
        running -= spec - decision.replicas; // SIGTERM: stops consuming at once, drains what it holds
      }
      if (decision.direction !== "hold") {
        spec = decision.replicas;
        lastChangeMs = t * 1000;
        actions.push({ t, decision });
      }
    }
    if (every(t, 1)) samples.push([t, backlog, spec, running]);
  }
  return { samples, actions };
}

/** The e2e's load: 8/s, then 45/s for 90 s from t=60, then 8/s. */
function squareWave(t: number): number {
  return t >= 60 && t < 150 ? 45 : 8;
}

/** A model replica slowed to 50 ms a message, plus its publish's confirm: 13.5-17/s measured. */
const CAPACITY = 15;

function reversals(trace: Trace): number {
  const moves = trace.actions.map((a) => a.decision.direction);
  return moves.filter((m, i) => i > 0 && m !== moves[i - 1]).length;
}

Deno.test("simulated: a step of load gets its first new replica consuming within 20 s", () => {
  const trace = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
  });
  const firstUp = trace.actions.find((a) => a.decision.direction === "up");
  assert.ok(firstUp, "never scaled up");
  const consuming = firstUp.t + DELAYS.taskStartS - 60;
  assert.ok(consuming <= 20, `the first new replica consumed ${consuming} s after the step`);
});

Deno.test("simulated: the backlog a step builds drains within the target +20%", () => {
  const trace = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
  });
  const peak = Math.max(...trace.samples.map(([, b]) => b));
  const drained = trace.samples.find(([t, b]) =>
    t > 60 && b <= 0.05 * peak && t > trace.samples.find(([, x]) => x === peak)![0]
  );
  assert.ok(drained, "never drained");
  const seconds = drained[0] - 60;
  const target = E2E_POLICY.drainSeconds;
  assert.ok(
    seconds <= 1.2 * target,
    `drained ${seconds} s after the step, target ${target} s ±20%; peak ${peak.toFixed(0)}`,
  );
});

Deno.test("simulated: the count returns to the minimum with one reversal, none while the load is steady", () => {
  const trace = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
  });
  assert.equal(trace.samples.at(-1)![2], E2E_POLICY.min);
  assert.equal(reversals(trace), 1);
  const steady = trace.actions.filter((a) => a.t < 60);
  assert.deepEqual(steady, [], "acted under the steady load before the step");
});

Deno.test("simulated: two minutes without Prometheus hold the count, then it comes down", () => {
  const trace = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
    outage: [155, 275],
  });
  const during = trace.actions.filter((a) => a.t >= 155 && a.t < 275);
  assert.deepEqual(during, []);
  assert.equal(trace.samples.at(-1)![2], E2E_POLICY.min);
});

Deno.test("simulated: a restarted controller waits a window before the next step down", () => {
  const base = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
  });
  const firstDown = base.actions.find((a) => a.decision.direction === "down")!;
  const restarted = simulate({
    policy: E2E_POLICY,
    capacity: CAPACITY,
    arrivals: squareWave,
    seconds: 500,
    restartAt: firstDown.t + 1,
  });
  const downs = restarted.actions.filter((a) => a.decision.direction === "down");
  assert.ok(downs.length >= 2);
  assert.ok(downs[1].t - (firstDown.t + 1) >= E2E_POLICY.downWindowSeconds);
  assert.equal(restarted.samples.at(-1)![2], E2E_POLICY.min);
});
