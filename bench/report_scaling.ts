/**
 * Sections 4–6 of `docs/benchmarks.md`: scaling with model replicas, each
 * service's memory against its limit, and classic vs quorum work queues.
 * Pure.
 *
 * @module
 */
import type { BenchResults, PipelineFigures, ScalingFigures } from "./results.ts";
import { COMPARED, type QueueTypeFigures } from "./queue_types.ts";
import { formatNumber, formatSummary, markdownTable, type Summary } from "./stats.ts";

export function scalingSection(r: BenchResults): string {
  const s = r.settings;
  return `## 4. Scaling with model replicas

Each run first queues its whole backlog (features runs to completion with metric already up),
then starts the model replicas together; throughput is how fast they drain it: pairs ÷ (last
\`paired_at\` − first \`paired_at\`). This keeps features' own publishing burst, which would
compete for the same two cores during a short three-replica run, out of the comparison.

**A slow model** (\`INFERENCE_DELAY_MS=${s.scalingDelayMs}\`, \`PREFETCH=${s.scalingPrefetch}\`,
${formatNumber(s.scalingSamples)} samples). The model awaits the delay concurrently for each
delivery it holds, so one replica does at most prefetch ÷ delay = ${
    formatNumber(s.scalingPrefetch / (s.scalingDelayMs / 1000))
  } predictions/s: what scales is concurrency, replicas × prefetch. Prefetch ${s.scalingPrefetch}
stands for a model that can usefully work on ${s.scalingPrefetch} requests at once; with the default
prefetch of ${s.prefetch.model} one replica could already take ${
    formatNumber(s.prefetch.model / (s.scalingDelayMs / 1000))
  }/s, more than the broker allows on this machine, and a second replica would add nothing.

${scalingTable(r.scaling.delayed)}

**CPU-bound** (no delay, default prefetch ${s.prefetch.model}, ${
    formatNumber(s.cpuScalingSamples)
  } samples): on ${r.machine.cores} cores the broker already takes most of the CPU (section 2), so
more replicas only add processes competing for the same cores. (These drain rates are above
section 2's throughput because features' publishes, a third of the broker's work, happened before
the clock started.)

${scalingTable(r.scaling.cpuBound)}

Each speed-up divides a run by the one-replica run of the same round.`;
}

export function footprintSection(r: BenchResults): string {
  const f = r.footprint;
  const unsized = f.unsized;
  const mib = (summary: Summary | undefined) => summary ? formatSummary(summary, 0, " MiB") : "–";
  const rows = Object.entries(f.peakMiB).map(([name, peak]) => [
    name,
    `${formatNumber(f.limitsMiB[name])} MiB`,
    `\`${f.v8Flags[name]}\``,
    mib(f.idleMiB[name]),
    mib(f.atRateMiB[name]),
    mib(peak),
    mib(f.peakAnonMiB?.[name]),
    `${formatNumber(f.limitsMiB[name] / peak.median, 2)}×`,
    mib(unsized.peakMiB[name]),
  ]);
  const total = (cpu: Readonly<Record<string, Summary>>) =>
    Object.values(cpu).reduce((sum, s) => sum + s.median, 0);
  return `## 5. Footprint

Peak resident set (\`VmHWM\` of \`/proc/<pid>/status\`) of each service, polled until the process
ended, at ${formatNumber(r.settings.latencyRatePerSec)} samples/s (the latency runs) and at full
throughput (the throughput runs); "ready" is \`VmRSS\` once model and metric answered \`/healthz\`,
before any message. Every run gives each service the \`DENO_V8_FLAGS\` its container gets: the
images' entrypoint (\`ops/images/ml_entry.c\`) derives them from the memory limit in
\`docker-stack.yml\` (old space a quarter of the limit, 1 MiB semi-spaces), and the bench reads the
same limits (\`bench/v8_sizing.ts\`). Targets: ≤ ${f.targetsMiB.peak} MiB at full throughput (metric,
which also serves the dashboard: ≤ ${
    f.targetsMiB.metricPeak ?? f.targetsMiB.peak
  } MiB), ≤ ${f.targetsMiB.atRate} MiB at ${
    formatNumber(r.settings.latencyRatePerSec)
  } samples/s, and each limit at least ${
    formatNumber(f.targetsMiB.headroom, 1)
  }× the peak at full throughput. For scale: \`deno run\` of an empty script is about 37 MiB.

${
    markdownTable(
      [
        "Service",
        "Limit",
        "V8 flags",
        "Ready",
        `Peak at ${formatNumber(r.settings.latencyRatePerSec)}/s`,
        "Peak at full speed",
        "Private at full speed",
        "Limit ÷ peak",
        "Peak, V8's own sizing",
      ],
      rows,
      ["left", "right", "left", "right", "right", "right", "right", "right", "right"],
    )
  }

The last column is the same throughput runs without \`DENO_V8_FLAGS\`: V8 then sizes its heap from
the host's memory (a 4 GiB limit on this machine) and lets its young-generation semi-spaces grow
to 16 MiB, whatever the container's limit. Those runs gave ${
    formatSummary(unsized.samplesPerSecond)
  } samples/s (vs ${formatSummary(r.throughput.samplesPerSecond)} sized) at ${
    formatNumber(total(unsized.cpuUsPerSample))
  } µs of CPU per sample (vs ${formatNumber(total(r.throughput.cpuUsPerSample))} sized).

Where the memory goes: "Private" is the largest \`RssAnon\` polled during the same runs, the
memory that is the process's own. The rest of \`VmHWM\`, about 45 MiB in every service, is
\`RssFile\`: the pages of the deno binary and its ICU data that the process touched. They are the
same pages in every Deno process on the machine, and in a container the kernel charges them to
one cgroup only (\`deno task e2e\`'s saturation phase prints each container's cgroup peak, which
stays well below its \`VmHWM\`), so \`VmHWM\` overstates what a limit has to hold. Of the private
part, V8's heap is the smaller share with the old space capped: a \`--trace-gc\` run of metric
at full throughput shows 10–16 MiB live and at most ~30 MiB committed; the rest is Deno's runtime
(the "ready" figure less those shared pages) and native buffers under load (socket reads, the CSV's group commit,
allocator fragmentation). Below the "ready" figure nothing in these services can go; going lower
would take fewer native buffers per message in Deno or the AMQP client, not a smaller heap.

`;
}

export function queueTypesSection(q: QueueTypeFigures): string {
  const ratio = (summary: Summary) => `${formatSummary(summary, 2)}×`;
  const rows = COMPARED.map((type) => {
    const t = q.byType[type];
    return [
      type,
      formatSummary(t.ceilingMessagesPerSecond),
      formatSummary(t.brokerCpuUsPerMessage),
      formatSummary(t.throughputSamplesPerSecond),
      formatSummary(t.latencyP50Ms, 2),
      formatSummary(t.latencyP99Ms, 2),
    ];
  });
  const r = q.quorumOverClassic;
  rows.push([
    "**quorum ÷ classic**",
    ratio(r.ceiling),
    ratio(r.brokerCpu),
    ratio(r.throughput),
    ratio(r.p50),
    ratio(r.p99),
  ]);
  return `## 6. Queue types: classic vs quorum

The work queues are quorum queues (\`QUEUE_TYPE=quorum\`, the default): replicated on a cluster,
with a delivery limit. What that costs on one node, measured in the same bench on the same broker
with the two types alternating in each round: the ceiling of section 1 on a queue of each type
(${formatNumber(q.sizes.ceiling)} messages), the pipeline's throughput as in section 2
(${formatNumber(q.sizes.throughput)} samples) and its latency at ${
    formatNumber(q.sizes.latencyRate)
  } samples/s as in section 3 (${formatNumber(q.sizes.latency)} samples, the first ${
    formatNumber(q.sizes.latencyWarmup)
  } left out). The work queues are deleted and declared anew when the type changes; the policies
(\`stack/policies.ts\`) apply to both, and classic queues ignore the quorum-only keys. The last row
divides each round's quorum figure by the same round's classic one. The other sections run on
quorum queues.

${
    markdownTable(
      [
        "Work queues",
        "Ceiling msg/s",
        "Broker CPU µs/msg",
        "Pipeline samples/s",
        "p50 ms",
        "p99 ms",
      ],
      rows,
      ["left", "right", "right", "right", "right", "right"],
    )
  }

A quorum queue writes every message to its Raft log (and, on a cluster, waits for a majority of
replicas before confirming), where a classic queue confirms a persistent message once it is in its
message store or consumed; on one node the difference is the log's fsyncs and bookkeeping.`;
}

/** Samples/s and speed-up by replica count, and how the last run spread over the replicas. */
export function scalingTable(figures: ScalingFigures): string {
  const replicas = Object.keys(figures.samplesPerSecond);
  return markdownTable(
    ["Model replicas", "Samples/s", "Speed-up vs 1 replica", "Samples per replica (last run)"],
    replicas.map((n) => [
      n,
      formatSummary(figures.samplesPerSecond[n]),
      n === "1" ? "1×" : `${formatSummary(figures.speedup[n], 2)}×`,
      spread(figures.runs[n].at(-1)),
    ]),
    ["left", "right", "right", "left"],
  );
}

function spread(run: PipelineFigures | undefined): string {
  if (!run) return "";
  return Object.entries(run.byReplica)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name}: ${formatNumber(count)}`)
    .join(", ");
}
