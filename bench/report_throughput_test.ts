import assert from "node:assert/strict";
import { cpuTable } from "./report_throughput.ts";
import type { CeilingFigures } from "./results.ts";
import { summarize } from "./stats.ts";

Deno.test("cpuTable() lists the pipeline's processes first, then the rest, then the total", () => {
  const table = cpuTable({
    broker: summarize([40]),
    other: summarize([1]),
    metric: summarize([20, 30]),
    features: summarize([10]),
  });
  assert.equal(
    table,
    [
      "| Process | CPU µs per sample |",
      "|---|---:|",
      "| features | 10 |",
      "| metric | 25 (20–30) |",
      "| broker | 40 |",
      "| other | 1 |",
      "| **total (medians)** | **76** |",
    ].join("\n"),
  );
});

Deno.test("cpuTable() adds three ceiling messages for comparison when given the ceiling runs", () => {
  const ceiling = [{ brokerCpuUsPerMessage: 10, clientCpuUsPerMessage: 2 }] as CeilingFigures[];
  const lines = cpuTable({ broker: summarize([40]) }, ceiling).split("\n");
  assert.equal(
    lines.at(-1),
    "| for comparison: 3 messages in the ceiling run (broker + client) | 30 + 6 |",
  );
});
