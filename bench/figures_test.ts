import assert from "node:assert/strict";
import { cpuSummaries, mapValues, pipelineFigures } from "./figures.ts";
import type { PipelineResult } from "./pipeline.ts";
import type { PipelineFigures } from "./results.ts";

const MiB = 2 ** 20;

function result(latenciesMs: number[]): PipelineResult {
  return {
    tally: {
      rows: latenciesMs.length,
      latenciesMs,
      firstSentAtMs: 0,
      firstPairedAtMs: 500,
      lastPairedAtMs: 1000,
      byReplica: { "model-1": latenciesMs.length },
    },
    peakRss: { metric: 64 * MiB },
    peakAnon: { metric: 16 * MiB },
    readyRss: {},
    cpuMs: { metric: 2, broker: 4 },
    otherCpuMs: 250,
    wallMs: 1000,
    deadLettered: 0,
    dir: "/tmp/run",
  };
}

Deno.test("pipelineFigures() leaves the warm-up out of the latency percentiles", () => {
  const figures = pipelineFigures(result([100, 90, 1, 2, 3, 4]), 2);
  assert.equal(figures.latencyMs.max, 4);
  assert.equal(figures.over10ms.slow, 0);
  assert.equal(figures.samples, 6);
});

Deno.test("pipelineFigures() gives CPU µs per sample, memory in MiB and others' load in cores", () => {
  const figures = pipelineFigures(result([1, 2, 3, 4]), 0);
  assert.deepEqual(figures.cpuUsPerSample, { metric: 500, broker: 1000 });
  assert.deepEqual(figures.peakRssMiB, { metric: 64 });
  assert.deepEqual(figures.peakAnonMiB, { metric: 16 });
  assert.equal(figures.otherCores, 0.25);
  assert.deepEqual(figures.byReplica, { "model-1": 4 });
});

Deno.test("pipelineFigures() counts throughput from the first publish, or from the first pair when draining", () => {
  const sent = pipelineFigures(result([1, 2, 3, 4]), 0);
  const drained = pipelineFigures(result([1, 2, 3, 4]), 0, true);
  assert.equal(sent.samplesPerSecond, 4); // 4 rows in the 1 s from the first publish
  assert.equal(drained.samplesPerSecond, 6); // 3 more pairs in the 0.5 s after the first
});

Deno.test("cpuSummaries() summarises each process over the runs, NaN where it is missing", () => {
  const runs = [{ cpuUsPerSample: { a: 1, b: 5 } }, {
    cpuUsPerSample: { a: 3 },
  }] as unknown as PipelineFigures[];
  const summaries = cpuSummaries(runs);
  assert.deepEqual(Object.keys(summaries), ["a", "b"]);
  assert.deepEqual(summaries.a.runs, [1, 3]);
  assert.ok(Number.isNaN(summaries.b.runs[1]));
});

Deno.test("mapValues() applies the function to each value and keeps the keys", () => {
  assert.deepEqual(mapValues({ a: 1, b: 2 }, (v) => v * 10), { a: 10, b: 20 });
});
