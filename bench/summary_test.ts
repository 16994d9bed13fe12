import assert from "node:assert/strict";
import { benchPlan } from "./options.ts";
import type { PipelineResult } from "./pipeline.ts";
import type { BenchResults } from "./results.ts";
import { benchResults, settingsOf, targetsOf } from "./summary.ts";
import { summarize } from "./stats.ts";
import type { ServiceName } from "../ops/launch.ts";

const MiB = 2 ** 20;
const COMMITTED = new URL("../docs/benchmarks.json", import.meta.url);

/** The committed results' runs, as the bench's measurements handed them to `benchResults`. */
function measurementsOf(r: BenchResults) {
  const serviceOf = (name: string) => name.replace(/-\d+$/, "") as ServiceName;
  const limits = {} as Record<ServiceName, number>;
  const v8Flags = {} as Record<ServiceName, string>;
  for (const [name, mib] of Object.entries(r.footprint.limitsMiB)) {
    limits[serviceOf(name)] = mib * MiB;
    v8Flags[serviceOf(name)] = r.footprint.v8Flags[name];
  }
  const readyRss = (i: number) =>
    Object.fromEntries(
      Object.entries(r.footprint.idleMiB).map(([name, s]) => [name, s.runs[i] * MiB]),
    );
  return {
    plan: benchPlan({ quick: r.quick, runs: r.runsPerFigure }),
    generatedAt: r.generatedAt,
    durationSeconds: r.durationSeconds,
    machine: r.machine,
    localBroker: r.broker !== "AMQP_URL",
    settings: r.settings,
    limits,
    v8Flags,
    rounds: {
      ceilingRuns: [...r.ceiling.runs],
      throughputRuns: [...r.throughput.runs],
      throughputResults: r.throughput.runs.map((_, i) =>
        ({ readyRss: readyRss(i) }) as unknown as PipelineResult
      ),
      ofCeiling: [...r.throughput.ofCeiling.runs],
      unsizedRuns: [...r.footprint.unsized.runs],
    },
    latency: { on: [...r.latency.runs], off: [...(r.latency.plotOff?.runs ?? [])] },
    scaling: r.scaling,
    queueTypes: r.queueTypes!,
    periodicWork: r.periodicWork,
  };
}

Deno.test("benchResults() summarises the committed runs into the committed benchmarks.json", async () => {
  const committed: BenchResults = JSON.parse(await Deno.readTextFile(COMMITTED));
  const rebuilt = JSON.parse(JSON.stringify(benchResults(measurementsOf(committed))));
  assert.deepEqual(rebuilt, committed);
  assert.deepEqual(Object.keys(rebuilt), Object.keys(committed), "the JSON's key order");
});

Deno.test("settingsOf() reports the plan's sizes and the services' defaults", () => {
  const settings = settingsOf(benchPlan({ quick: true, runs: 1 }), { body: "héllo" }, 64);
  assert.equal(settings.bodyBytes, 6);
  assert.equal(settings.ceilingWindowMessages, 64);
  assert.equal(settings.throughputSamples, 6_000);
  assert.equal(settings.latencyWarmupSamples, 500);
  assert.equal(settings.logLevel, "warning");
});

Deno.test("targetsOf() says which targets the medians met", () => {
  const at = (value: number) => summarize([value]);
  const targets = targetsOf({
    throughput: at(3_500),
    ofCeiling: at(0.6),
    p50: at(1.5),
    p99: at(12),
    p99OverPlotOff: at(1.3),
    longestPeriodicJobMs: at(0.5),
    threeReplicas: at(2.9),
    worstPeakMiB: 70,
    metricPeakMiB: 101,
    worstPeakAtRateMiB: 70,
    leastHeadroom: 1.6,
    sizedVsUnsized: at(1),
  });
  assert.deepEqual(
    targets.map((t) => [t.what, t.met]),
    [
      ["pipeline throughput", true],
      ["throughput ÷ (ceiling ÷ 3), same run", false],
      ["latency p50 at 1,000 samples/s", true],
      ["latency p99 at 1,000 samples/s, every periodic job running", true],
      ["latency p99 as shipped ÷ p99 with metric's plot off, same round", false],
      ["longest run of a periodic job on metric's event loop", true],
      ["3 model replicas vs 1 (10 ms per prediction)", true],
      ["peak RSS of features and model at full throughput", true],
      ["peak RSS of metric at full throughput", false],
      ["peak RSS of each service at 1,000 samples/s", false],
      ["throughput with the containers' V8 sizing ÷ V8's own sizing, same round", true],
      ["docker-stack.yml memory limit ÷ peak at full throughput", true],
    ],
  );
  assert.equal(targets[1].measured, "60%");
  assert.equal(targets[1].target, "≥ 85%");
  assert.equal(targets[3].target, "≤ 20 ms");
  assert.equal(targets[4].measured, "1.30");
});

Deno.test("targetsOf() judges the periodic jobs' own work and reports their longest stretch beside it", async (t) => {
  const at = (value: number) => summarize([value]);
  const headline = {
    throughput: at(3_500),
    ofCeiling: at(0.9),
    p50: at(1.5),
    p99: at(12),
    p99OverPlotOff: at(1.1),
    longestPeriodicJobMs: at(5),
    longestPeriodicJobCpuMs: at(2),
    threeReplicas: at(2.9),
    worstPeakMiB: 70,
    metricPeakMiB: 90,
    worstPeakAtRateMiB: 60,
    leastHeadroom: 1.6,
    sizedVsUnsized: at(1),
  };
  const periodic = (targets: ReturnType<typeof targetsOf>) =>
    targets.filter((t) => t.what.includes("metric's event loop"));

  await t.step("with the own work measured", () => {
    const rows = periodic(targetsOf({
      ...headline,
      ownWork: { job: "snapshot", p99Ms: 0.4321, runs: 1_000 },
    }));
    assert.deepEqual(rows, [
      {
        what: "a periodic job's own work on metric's event loop (p99 of 1,000 runs, quiet)",
        target: "≤ 1 ms",
        measured: "0.432 ms (snapshot, the largest)",
        met: true,
      },
      {
        what:
          "longest stretch of a periodic job on metric's event loop in the pipeline, other processes' turns on the core included",
        target: "reported, not judged",
        measured: "≤ 5.00 ms, of CPU ≤ 2.00 ms",
      },
    ]);
  });

  await t.step("an own work over the target is missed", () => {
    const [row] = periodic(targetsOf({
      ...headline,
      ownWork: { job: "plot", p99Ms: 1.2, runs: 200 },
    }));
    assert.equal(row.met, false);
  });

  await t.step("without it (results made before), the stretch is judged as it was", () => {
    assert.deepEqual(periodic(targetsOf(headline)), [{
      what: "longest run of a periodic job on metric's event loop",
      target: "≤ 1 ms",
      measured: "≤ 5.00 ms, of CPU ≤ 2.00 ms",
      met: false,
    }]);
  });
});
