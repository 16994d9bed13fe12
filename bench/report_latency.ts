/**
 * Section 3 of `docs/benchmarks.md`: latency at a fixed rate, as metric ships and with its plot
 * off, the cold start apart from the steady state, where each sample's time goes hop by hop,
 * and what metric's periodic jobs cost its event loop. Pure.
 *
 * @module
 */
import { HOP_LABELS, HOPS } from "../metric/hops.ts";
import { PERIODIC_JOB_BUCKETS } from "../metric/telemetry.ts";
import { MILLISECOND_BUCKETS } from "../stack/telemetry.ts";
import { cpuTable } from "./report_throughput.ts";
import type {
  BenchResults,
  HistogramSummaries,
  PeriodicWorkFigures,
  PipelineFigures,
} from "./results.ts";
import { formatNumber, formatSummary, markdownTable, summarize, type Summary } from "./stats.ts";

const RIGHT = "right" as const;

export function latencySection(r: BenchResults): string {
  const s = r.settings;
  const l = r.latency;
  const steadySeconds = (s.latencySamples - s.latencyWarmupSamples) / s.latencyRatePerSec;
  return `## 3. Latency at ${formatNumber(s.latencyRatePerSec)} samples/s

features sends on a steady schedule of \`RATE_PER_SEC=${s.latencyRatePerSec}\` (timers fire in whole
milliseconds, so \`INTERVAL_MS=1\` cannot hold 1,000/s; features sends what fell due on each tick),
${formatNumber(s.latencySamples)} samples per run. Latency is metric's \`latency_ms\` column: from
features stamping the sample just before publishing it to metric pairing truth and prediction,
across three hops through the broker and the model. The first ${
    formatNumber(s.latencyWarmupSamples)
  } samples of each run are its cold start (JIT warm-up of three fresh processes), reported apart;
the percentiles are those of the ${
    formatNumber(steadySeconds)
  } s of steady state after it. A minute holds every periodic job of metric several times: the
plot (the SVG file; a PNG only when the dashboard is asked for one) every 10 s, the MAE log line every 5 s, the dashboard's
reading and the expiry of unpaired halves every second. Each round runs metric as it ships and
with its plot off (\`PLOT_EVERY_MS=0\`), in alternating order; the last column divides the first
p99 by the second.

${shippedVsPlotOff(l)}

${coldStart(l)}

${hopsSection(r)}

${periodicJobs(r)}

Where the tail comes from: the samples over 10 ms, grouped into runs of consecutive samples (in
recording order). Few long runs mean pauses that held up everything in flight at once (a stalled
process: the broker, a service, or the CPU taken away), not every sample being a little slow.

${
    markdownTable(
      ["", "Samples over 10 ms", "Pauses", "Longest pause (samples)"],
      [
        ...l.runs.map((f, i) => slowRow(`run ${i + 1}, as shipped`, f, s.latencyWarmupSamples)),
        ...(l.plotOff?.runs ?? []).map((f, i) =>
          slowRow(`run ${i + 1}, plot off`, f, s.latencyWarmupSamples)
        ),
      ],
      ["left", RIGHT, RIGHT, RIGHT],
    )
  }

CPU per sample at this rate, as shipped (no batching happens at 1 sample per ms, so every message
pays its own wake-ups, system calls and TCP segments):

${cpuTable(l.cpuUsPerSample)}

At ${formatNumber(l.offeredPerSecond.median)} samples/s that is ${
    formatNumber(cpuCores(l.cpuUsPerSample, l.offeredPerSecond.median), 2)
  } of the machine's ${r.machine.cores} cores busy. At full speed a sample costs ${
    formatNumber(cpuCores(r.throughput.cpuUsPerSample, 1e6))
  } µs in all (section 2), as messages arrive in bursts and one wake-up, one read and one write
serve many of them. On this VM a wake-up of a Deno event loop costs ~80 µs of
CPU (a 1 ms timer loop: 86 µs per tick) and an async file write ~64 µs, so at an even 1 sample per
millisecond the processes queue for the CPU. The tail of the latency is that queueing: the slow
samples come in short pauses (the table above) in which one process of the chain waited for a core,
and every sample in flight through it waited too.`;
}

/** Each round's run as shipped next to the same round's with the plot off. */
function shippedVsPlotOff(l: BenchResults["latency"]): string {
  const off = l.plotOff;
  const run = (f: PipelineFigures | undefined) =>
    f
      ? [
        formatNumber(f.latencyMs.p50, 2),
        formatNumber(f.latencyMs.p99, 2),
        formatNumber(f.latencyMs.max, 1),
      ]
      : ["–", "–", "–"];
  return markdownTable(
    [
      "",
      "Offered (samples/s)",
      "p50 ms",
      "p95 ms",
      "p99 ms",
      "max ms",
      "plot off: p50 ms",
      "p99 ms",
      "max ms",
      "p99 ÷ plot off",
    ],
    [
      [
        "median (min–max)",
        formatSummary(l.offeredPerSecond),
        formatSummary(l.p50, 2),
        formatSummary(l.p95, 2),
        formatSummary(l.p99, 2),
        formatSummary(l.max, 1),
        off ? formatSummary(off.p50, 2) : "–",
        off ? formatSummary(off.p99, 2) : "–",
        off ? formatSummary(off.max, 1) : "–",
        l.p99OverPlotOff ? formatSummary(l.p99OverPlotOff, 2) : "–",
      ],
      ...l.runs.map((f, i) => [
        `round ${i + 1} (others' load ${formatNumber(f.otherCores, 2)} / ${
          formatNumber(off?.runs[i]?.otherCores ?? Number.NaN, 2)
        } cores)`,
        formatNumber(f.samplesPerSecond),
        formatNumber(f.latencyMs.p50, 2),
        formatNumber(f.latencyMs.p95, 2),
        formatNumber(f.latencyMs.p99, 2),
        formatNumber(f.latencyMs.max, 1),
        ...run(off?.runs[i]).slice(0, 3),
        formatNumber(l.p99OverPlotOff?.runs[i] ?? Number.NaN, 2),
      ]),
    ],
    ["left", RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT],
  );
}

function coldStart(l: BenchResults["latency"]): string {
  if (!l.cold) return "";
  return `**Cold start** (the first samples of each run as shipped, left out above): three fresh
processes compiling their code as the first samples arrive.

${
    markdownTable(
      ["", "p50 ms", "p99 ms", "max ms"],
      [[
        "median (min–max)",
        formatSummary(l.cold.p50, 2),
        formatSummary(l.cold.p99, 2),
        formatSummary(l.cold.max, 1),
      ]],
      ["left", RIGHT, RIGHT, RIGHT],
    )
  }`;
}

function hopsSection(r: BenchResults): string {
  const hops = r.latency.hops;
  if (!hops) return "";
  const cells = (summaries: HistogramSummaries | undefined) =>
    summaries
      ? [
        formatSummary(summaries.p50, 2),
        formatSummary(summaries.p99, 2),
        formatSummary(summaries.mean, 2),
      ]
      : ["–", "–", "–"];
  return `### Where the time goes

Each hop of a sample from the time stamps its messages carry (\`metric/hops.ts\`): features'
\`sent-at-ms\`, model's \`received-at-ms\` and \`predicted-at-ms\`, metric's pairing and its row
written with both halves acked. metric observes them into \`ml_metric_hop_seconds\` (buckets of
${bucketsMs(MILLISECOND_BUCKETS)}); the bench scrapes it at the end of the cold start and
at the end of the run, and the steady state is the difference. p50 and p99 are interpolated inside
a bucket, as PromQL's \`histogram_quantile\` does, so they are good to about half a bucket; the
means are exact. On one machine the hops subtract one clock. Across machines hops 1 and 3 each
carry the skew between two hosts' clocks (a hop shorter than the skew comes out negative and is
counted in \`ml_metric_hop_negative_total\` instead); their sum with hop 2 is the end-to-end latency
whatever model's clock says, and hops 2 and 4 are measured on one process's clock.

${
    markdownTable(
      [
        "Hop",
        "as shipped: p50 ms",
        "p99 ms",
        "mean ms",
        "plot off: p50 ms",
        "p99 ms",
        "mean ms",
        "cold start: p99 ms",
      ],
      HOPS.map((hop) => [
        HOP_LABELS[hop],
        ...cells(hops.on[hop]),
        ...cells(hops.off[hop]),
        hops.cold[hop] ? formatSummary(hops.cold[hop].p99, 2) : "–",
      ]),
      ["left", RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, RIGHT],
    )
  }`;
}

/** A histogram's bucket bounds in seconds, as "0.25, 0.5 and 1 ms". */
export function bucketsMs(bounds: readonly number[]): string {
  const ms = bounds.map((s) =>
    Number((s * 1000).toPrecision(6)).toLocaleString("en-US", { maximumFractionDigits: 2 })
  );
  return `${ms.slice(0, -1).join(", ")} and ${ms.at(-1)} ms`;
}

function periodicJobs(r: BenchResults): string {
  const l = r.latency;
  const own = r.periodicWork;
  if (!l.periodicJobs && !own) return "";
  const jobs = l.periodicJobs ?? {};
  const cpu = l.periodicJobsCpu ?? {};
  const none = { p99: summarize([]), maxBound: summarize([]) };
  const renders = l.plotRenders;
  const names = [...new Set([...Object.keys(jobs), ...Object.keys(own?.jobs ?? {})])].sort();
  const inSitu = (job: string) => {
    const s = jobs[job];
    return s
      ? [
        formatSummary(s.count),
        formatSummary(s.p99, 3),
        formatSummary(s.maxBound, 2),
        formatSummary((cpu[job] ?? none).p99, 3),
        formatSummary((cpu[job] ?? none).maxBound, 2),
      ]
      : ["–", "–", "–", "–", "–"];
  };
  const ownCells = (job: string) => {
    const w = own?.jobs[job];
    return w
      ? [formatNumber(w.p50Ms, 3), formatNumber(w.p99Ms, 3), formatNumber(w.maxMs, 3)]
      : ["–", "–", "–"];
  };
  return `### metric's periodic jobs

How long each stretch of each of metric's timers held its event loop, the loop that pairs samples
and acknowledges them (\`ml_metric_periodic_job_seconds\`: the synchronous part of each run, and
each part after an await, timed apart: the snapshot's reading of its state once the log's writer is
flushed, then each piece of its serialisation, one per turn of the loop), in the steady state of the runs as shipped. "Longest" is the upper bound
of the highest bucket a stretch fell in (buckets of ${bucketsMs(PERIODIC_JOB_BUCKETS)}): none took
longer. The CPU columns are the CPU
time metric's process used meanwhile (\`ml_metric_periodic_job_cpu_seconds\`, every thread's, so at
most the job's own work): where a run held the loop far longer than it used the CPU, the core was
given to another process in the middle of it. The plot's part on the loop
is drawing the SVG and writing it; a PNG is rendered only when the dashboard is asked for one, on a
worker's thread${
    renders && renders.count.median > 0
      ? ` (${formatSummary(renders.count)} renders per run, ${
        formatSummary(renders.mean, 1)
      } ms each on average)`
      : ""
  }.${own ? `\n\n${ownWorkProse(r, own)}` : ""}

${
    markdownTable(
      [
        "Job",
        "Stretches",
        "p99 ms",
        "Longest ms (≤)",
        "CPU p99 ms",
        "CPU longest ms (≤)",
        ...(own ? ["own work, quiet loop: p50 ms", "p99 ms", "max ms"] : []),
      ],
      names.map((job) => [job, ...inSitu(job), ...(own ? ownCells(job) : [])]),
      ["left", RIGHT, RIGHT, RIGHT, RIGHT, RIGHT, ...(own ? [RIGHT, RIGHT, RIGHT] : [])],
    )
  }`;
}

/** What the own-work columns measured, and how they differ from the stretches in the pipeline. */
function ownWorkProse(r: BenchResults, own: PeriodicWorkFigures): string {
  const s = own.state;
  const stepUs = own.clockStepMs * 1000;
  return `The last three columns are each job's own work: the same synchronous code
(\`bench/periodic_work.ts\`: the SVG drawn and encoded for its file; the snapshot's state read,
and each piece of its serialisation, each a run of its own as each is a stretch of the loop; a reading of the statistics recorded; the expiry of ${
    formatNumber(s.pendingHalves)
  } waiting halves, none due, and of the shadow's, none waiting; the MAE line formatted and encoded),
each job run ${formatNumber(own.runs)} times in turn with the others after ${
    formatNumber(own.warmupRuns)
  } untimed rounds, in the bench's own process before it started a broker or a service (others' load
${formatNumber(own.otherCores, 2)} cores), over state like a long run's at metric's defaults: ${
    formatNumber(s.errors)
  } errors over ${s.modelVersions} model versions and ${s.replicas} replicas, ${
    formatNumber(s.recordedIds)
  } recorded ids remembered, ${
    formatNumber(s.readings)
  } readings in the dashboard's history. In the pipeline a stretch also holds whatever time the
kernel gave metric's core to another process in the middle of it (the broker, features and model
share the machine's ${r.machine.cores} cores with it); the own work is what the job itself holds the
loop for, and what the target judges, the longest stretch being reported beside it.
\`performance.now()\` moved in steps of ${
    formatNumber(stepUs, stepUs < 1 ? 2 : 0)
  } µs here, so the figures are good to that.`;
}

function slowRow(label: string, f: PipelineFigures, warmup: number): string[] {
  return [
    label,
    `${formatNumber(f.over10ms.slow)} of ${formatNumber(f.samples - warmup)}`,
    formatNumber(f.over10ms.runs),
    formatNumber(f.over10ms.longest),
  ];
}

/** Cores busy at `perSecond` samples per second, from CPU µs per sample. */
function cpuCores(cpu: Readonly<Record<string, Summary>>, perSecond: number): number {
  return (Object.values(cpu).reduce((sum, s) => sum + s.median, 0) * perSecond) / 1e6;
}
