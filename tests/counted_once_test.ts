/** The e2e's exactly-once-by-count check fails on each way a run can go wrong. */
import assert from "node:assert/strict";
import { loadModelArtifact } from "../model/artifact.ts";
import { predict } from "../model/linear.ts";
import type { PairRecord } from "../metric/metric_log/format.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { assertCountedOnce } from "./harness.ts";

const dataset = await loadDiabetes();
const model = await loadModelArtifact();

function row(id: string, index: number): PairRecord {
  const yTrue = dataset.y[index];
  const yPred = predict(model, dataset.X[index]);
  return {
    id,
    yTrue,
    yPred,
    absoluteError: Math.abs(yTrue - yPred),
    modelVersion: model.version,
    replica: "model-1",
    latencyMs: 1,
    pairedAtMs: 0,
  } as PairRecord;
}

Deno.test("assertCountedOnce passes N distinct valid rows for N sent, and fails otherwise", async (t) => {
  const rows = [row("a", 0), row("b", 7), row("c", 441)];
  await t.step("three sent, three recorded", () => assertCountedOnce(rows, 3));
  await t.step("one lost", () => assert.rejects(assertCountedOnce(rows.slice(1), 3), /1 lost/));
  await t.step(
    "one twice",
    () => assert.rejects(assertCountedOnce([...rows, row("a", 0)], 4), /more than once/),
  );
  await t.step("a wrong prediction", () =>
    assert.rejects(
      assertCountedOnce([...rows.slice(1), { ...rows[0], yPred: rows[0].yPred + 1 }], 3),
      /match no data set row/,
    ));
  await t.step("an unknown model version", () =>
    assert.rejects(
      assertCountedOnce([...rows.slice(1), { ...rows[0], modelVersion: "v0" }], 3),
      /match no data set row/,
    ));
});
