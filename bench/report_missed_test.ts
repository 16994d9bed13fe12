import assert from "node:assert/strict";
import { missedSection, thresholdOf } from "./report_missed.ts";
import type { BenchResults, PipelineFigures, Target } from "./results.ts";
import { summarize } from "./stats.ts";
import { targetsOf } from "./summary.ts";

const COMMITTED = new URL("../docs/benchmarks.json", import.meta.url);

const at = (value: number) => summarize([value]);
const missed = (what: string, target: string): Target => ({
  what,
  target,
  measured: "",
  met: false,
});
const hop = (p50: number, p99: number) => ({ p50: at(p50), p99: at(p99) });
const job = (p99: number, maxBound: number) => ({ p99: at(p99), maxBound: at(maxBound) });

/** The figures the list reads, small and round, with every optional part present. */
function results(targets: Target[]): BenchResults {
  return {
    machine: { cores: 2 },
    settings: { latencyRatePerSec: 1000, scalingPrefetch: 5, scalingDelayMs: 10 },
    ceiling: {
      runs: [{ messagesPerSecond: 12_000, brokerCpuUsPerMessage: 80, clientCpuUsPerMessage: 20 }],
      samplesPerSecond: at(4_000),
    },
    throughput: {
      samplesPerSecond: at(2_500),
      cpuUsPerSample: {
        features: at(50),
        "model-1": at(100),
        metric: at(150),
        broker: at(300),
      },
    },
    latency: {
      runs: [{ peakAnonMiB: { metric: 44.9, "model-1": 39.2 } } as unknown as PipelineFigures],
      offeredPerSecond: at(1_000),
      p99: at(30),
      cpuUsPerSample: { features: at(150), metric: at(250), broker: at(900) },
      plotOff: { p99: at(28) },
      p99OverPlotOff: at(1.07),
      hops: {
        on: {
          features_to_model: hop(2.7, 13.2),
          model: hop(0.13, 0.25),
          model_to_metric: hop(2.8, 24.2),
          metric: hop(0.21, 6.7),
        },
      },
      periodicJobs: { plot: job(4.955, 5), snapshot: job(4.94, 5), expiry: job(0.7, 1) },
      periodicJobsCpu: { plot: job(1.97, 2), snapshot: job(4.94, 5), expiry: job(0.35, 0.5) },
    },
    scaling: {
      delayed: {
        runs: { "3": [{ byReplica: { "model-2": 1_365, "model-1": 1_321, "model-3": 1_314 } }] },
        samplesPerSecond: { "1": at(335), "3": at(920) },
        speedup: { "1": at(1), "3": summarize([2.7979, 2.734, 2.833]) },
      },
    },
    footprint: {
      peakMiB: { features: at(73.8), "model-1": at(86.7), metric: at(92.3) },
      peakAnonMiB: { features: at(28.4), "model-1": at(42.2), metric: at(46.9) },
      atRateMiB: { "model-1": at(85.5), metric: at(90.4) },
      limitsMiB: { features: 128, "model-1": 128, metric: 256 },
      unsized: {
        samplesPerSecond: at(3_060),
        cpuUsPerSample: { broker: at(300), metric: at(246) },
      },
    },
    queueTypes: {
      byType: {
        classic: { latencyP50Ms: at(2.1), latencyP99Ms: at(21.9) },
        quorum: { latencyP50Ms: at(5.14), latencyP99Ms: at(23.94) },
      },
    },
    targets,
  } as unknown as BenchResults;
}

/** The bullet of the one target `t`, joined onto one line. */
function bulletOf(r: BenchResults): string {
  const lines = missedSection(r).split("\n").filter((line) => line.startsWith("- "));
  assert.equal(lines.length, 1);
  return lines[0];
}

Deno.test("missedSection() lists nothing when no target is missed", () => {
  const met: Target = { what: "pipeline throughput", target: "≥ 3,000 samples/s", measured: "" };
  assert.equal(missedSection(results([])), "");
  assert.equal(missedSection(results([{ ...met, met: true }, met])), "");
});

Deno.test("missedSection() bounds the throughput by the CPU a sample costs on the machine's cores", async (t) => {
  await t.step("a bound below the target says how little CPU the services may use", () => {
    const line = bulletOf(results([missed("throughput ÷ (ceiling ÷ 3), same run", "≥ 85%")]));
    assert.match(
      line,
      /^- \*\*throughput ÷ \(ceiling ÷ 3\), same run\*\*: The pipeline spends 600 µs/,
    );
    assert.match(line, /\(broker 300, metric 150, model-1 100, features 50: section 2's table\)/);
    assert.match(
      line,
      /against 240 \+ 60 µs of broker \+ client CPU for the ceiling run's 3 messages/,
    );
    // 2 cores × 1e6 µs ÷ 600 µs = 3,333 samples/s, 83% of 4,000.
    assert.match(line, /cannot exceed 3,333 samples\/s, 83% of ceiling ÷ 3 \(4,000\) at best/);
    // 85% of 4,000 = 3,400 samples/s: 2e6 ÷ 3,400 = 588 µs, 288 beside the broker's 300.
    assert.match(line, /needs at most 588 µs .*the services' own CPU \(now 300\) below 288 µs/);
  });

  await t.step("a bound above the target says how busy the cores were instead", () => {
    const line = bulletOf(results([missed("pipeline throughput", "≥ 3,000 samples/s")]));
    assert.match(line, /cannot exceed 3,333 samples\/s\. That is above the target/);
    assert.match(
      line,
      /at the measured 2,500 samples\/s .* 1\.50 of the 2 cores busy, the broker 0\.75/,
    );
  });

  await t.step("a target beyond the bound needs less CPU per sample", () => {
    const line = bulletOf(results([missed("pipeline throughput", "≥ 4,000 samples/s")]));
    assert.match(line, /Reaching 4,000 samples\/s needs at most 500 µs .* below 200 µs per sample/);
  });
});

Deno.test("missedSection() puts the cores busy, each hop and the queue types under a missed latency", () => {
  const line = bulletOf(results([
    missed("latency p99 at 1,000 samples/s, every periodic job running", "≤ 20 ms"),
  ]));
  assert.match(line, /1,300 µs of CPU per sample, 1\.30 of the machine's 2 cores busy/);
  assert.match(
    line,
    /p99, largest first: model publish → metric pairing 24\.20 ms, features publish → model receipt 13\.20 ms, metric write \+ ack 6\.70 ms, model handling 0\.25 ms/,
  );
  assert.match(line, /plot off the p99 was 28\.00 ms \(as shipped ÷ plot off: 1\.07\)/);
  assert.match(line, /classic work queues the p99 was 21\.90 ms against 23\.94 ms/);
  const p50 = bulletOf(results([missed("latency p50 at 1,000 samples/s", "≤ 2 ms")]));
  assert.match(p50, /p50, largest first: model publish → metric pairing 2\.80 ms/);
  assert.match(p50, /classic work queues the p50 was 2\.10 ms against 5\.14 ms/);
  assert.doesNotMatch(p50, /plot off/);
});

Deno.test("missedSection() gives the speed-up digits enough to show it under the target", async (t) => {
  const target = missed("3 model replicas vs 1 (10 ms per prediction)", "≥ 2.8×");
  await t.step("a median the table rounds up to the target", () => {
    const line = bulletOf(results([target]));
    assert.match(
      line,
      /2\.798 \(2\.734–2\.833\)×, under 2\.8 though the table rounds it to 2\.80\./,
    );
    assert.match(line, /307 samples\/s against 335 for one alone/);
    assert.match(line, /model-1 1,321, model-2 1,365, model-3 1,314 \(the busiest 4% above/);
    // 5 slots ÷ 335/s = 14.9 ms; 3 × 5 ÷ 920/s = 16.3 ms.
    assert.match(line, /14\.9 ms .* 16\.3 ms with 3 .*: 4\.9 and 6\.3 ms beyond the model's 10 ms/);
  });

  await t.step("a median plainly under it needs no word on rounding", () => {
    const r = results([target]);
    const speedup = { ...r.scaling.delayed.speedup, "3": at(2.5) };
    const line = bulletOf({
      ...r,
      scaling: { ...r.scaling, delayed: { ...r.scaling.delayed, speedup } },
    });
    assert.match(line, /The median speed-up is 2\.500×\. /);
  });
});

Deno.test("missedSection() splits each peak into private memory and shared file pages", () => {
  const full = bulletOf(results([
    missed("peak RSS of features and model at full throughput", "≤ 80 MiB"),
  ]));
  // features (74 MiB) is within the target: only model-1.
  assert.match(
    full,
    /: model-1 87 = 42 \+ 45 MiB \(section 5\)\. The private part alone is within/,
  );
  const atRate = bulletOf(
    results([missed("peak RSS of each service at 1,000 samples/s", "≤ 64 MiB")]),
  );
  assert.match(atRate, /metric 90 = 45 \+ 45 MiB, model-1 86 = 39 \+ 47 MiB/);
  assert.match(atRate, /Each private part alone is within the 64 MiB target/);
  const headroom = bulletOf(results([
    missed("docker-stack.yml memory limit ÷ peak at full throughput", "≥ 1.5×"),
  ]));
  assert.match(headroom, /model-1's 128 MiB limit is 1\.48× its 87 MiB peak, of which 45 MiB/);
  assert.match(headroom, /against its 42 MiB of private memory the limit is 3\.03×/);
});

Deno.test("missedSection() names the periodic jobs over the target", async (t) => {
  await t.step("their stretches in the pipeline, for results made before the own work", () => {
    const line = bulletOf(results([
      missed("longest run of a periodic job on metric's event loop", "≤ 1 ms"),
    ]));
    assert.match(
      line,
      /passed 1 ms, by p99 .*: plot 4\.955 ms \(CPU 1\.970 ms\), snapshot 4\.940 ms/,
    );
    assert.doesNotMatch(line, /expiry/);
  });

  await t.step("the largest own work on a quiet loop", () => {
    const own = (p99Ms: number) => ({ p50Ms: p99Ms / 2, p99Ms, maxMs: p99Ms * 2 });
    const line = bulletOf({
      ...results([
        missed("a periodic job's own work on metric's event loop (p99 of 1,000 runs)", "≤ 1 ms"),
      ]),
      periodicWork: {
        runs: 1_000,
        jobs: { plot: own(1.1), snapshot: own(1.2), expiry: own(0.05) },
      } as unknown as BenchResults["periodicWork"],
    });
    assert.match(
      line,
      /snapshot's: p99 1\.200 ms over 1,000 runs \(max 2\.400 ms\), then plot 1\.100/,
    );
    assert.match(line, /In the pipeline its stretches reach p99 4\.940 ms/);
  });
});

Deno.test("missedSection() leaves out the clauses older results have no figures for", () => {
  const r = results([
    missed("latency p99 at 1,000 samples/s, every periodic job running", "≤ 20 ms"),
    missed("peak RSS of features and model at full throughput", "≤ 80 MiB"),
  ]);
  const older = {
    ...r,
    latency: { ...r.latency, hops: undefined, plotOff: undefined, p99OverPlotOff: undefined },
    footprint: { ...r.footprint, peakAnonMiB: undefined },
    queueTypes: undefined,
  } as unknown as BenchResults;
  const section = missedSection(older);
  // The latency keeps the cores busy; the peak has nothing left to say, so no bullet.
  assert.match(
    section,
    /^- \*\*latency p99 .*\*\*: At 1,000 samples\/s .* cores busy \(section 3\)\.$/m,
  );
  assert.doesNotMatch(section, /peak RSS|hop|plot off|classic|undefined|NaN/);
});

Deno.test("missedSection() explains every target targetsOf judges, in the committed results", async () => {
  const committed: BenchResults = JSON.parse(await Deno.readTextFile(COMMITTED));
  const headline = {
    throughput: at(1),
    ofCeiling: at(1),
    p50: at(1),
    p99: at(1),
    p99OverPlotOff: at(1),
    longestPeriodicJobMs: at(1),
    threeReplicas: at(1),
    worstPeakMiB: 1,
    metricPeakMiB: 1,
    worstPeakAtRateMiB: 1,
    leastHeadroom: 1,
    sizedVsUnsized: at(1),
  };
  const ownWork = { job: "snapshot", p99Ms: 2, runs: 10 };
  const jobs = { snapshot: { p50Ms: 1, p99Ms: 2, maxMs: 3 } };
  for (const targets of [targetsOf(headline), targetsOf({ ...headline, ownWork })]) {
    const judged = targets.filter((t) => t.met !== undefined).map((t) => ({ ...t, met: false }));
    const section = missedSection({
      ...committed,
      targets: [...judged, ...targets.filter((t) => t.met === undefined)],
      periodicWork: { runs: 10, jobs } as unknown as BenchResults["periodicWork"],
    });
    const bullets = section.split("\n").filter((line) => line.startsWith("- **"));
    assert.deepEqual(bullets.map((b) => b.slice(4, b.indexOf("**:"))), judged.map((t) => t.what));
    assert.doesNotMatch(section, /undefined|NaN/);
  }
  // The committed results themselves: a bullet for each target they missed, none for the rest.
  const section = missedSection(committed);
  const missedWhats = committed.targets.filter((t) => t.met === false).map((t) => t.what);
  assert.equal(
    section.split("\n").filter((line) => line.startsWith("- **")).length,
    missedWhats.length,
  );
});

Deno.test("thresholdOf() reads the number a target's row states", () => {
  const of = (target: string) => thresholdOf({ what: "", target, measured: "" });
  assert.equal(of("≥ 3,000 samples/s"), 3000);
  assert.equal(of("≥ 85%"), 0.85);
  assert.equal(of("≤ 64 MiB"), 64);
  assert.equal(of("≥ 2.8×"), 2.8);
  assert.equal(of("reported, not judged"), undefined);
});
