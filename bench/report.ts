/**
 * Renders {@link BenchResults} as `docs/benchmarks.md`. Pure: the numbers
 * come from the JSON, the prose around them says how they were measured and
 * what each setting trades.
 *
 * @module
 */
import type { BenchResults, PipelineFigures, ScalingFigures } from "./results.ts";
import { COMPARED, type QueueTypeFigures } from "./queue_types.ts";
import {
  formatNumber,
  formatPercent,
  formatSummary,
  markdownTable,
  summarize,
  type Summary,
  verdict,
} from "./stats.ts";

/** The markdown document. */
export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const sections = [
    `# Benchmarks

Measured by \`deno task bench\` on ${r.generatedAt.slice(0, 16).replace("T", " ")} UTC${
      r.quick ? " in **quick mode** (1 run, fewer samples: a smoke test, not a result)" : ""
    }: every figure is the median of ${r.runsPerFigure} run${r.runsPerFigure > 1 ? "s" : ""}${
      r.runsPerFigure > 1 ? ", with min–max in brackets" : ""
    }; the whole bench took ${
      formatNumber(r.durationSeconds)
    } s. Against ${r.broker}. This file and \`benchmarks.json\` (every run's raw figures) are
written by the bench: rerun it rather than editing them.`,
    `## Machine

${
      markdownTable(["", ""], [
        ["CPU", m.cpuModel],
        ["Cores", String(m.cores)],
        ["Memory", `${formatNumber(m.memoryBytes / 2 ** 30, 1)} GiB`],
        ["Kernel", m.kernel],
        ["Deno", `${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`],
        ["RabbitMQ", m.rabbitmq],
      ])
    }`,
    `## Results against the targets

${
      markdownTable(
        ["What", "Target", "Measured (median)", ""],
        r.targets.map((t) => [t.what, t.target, t.measured, verdict(t.met)]),
      )
    }`,
    ceilingSection(r),
    throughputSection(r),
    latencySection(r),
    scalingSection(r),
    footprintSection(r),
    ...(r.queueTypes ? [queueTypesSection(r.queueTypes)] : []),
    settingsSection(r),
    methodSection(r),
  ];
  return sections.join("\n\n") + "\n";
}

function ceilingSection(r: BenchResults): string {
  const s = r.settings;
  return `## 1. The broker's ceiling

One durable queue of the work queues' type (quorum; section 6 compares classic), persistent
messages (delivery mode 2), publisher confirms pipelined with a
window of ${s.ceilingWindowMessages} unconfirmed messages (features' ${s.maxInFlightSamples} samples
in flight × 2 messages), one consumer with manual acks (one \`basic.ack\` per delivery, as the door
sends them) and prefetch ${s.prefetch.model} (the model's), a ${s.bodyBytes}-byte body with the
properties and headers of a real \`features\` message, ${formatNumber(s.ceilingMessages)} messages
per run. A publisher connection and a consumer connection in one small Deno process on
\`@cloudamqp/amqp-client\`, with the door's transport (writes coalesced per event-loop turn,
\`TCP_NODELAY\`). A sample costs 3 publishes and 3 deliveries, so **ceiling ÷ 3 is the pipeline's
limit**.

${
    markdownTable(
      ["", "Messages/s", "Ceiling ÷ 3 (samples/s)", "Broker CPU µs/msg", "Client CPU µs/msg"],
      [
        [
          "median (min–max)",
          formatSummary(r.ceiling.messagesPerSecond),
          formatSummary(r.ceiling.samplesPerSecond),
          formatSummary(summarize(r.ceiling.runs.map((c) => c.brokerCpuUsPerMessage))),
          formatSummary(summarize(r.ceiling.runs.map((c) => c.clientCpuUsPerMessage))),
        ],
        ...r.ceiling.runs.map((c, i) => [
          `run ${i + 1} (others' load ${formatNumber(c.otherCores, 2)} cores)`,
          formatNumber(c.messagesPerSecond),
          formatNumber(c.messagesPerSecond / 3),
          formatNumber(c.brokerCpuUsPerMessage),
          formatNumber(c.clientCpuUsPerMessage),
        ]),
      ],
      ["left", "right", "right", "right", "right"],
    )
  }`;
}

function throughputSection(r: BenchResults): string {
  const s = r.settings;
  return `## 2. Pipeline throughput

features sends ${
    formatNumber(s.throughputSamples)
  } samples as fast as confirms allow (\`INTERVAL_MS=0\`, \`MAX_IN_FLIGHT=${s.maxInFlightSamples}\`);
model (1 replica, prefetch ${s.prefetch.model}) and metric (prefetch ${s.prefetch.metric}) run as the
real services, each a \`deno run\` subprocess with its real narrow permissions (\`runArgs\` of
\`ops/launch.ts\`). Every service runs at \`LOG_LEVEL=${s.logLevel}\`: at \`info\` each message
writes a JSON log line, which would measure the terminal rather than the pipeline. Throughput is
pairs recorded ÷ (last \`paired_at\` − first publish), both read back from \`metric_log.csv\`
(publish time = \`paired_at − latency_ms\`). Each run is paired with the ceiling run just before it.

${
    markdownTable(
      ["", "Samples/s", "Ceiling ÷ 3, same round", "Ratio", "Others' load (cores)"],
      [
        [
          "median (min–max)",
          formatSummary(r.throughput.samplesPerSecond),
          formatSummary(r.ceiling.samplesPerSecond),
          formatPercentSummary(r.throughput.ofCeiling),
          "",
        ],
        ...r.throughput.runs.map((f, i) => [
          `run ${i + 1}`,
          formatNumber(f.samplesPerSecond),
          formatNumber(r.ceiling.runs[i].messagesPerSecond / 3),
          formatPercent(r.throughput.ofCeiling.runs[i]),
          formatNumber(f.otherCores, 2),
        ]),
      ],
      ["left", "right", "right", "right", "right"],
    )
  }

### Where a sample's CPU goes

CPU time (user + system, from \`/proc/<pid>/stat\`) each process spent per recorded sample, from
the moment model and metric were ready to the last pair (features' figure includes its start-up).
On ${r.machine.cores} cores the pipeline cannot go faster than ${
    formatNumber(r.machine.cores * 1e6)
  } µs of CPU per second ÷ the total below.

${cpuTable(r.throughput.cpuUsPerSample, r.ceiling.runs)}`;
}

function latencySection(r: BenchResults): string {
  const s = r.settings;
  const l = r.latency;
  return `## 3. Latency at ${formatNumber(s.latencyRatePerSec)} samples/s

features sends on a steady schedule of \`RATE_PER_SEC=${s.latencyRatePerSec}\` (timers fire in whole
milliseconds, so \`INTERVAL_MS=1\` cannot hold 1,000/s; features sends what fell due on each tick),
${formatNumber(s.latencySamples)} samples per run. Latency is metric's \`latency_ms\` column: from
features stamping the sample just before publishing it to metric pairing truth and prediction,
across three hops through the broker and the model. The first ${
    formatNumber(s.latencyWarmupSamples)
  } samples of each run (the first second: JIT warm-up of three fresh processes) are left out of the
percentiles.

${
    markdownTable(
      ["", "Offered (samples/s)", "p50 ms", "p95 ms", "p99 ms", "max ms"],
      [
        [
          "median (min–max)",
          formatSummary(l.offeredPerSecond),
          formatSummary(l.p50, 2),
          formatSummary(l.p95, 2),
          formatSummary(l.p99, 2),
          formatSummary(l.max, 1),
        ],
        ...l.runs.map((f, i) => [
          `run ${i + 1} (others' load ${formatNumber(f.otherCores, 2)} cores)`,
          formatNumber(f.samplesPerSecond),
          formatNumber(f.latencyMs.p50, 2),
          formatNumber(f.latencyMs.p95, 2),
          formatNumber(f.latencyMs.p99, 2),
          formatNumber(f.latencyMs.max, 1),
        ]),
      ],
      ["left", "right", "right", "right", "right", "right"],
    )
  }

Where the tail comes from: the samples over 10 ms, grouped into runs of consecutive samples (in
recording order). Few long runs mean pauses that held up everything in flight at once (a stalled
process: the broker, a service, or the CPU taken away), not every sample being a little slow.

${
    markdownTable(
      ["", "Samples over 10 ms", "Pauses", "Longest pause (samples)"],
      l.runs.map((f, i) => [
        `run ${i + 1}`,
        `${formatNumber(f.over10ms.slow)} of ${formatNumber(f.samples - s.latencyWarmupSamples)}`,
        formatNumber(f.over10ms.runs),
        formatNumber(f.over10ms.longest),
      ]),
      ["left", "right", "right", "right"],
    )
  }

CPU per sample at this rate (no batching happens at 1 sample per ms, so every message pays its own
wake-ups, system calls and TCP segments):

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

function scalingSection(r: BenchResults): string {
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

function footprintSection(r: BenchResults): string {
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
same limits (\`bench/v8_sizing.ts\`). Targets: ≤ ${f.targetsMiB.peak} MiB at full throughput, ≤ ${f.targetsMiB.atRate} MiB at ${
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

function queueTypesSection(q: QueueTypeFigures): string {
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

function settingsSection(r: BenchResults): string {
  const s = r.settings;
  return `## What each setting trades

- **Prefetch** (\`PREFETCH\`; model ${s.prefetch.model}, metric ${s.prefetch.metric}): how many
  unacknowledged deliveries a consumer holds. Higher keeps the consumer busy while acks travel and
  lets the broker batch deliveries; it costs memory per held message, and on a crash or shutdown
  that many messages are redelivered (duplicates, which metric drops by id). Metric's must cover
  the skew between \`y_true\` and \`y_pred\` since it holds halves until they pair. For a slow model
  prefetch is its concurrency (section 4).
- **In-flight window** (\`MAX_IN_FLIGHT\`, ${s.maxInFlightSamples} samples = ${s.ceilingWindowMessages}
  unconfirmed messages): publishing without waiting for each confirm hides the confirm round trip.
  Wider is not faster here: the broker confirms a persistent message once it is on disk or once a
  consumer acked it, so a window wider than the consumers' pace lets features run ahead, the
  queues back up, and the broker writes the backlog to disk at ~30% more CPU per message. At the
  old default of 256 samples the pipeline settled at ~3,400 samples/s with seconds of latency;
  at 32 it stays near the consumers' pace (16 is too few: features itself becomes the limit). A
  broker far away (longer round trip) needs a wider window.
- **Log level** (\`LOG_LEVEL\`): at \`info\` every service writes a JSON line per message (features
  per sample, metric per delivery): a few µs of formatting and a write each, and at thousands of
  messages per second the terminal or log shipper becomes the bottleneck. The bench runs at
  \`${s.logLevel}\`; production keeps \`info\` at the default 1 sample per second.
- **Group commit** (\`metric/append_log.ts\`): the CSV rows of one burst of pairs go out in one
  \`write\`; each pair is acked only after its row's write returned, so a crash loses nothing and
  the acks of a burst leave together. The trade is a few microseconds of waiting per pair for one
  syscall per burst instead of one per row.
- **Write coalescing and \`TCP_NODELAY\`** (\`stack/transport.ts\`): the frames one event-loop turn
  produces (publishes, acks) leave in one socket write; Nagle's algorithm is off so a lone frame is
  never held back waiting for a TCP ACK (up to 40 ms). A frame waits for the end of the current
  turn; every promise still resolves only once its bytes are handed to the socket, and a publish
  still resolves only on the broker's confirm.
- **\`RATE_PER_SEC\`** (features): a steady offered rate finer than whole milliseconds; 0 leaves
  \`INTERVAL_MS\` in charge.`;
}

function methodSection(r: BenchResults): string {
  const s = r.settings;
  return `## How it is measured

- \`deno task bench\` starts a throwaway RabbitMQ (\`ops/kit/local_broker.ts\`) unless \`AMQP_URL\` is
  set, then runs the ceiling and the throughput runs in alternating rounds (so each ratio compares
  runs made back to back), then the latency runs, then the scaling runs (1, 2, 3 replicas per
  round). \`--quick\` does one run of each with fewer samples as a smoke test.
- Before each run the three work queues are purged and metric gets a fresh log directory, so no
  run sees another's messages or recorded ids; dead letters are counted (a run that dead-letters
  anything is visible in \`benchmarks.json\`).
- The machine is shared with other work: a run starts once other processes have used less than
  ${s.quietThresholdCores} cores for a second (or after 20 s of waiting), and each run records the
  cores others used meanwhile ("others' load"): \`/proc/stat\` busy time minus the CPU of the
  broker, the services and the bench itself.
- Latency and throughput come from \`metric_log.csv\` itself (\`latency_ms\`, \`paired_at\`), i.e.
  what the pipeline recorded, not what the bench observed from outside.`;
}

/** Cores busy at `perSecond` samples per second, from CPU µs per sample. */
function cpuCores(cpu: Readonly<Record<string, Summary>>, perSecond: number): number {
  return (Object.values(cpu).reduce((sum, s) => sum + s.median, 0) * perSecond) / 1e6;
}

function cpuTable(
  cpu: Readonly<Record<string, Summary>>,
  ceilingRuns?: BenchResults["ceiling"]["runs"],
): string {
  const order = ["features", "model-1", "metric", "broker"];
  const names = [
    ...order.filter((n) => n in cpu),
    ...Object.keys(cpu).filter((n) => !order.includes(n)),
  ];
  const total = names.reduce((sum, name) => sum + cpu[name].median, 0);
  const rows = names.map((name) => [name, formatSummary(cpu[name])]);
  rows.push(["**total (medians)**", `**${formatNumber(total)}**`]);
  if (ceilingRuns && ceilingRuns.length > 0) {
    const broker = summarize(ceilingRuns.map((c) => c.brokerCpuUsPerMessage)).median;
    const client = summarize(ceilingRuns.map((c) => c.clientCpuUsPerMessage)).median;
    rows.push([
      "for comparison: 3 messages in the ceiling run (broker + client)",
      `${formatNumber(3 * broker)} + ${formatNumber(3 * client)}`,
    ]);
  }
  return markdownTable(["Process", "CPU µs per sample"], rows, ["left", "right"]);
}

function scalingTable(figures: ScalingFigures): string {
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

function formatPercentSummary(summary: Summary): string {
  const median = formatPercent(summary.median);
  if (summary.runs.length <= 1) return median;
  return `${median} (${formatPercent(summary.min)}–${formatPercent(summary.max)})`;
}
