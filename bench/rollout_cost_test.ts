import assert from "node:assert/strict";
import type { PipelineFigures } from "./results.ts";
import {
  type ModeFigures,
  modeFigures,
  rolloutCostReport,
  type RolloutCostRound,
  summarizeRolloutCost,
} from "./rollout_cost.ts";

const SIZES = { samples: 30_000, ratePerSecond: 1_000, warmup: 3_000 };

function run(cpu: Record<string, number>, p50: number, p99: number): ModeFigures {
  return modeFigures({
    samples: 30_000,
    samplesPerSecond: 1_000,
    latencyMs: { p50, p95: p99 / 2, p99, max: p99 * 2 },
    over10ms: { samples: 0, pauses: 0, longest: 0 },
    cpuUsPerSample: cpu,
    peakRssMiB: {},
    otherCores: 0,
    deadLettered: 0,
    byReplica: {},
  } as unknown as PipelineFigures);
}

Deno.test("modeFigures() adds every process's CPU per sample into the total", () => {
  const figures = run({ broker: 900, features: 180, "model-1": 200, metric: 270 }, 7, 40);
  assert.equal(figures.totalCpuUsPerSample, 1550);
  assert.equal(figures.p99Ms, 40);
});

Deno.test("summarizeRolloutCost() takes medians by mode and each round's with ÷ without", () => {
  const rounds: RolloutCostRound[] = [
    {
      "stable alone": run({ broker: 900, features: 200, "model-1": 200, metric: 300 }, 7, 40),
      "with a candidate": run(
        { broker: 1500, features: 200, "model-1": 200, candidate: 150, metric: 350 },
        8,
        60,
      ),
    },
    {
      "stable alone": run({ broker: 1000, features: 200, "model-1": 200, metric: 300 }, 6, 50),
      "with a candidate": run(
        { broker: 1500, features: 200, "model-1": 200, candidate: 150, metric: 350 },
        9,
        50,
      ),
    },
  ];
  const figures = summarizeRolloutCost(SIZES, rounds);
  assert.equal(figures.byMode["stable alone"].cpuUsPerSample.broker.median, 950);
  assert.equal(figures.byMode["with a candidate"].cpuUsPerSample.candidate.median, 150);
  assert.equal(figures.byMode["stable alone"].cpuUsPerSample.candidate, undefined);
  assert.deepEqual(figures.withOverWithout.broker.runs, [1500 / 900, 1500 / 1000]);
  assert.deepEqual(figures.withOverWithout.total.runs, [2400 / 1600, 2400 / 1700]);
  assert.deepEqual(figures.withOverWithout.p99.runs, [60 / 40, 50 / 50]);

  const report = rolloutCostReport(figures, "AMD EPYC, 2 cores");
  assert.match(report, /^# What a shadow rollout costs/);
  assert.match(report, /2 round\(s\)/);
  // The candidate's row: nothing without it, its CPU with it.
  assert.match(report, /\| candidate \| – \| 150 \(150–150\) \|/);
  // The broker's row carries its ratio (median 1.58, from 1.50 to 1.67).
  assert.match(
    report,
    /\| broker \| 950 \(900–1,000\) \| 1,500 \(1,500–1,500\) \| 1\.58 \(1\.50–1\.67\) \|/,
  );
  // The broker comes first, the candidate after the stable model.
  const order = ["broker", "features", "model-1", "candidate", "metric"].map((name) =>
    report.indexOf(`| ${name} `)
  );
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
});
