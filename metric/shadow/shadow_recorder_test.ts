import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { DeadLetter, type Delivery } from "../../stack/broker.ts";
import { Pairer } from "../pairing/pairer.ts";
import { fakeDelivery } from "../fake_delivery.ts";
import { Recorder } from "../recorder.ts";
import { ShadowSummaries } from "./shadow_log.ts";
import { ShadowPairer } from "./shadow_pairer.ts";
import {
  createShadowMetrics,
  ShadowRecorder,
  type ShadowRecorderOptions,
} from "./shadow_recorder.ts";

const delivery = fakeDelivery;

const headers = (version: string, replica: string) => ({ "model-version": version, replica });
const truth = (id: string, value = 151) => delivery("y_true", String(value), { messageId: id });
const stablePrediction = (id: string, value = 160) =>
  delivery("y_pred", String(value), {
    messageId: id,
    correlationId: id,
    headers: headers("v1", "m-1"),
  });
const candidatePrediction = (id: string, value = 149, version = "v2") =>
  delivery("y_pred_shadow", String(value), {
    messageId: id,
    correlationId: id,
    headers: headers(version, "cand-1"),
  });

/** The stable recorder and the shadow one, wired as metric/main.ts wires them. */
function harness(overrides: Partial<ShadowRecorderOptions> = {}) {
  const clock = { time: 0 };
  const stableRows: string[] = [];
  const shadowRows: string[] = [];
  const lines: string[] = [];
  const line = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  const log = {
    debug: line("debug"),
    info: line("info"),
    error: line("error"),
    fatal: line("fatal"),
  };
  const summaries = new ShadowSummaries();
  const registry = new Registry();
  const shadow = new ShadowRecorder({
    pairer: new ShadowPairer<Delivery>({ ttlMs: 100, seenCapacity: 10, outcomeCapacity: 10 }),
    summaries,
    appendRow: (row) => {
      shadowRows.push(row);
      return Promise.resolve();
    },
    path: "logs/shadow_log.csv",
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
    log,
    metrics: createShadowMetrics(registry, summaries),
    now: () => clock.time,
    wallClockMs: () => 1000,
    maxBodyBytes: 4096,
    ...overrides,
  });
  const stable = new Recorder({
    pairer: new Pairer<Delivery>({ ttlMs: 100, seenCapacity: 10 }),
    stats: { add: () => {} },
    appendRow: (row) => {
      stableRows.push(row);
      return Promise.resolve();
    },
    appendLabel: () => Promise.resolve(),
    csvPath: "logs/metric_log.csv",
    exit: (code) => {
      throw new Error(`exit ${code}`);
    },
    log,
    now: () => clock.time,
    wallClockMs: () => 1000,
    maxBodyBytes: 4096,
    unpairedTtlMs: 100,
    onRecorded: (row) => shadow.noteStable(row),
  });
  /** Records the stable pair of `id` (truth 151, prediction 160: error 9). */
  const recordStable = async (id: string) => {
    stable.handler("y_true")(truth(id));
    await stable.handler("y_pred")(stablePrediction(id));
  };
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    shadow,
    summaries,
    registry,
    stableRows,
    shadowRows,
    lines,
    clock,
    recordStable,
    settle,
  };
}

Deno.test("ShadowRecorder pairs a candidate's prediction with the stable pair, in either order", async (t) => {
  await t.step("candidate first: written and acked once the stable pair is", async () => {
    const h = harness();
    const candidate = candidatePrediction("a");
    assert.equal(h.shadow.handler()(candidate), undefined, "waits for the stable pair");
    await h.recordStable("a");
    await h.settle();
    assert.equal(h.stableRows.length, 1);
    assert.deepEqual(h.shadowRows, ["a,1970-01-01T00:00:01.000Z,v2,cand-1,v1,151,149,2,9,-7"]);
    assert.deepEqual(candidate.settled, ["ack"]);
    assert.deepEqual(h.summaries.of("v2").pairs, 1);
  });

  await t.step("stable first: paired on arrival", async () => {
    const h = harness();
    h.shadow.handler()(candidatePrediction("warm-up")); // a shadow is running
    await h.recordStable("b");
    const candidate = candidatePrediction("b", 170);
    await h.shadow.handler()(candidate);
    assert.deepEqual(h.shadowRows, ["b,1970-01-01T00:00:01.000Z,v2,cand-1,v1,151,170,19,9,10"]);
    assert.deepEqual(candidate.settled, ["ack"]);
  });
});

Deno.test("ShadowRecorder never writes a candidate's prediction into metric_log.csv, nor twice", async () => {
  const h = harness();
  h.shadow.handler()(candidatePrediction("a"));
  await h.recordStable("a");
  await h.settle();
  const again = candidatePrediction("a");
  await h.shadow.handler()(again);
  assert.deepEqual(again.settled, ["ack"]);
  assert.equal(h.shadowRows.length, 1);
  assert.equal(h.stableRows.length, 1);
  assert.ok(h.stableRows[0].includes(",v1,m-1,"), h.stableRows[0]);
  const metrics = await h.registry.metrics();
  assert.match(metrics, /ml_metric_shadow_duplicates_dropped_total 1/);
  assert.match(metrics, /ml_metric_shadow_samples_total\{candidate_version="v2"\} 1/);
  assert.match(
    metrics,
    /ml_metric_shadow_paired_errors\{candidate_version="v2",moment="pairs"\} 1/,
  );
  assert.match(
    metrics,
    /ml_metric_shadow_paired_errors\{candidate_version="v2",moment="mean_stable"\} 9/,
  );
});

Deno.test("ShadowRecorder dead-letters a prediction that breaks the contract", () => {
  const h = harness();
  assert.throws(
    () => h.shadow.handler()(delivery("y_pred_shadow", "NaN", { correlationId: "x" })),
    (error) => error instanceof DeadLetter && error.code === "malformed_json",
  );
  assert.throws(
    () => h.shadow.handler()(delivery("y_pred_shadow", "1", {})),
    (error) => error instanceof DeadLetter && error.code === "missing_id",
  );
});

Deno.test("ShadowRecorder exits without acking or counting when the row cannot be written", async () => {
  const h = harness({ appendRow: () => Promise.reject(new Error("disk full")) });
  h.shadow.handler()(candidatePrediction("warm-up"));
  await h.recordStable("a");
  const candidate = candidatePrediction("a");
  await assert.rejects(async () => await h.shadow.handler()(candidate), /exit 1/);
  assert.deepEqual(candidate.settled, []);
  assert.equal(h.summaries.of("v2").pairs, 0);
  assert.ok(
    h.lines.includes("fatal cannot write {path}: {error}; exiting so the broker redelivers"),
  );
});

Deno.test("ShadowRecorder acks and counts a prediction with no stable pair in time", async () => {
  const h = harness();
  const lonely = candidatePrediction("lonely");
  h.shadow.handler()(lonely);
  h.clock.time = 101;
  h.shadow.expire();
  await h.settle();
  assert.deepEqual(lonely.settled, ["ack"]);
  assert.equal(h.shadowRows.length, 0);
  assert.match(await h.registry.metrics(), /ml_metric_shadow_unpaired_total 1/);
});
