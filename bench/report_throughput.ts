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
