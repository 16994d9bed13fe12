import assert from "node:assert/strict";
import { scalingTable } from "./report_scaling.ts";
import type { PipelineFigures } from "./results.ts";
import { summarize } from "./stats.ts";

Deno.test("scalingTable() shows throughput, speed-up and the last run's spread by replicas", () => {
  const run = (byReplica: Record<string, number>) => ({ byReplica }) as unknown as PipelineFigures;
  const table = scalingTable({
    runs: {
      "1": [run({ "model-1": 1500 })],
      "2": [run({ "model-2": 700, "model-1": 800 })],
    },
    samplesPerSecond: { "1": summarize([500]), "2": summarize([990, 1010]) },
    speedup: { "1": summarize([1]), "2": summarize([1.98, 2.02]) },
  });
  assert.equal(
    table,
    [
      "| Model replicas | Samples/s | Speed-up vs 1 replica | Samples per replica (last run) |",
      "|---|---:|---:|---|",
      "| 1 | 500 | 1× | model-1: 1,500 |",
      "| 2 | 1,000 (990–1,010) | 2.00 (1.98–2.02)× | model-1: 800, model-2: 700 |",
    ].join("\n"),
  );
});
