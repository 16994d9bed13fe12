import assert from "node:assert/strict";
import { queueTypeSizes, summarizeQueueTypes } from "./queue_types.ts";
import type { CeilingFigures, PipelineFigures } from "./results.ts";

function round(ceiling: number, throughput: number, p50: number, p99: number) {
  return {
    ceiling: { messagesPerSecond: ceiling, brokerCpuUsPerMessage: 1e6 / ceiling } as CeilingFigures,
    throughput: { samplesPerSecond: throughput } as PipelineFigures,
    latency: { latencyMs: { p50, p95: p99, p99, max: p99 } } as PipelineFigures,
  };
}

Deno.test("summarizeQueueTypes() divides each round's quorum figure by the same round's classic", () => {
  const figures = summarizeQueueTypes(queueTypeSizes(true, 1000), {
    classic: [round(12_000, 4_000, 1, 4), round(10_000, 3_000, 2, 8)],
    quorum: [round(6_000, 3_000, 2, 8), round(6_000, 3_000, 2, 4)],
  });
  assert.deepEqual(figures.quorumOverClassic.ceiling.runs, [0.5, 0.6]);
  assert.deepEqual(figures.quorumOverClassic.throughput.runs, [0.75, 1]);
  assert.deepEqual(figures.quorumOverClassic.p50.runs, [2, 1]);
  assert.deepEqual(figures.quorumOverClassic.p99.runs, [2, 0.5]);
  assert.equal(figures.byType.classic.ceilingMessagesPerSecond.max, 12_000);
  assert.equal(figures.byType.quorum.latencyP99Ms.min, 4);
});
