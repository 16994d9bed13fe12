import assert from "node:assert/strict";
import { CSV_HEADER, type PairRecord } from "../metric/metric_log/format.ts";
import { finiteRunOver, lastLines, mae, SETTLE_MS, summaryLines } from "./start_rows.ts";

function record(absoluteError: number): PairRecord {
  return {
    id: crypto.randomUUID(),
    yTrue: 100,
    yPred: 100 + absoluteError,
    absoluteError,
    modelVersion: "v",
    replica: "model",
    latencyMs: 1,
    pairedAtMs: 0,
  };
}

Deno.test("finiteRunOver() ends the run once COUNT new rows are in", () => {
  assert.equal(
    finiteRunOver({ rows: 10, count: 10, now: 0 }, "logs/metric_log.csv"),
    "10 new rows in logs/metric_log.csv",
  );
  assert.equal(finiteRunOver({ rows: 9, count: 10, now: 0 }, "x"), undefined);
});

Deno.test("finiteRunOver() gives up on missing rows only long after features finished", () => {
  const done = { rows: 3, count: 10, featuresDoneAt: 1_000 };
  assert.equal(finiteRunOver({ ...done, now: 1_000 + SETTLE_MS }, "x"), undefined);
  assert.equal(
    finiteRunOver({ ...done, now: 1_001 + SETTLE_MS }, "x"),
    "only 3 of 10 rows 30 s after features finished",
  );
});

Deno.test("mae() is the mean of the absolute errors", () => {
  assert.equal(mae([record(1), record(2), record(6)]), 3);
});

Deno.test("summaryLines() shows the header, the last five rows and the run's MAE", () => {
  const rows = ["a", "b", "c", "d", "e", "f"];
  assert.deepEqual(summaryLines("logs/metric_log.csv", [CSV_HEADER, ...rows], [record(0.5)]), [
    "\nlast rows of logs/metric_log.csv:",
    `  ${CSV_HEADER}`,
    "  b",
    "  c",
    "  d",
    "  e",
    "  f",
    "\nfinal MAE over the 1 samples of this run: 0.5000",
  ]);
});

Deno.test("summaryLines() says so when the run recorded nothing", () => {
  assert.deepEqual(summaryLines("x.csv", [], []), [
    "\nlast rows of x.csv:",
    `  ${CSV_HEADER}`,
    "\nno samples were recorded in this run",
  ]);
});

Deno.test("lastLines() returns the file's last lines, and none for a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f.csv`, "1\n2\n3\n\n4\n");
    assert.deepEqual(await lastLines(`${dir}/f.csv`, 2), ["3", "4"]);
    assert.deepEqual(await lastLines(`${dir}/missing.csv`, 2), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
