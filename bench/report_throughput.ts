/**
 * Sections 1–3 of `docs/benchmarks.md`: the broker's ceiling, the
 * pipeline's throughput with where a sample's CPU goes, and its latency at a
 * fixed rate. Pure.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import {
  formatNumber,
  formatPercent,
  formatSummary,
  markdownTable,
  summarize,
  type Summary,
} from "./stats.ts";

export function ceilingSection(r: BenchResults): string {
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

export function throughputSection(r: BenchResults): string {
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

export function latencySection(r: BenchResults): string {
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

/** Cores busy at `perSecond` samples per second, from CPU µs per sample. */
function cpuCores(cpu: Readonly<Record<string, Summary>>, perSecond: number): number {
  return (Object.values(cpu).reduce((sum, s) => sum + s.median, 0) * perSecond) / 1e6;
}

/** The CPU µs per sample of each process, their total, and (given the ceiling runs) the ceiling's for comparison. */
export function cpuTable(
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

function formatPercentSummary(summary: Summary): string {
  const median = formatPercent(summary.median);
  if (summary.runs.length <= 1) return median;
  return `${median} (${formatPercent(summary.min)}–${formatPercent(summary.max)})`;
}
