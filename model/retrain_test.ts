import assert from "node:assert/strict";
import { type PairRecord, pairRecord } from "../metric/metric_log/format.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { loadModelArtifact } from "./artifact.ts";
import { predict } from "./linear.ts";
import { isHeldOut, type RecordedSample, retrain, WindowedSamples } from "./retrain.ts";

const T0 = Date.parse("2026-12-01T00:00:00Z");

function record(n: number, inputs?: number[]): PairRecord {
  return pairRecord({
    id: `sample-${n}`,
    yTrue: 100 + n,
    yPred: 150,
    modelVersion: "v1",
    replica: "r",
    pairedAtMs: T0 + n * 1_000,
    ...(inputs ? { inputs } : {}),
  });
}

const X = [0.1, 0, 0, 0, 0, 0, 0, 0, 0, -0.1];

Deno.test("isHeldOut() splits by id, the same way every time, in about the share asked", () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `id-${i}`);
  const held = ids.filter((id) => isHeldOut(id, 0.2));
  assert.ok(held.length > 0.19 * ids.length && held.length < 0.21 * ids.length, `${held.length}`);
  assert.deepEqual(ids.filter((id) => isHeldOut(id, 0.2)), held);
  // A larger share only adds ids: what was held out stays held out.
  const more = new Set(ids.filter((id) => isHeldOut(id, 0.3)));
  assert.ok(held.every((id) => more.has(id)));
});

Deno.test("WindowedSamples keeps the window's rows that carry inputs, oldest first", async (t) => {
  await t.step("--last: the last N with inputs, however many came before", () => {
    const w = new WindowedSamples({ last: 3 });
    for (let n = 0; n < 50; n++) w.add(record(n, n % 10 === 9 ? undefined : X));
    assert.deepEqual(w.samples.map((s) => s.id), ["sample-46", "sample-47", "sample-48"]);
    assert.equal(w.withoutInputs, 5);
  });
  await t.step("--since: nothing paired before it", () => {
    const w = new WindowedSamples({ sinceMs: T0 + 40_000 });
    for (let n = 0; n < 50; n++) w.add(record(n, X));
    assert.equal(w.beforeWindow, 40);
    assert.deepEqual(
      w.samples.map((s) => s.id),
      Array.from({ length: 10 }, (_, i) => `sample-${40 + i}`),
    );
  });
  await t.step("both: the last N since the time", () => {
    const w = new WindowedSamples({ sinceMs: T0 + 40_000, last: 20 });
    for (let n = 0; n < 50; n++) w.add(record(n, X));
    assert.equal(w.samples.length, 10);
  });
  await t.step("a sample carries its inputs, truth and the prediction recorded", () => {
    const w = new WindowedSamples({});
    w.add(record(7, X));
    assert.deepEqual(w.samples, [{ id: "sample-7", x: X, y: 107, yPred: 150, modelVersion: "v1" }]);
  });
});

/** The data set as the pipeline records it, with the serving model's predictions and `drift` applied to the truths. */
async function recorded(drift: (y: number) => number): Promise<RecordedSample[]> {
  const [ds, serving] = await Promise.all([loadDiabetes(), loadModelArtifact()]);
  return ds.X.map((x, i) => ({
    id: `row-${i}`,
    x,
    y: drift(ds.y[i]),
    yPred: predict(serving, x),
    modelVersion: serving.version,
  }));
}

Deno.test("retrain() scores the candidate and the serving model on the same held-out rows", async (t) => {
  const serving = await loadModelArtifact();
  await t.step("labels drifted ×1.5: the candidate beats the serving model", async () => {
    const result = await retrain(await recorded((y) => 1.5 * y), { holdout: 0.25, serving });
    assert.equal(result.rows.train + result.rows.heldOut, 442);
    assert.ok(result.rows.heldOut > 80 && result.rows.heldOut < 140, `${result.rows.heldOut}`);
    assert.equal(result.heldOut.candidate.rows, result.rows.heldOut);
    assert.equal(result.heldOut.serving.rows, result.rows.heldOut);
    assert.ok(
      result.heldOut.candidate.mae < 0.95 * result.heldOut.serving.mae,
      `candidate ${result.heldOut.candidate.mae}, serving ${result.heldOut.serving.mae}`,
    );
    // And it generalises: held out, within 1.2× of its training MAE.
    assert.ok(result.heldOut.candidate.mae < 1.2 * result.candidate.training.mae);
    assert.equal(result.candidate.training.rows, result.rows.train);
    // The recorded predictions are the serving model's: both say the same.
    assert.ok(Math.abs(result.heldOut.recorded.mae - result.heldOut.serving.mae) < 1e-9);
    assert.deepEqual(result.recordedVersions, { [serving.version]: result.rows.heldOut });
  });
  await t.step("no drift: the candidate is about as good, not better by much", async () => {
    const result = await retrain(await recorded((y) => y), { holdout: 0.25, serving });
    const ratio = result.heldOut.candidate.mae / result.heldOut.serving.mae;
    // The serving model saw the held-out rows in training; the candidate did not.
    assert.ok(ratio > 0.95 && ratio < 1.15, `${ratio}`);
  });
  await t.step("the same records give the same artifact", async () => {
    const samples = await recorded((y) => y + 10);
    const [a, b] = await Promise.all([
      retrain(samples, { holdout: 0.2, serving }),
      retrain([...samples], { holdout: 0.2, serving }),
    ]);
    assert.deepEqual(a.candidate, b.candidate);
  });
  await t.step("too few rows: an error that says how many", async () => {
    const few = (await recorded((y) => y)).slice(0, 12);
    await assert.rejects(
      retrain(few, { holdout: 0.2, serving }),
      /needs at least 11 training rows and 1 held-out row: the window gave \d+ and \d+ \(holdout 0.2\)/,
    );
  });
});
