/**
 * What a soak wrote (`soak.json`) and its markdown (`soak.md`): the verdict, the checks behind it
 * and a row per reading. Pure.
 *
 * @module
 */
import { renderLineChart } from "./soak_chart.ts";
import type { SoakReading } from "./soak_readings.ts";
import { SOAK_TOLERANCE, type SoakVerdict } from "./soak_verdict.ts";
import { formatNumber, markdownTable } from "./stats.ts";

const MIB = 1024 * 1024;

/** Everything one soak measured: `soak.json`. */
export interface SoakResults {
  readonly generatedAt: string;
  readonly minutes: number;
  /** Samples per second features offered. */
  readonly ratePerSecond: number;
  readonly readingEveryS: number;
  /** CPU, cores, memory, Deno and RabbitMQ versions, in a line. */
  readonly machine: string;
  /** `DENO_V8_FLAGS` of each service, as the containers derive them. */
  readonly v8Flags: Readonly<Record<string, string>>;
  readonly readings: readonly SoakReading[];
  readonly verdict: SoakVerdict;
  /** The whole run: rows recorded, their latency (ms), and the dead letters it left. */
  readonly totals: {
    readonly rows: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly deadLettered: number;
  };
}

/** The charts `soak.md` shows, by file name: each process's RSS, the latency, the disk. */
export function soakCharts(soak: SoakResults): Record<string, string> {
  const { readings } = soak;
  const xs = readings.map((r) => r.atS);
  const processes = [...new Set(readings.flatMap((r) => Object.keys(r.memory)))];
  return {
    "soak_rss.svg": renderLineChart({
      title: "Resident set of each process",
      unit: "MiB",
      xs,
      series: processes.map((name) => ({
        name,
        values: readings.map((r) => (r.memory[name]?.rssBytes ?? Number.NaN) / MIB),
      })),
    }),
    "soak_latency.svg": renderLineChart({
      title: "Latency of each interval's rows",
      unit: "ms",
      xs,
      series: [
        { name: "p50", values: readings.map((r) => r.p50Ms) },
        { name: "p99", values: readings.map((r) => r.p99Ms) },
      ],
    }),
    "soak_disk.svg": renderLineChart({
      title: "metric's log directory",
      unit: "MiB",
      xs,
      series: [{ name: "disk", values: readings.map((r) => r.diskBytes / MIB) }],
    }),
  };
}

/** `soak.md`; it shows the charts of {@link soakCharts}, written beside it. */
export function renderSoakReport(soak: SoakResults): string {
  const { readings, verdict } = soak;
  const processes = [...new Set(readings.flatMap((r) => Object.keys(r.memory)))];
  const queues = [...new Set(readings.flatMap((r) => Object.keys(r.queues)))];
  const mib = (bytes: number | undefined) =>
    bytes === undefined ? "–" : formatNumber(bytes / MIB, 1);
  const rows = readings.map((r) => [
    clock(r.atS),
    formatNumber(r.rows),
    formatNumber(r.rowsPerSecond),
    formatNumber(r.p50Ms, 2),
    formatNumber(r.p99Ms, 2),
    formatNumber(r.maxMs, 1),
    ...processes.map((name) =>
      `${mib(r.memory[name]?.rssBytes)} (${mib(r.memory[name]?.peakRssBytes)})`
    ),
    mib(r.diskBytes),
    r.rows > 0 ? formatNumber(r.diskBytes / r.rows) : "–",
    queues.map((queue) => r.queues[queue] ?? "–").join(" / ") || "–",
  ]);
  const checks = verdict.checks.map((check) => {
    const digits = check.unit === "messages" || check.unit === "B" ? 0 : 2;
    return [
      check.series,
      `${formatNumber(check.middle, digits)} ${check.unit}`,
      `${formatNumber(check.last, digits)} ${check.unit}`,
      check.flat ? "flat" : "**grew**",
    ];
  });
  const t = SOAK_TOLERANCE;
  return [
    `# Soak: ${formatNumber(soak.minutes, 1)} min at ${formatNumber(soak.ratePerSecond)} samples/s`,
    "",
    [
      `${soak.generatedAt}; ${soak.machine}. One model replica; every service as shipped (metric's`,
      "plot, snapshot and log rotation at their defaults), V8 sized as in `docker-stack.yml`. A",
      `reading every ${formatNumber(soak.readingEveryS, 1)} s from features' start; latency is`,
      "each row's `latency_ms` (features' publish to metric's pairing), of the rows recorded since",
      "the reading before.",
    ].join(" "),
    "",
    `**Verdict: ${verdict.text}.**`,
    "",
    [
      "The last third of the readings against the middle third (the first holds the cold start):",
      `each process's mean RSS within ${t.rssBytes / MIB} MiB, the median interval p99 at most`,
      `${t.p99Ratio}× plus ${t.p99SlackMs} ms, disk bytes per row within`,
      `${t.bytesPerRowRatio * 100}%, each queue's deepest within`,
      `${formatNumber(t.queueMessages)} messages.`,
    ].join(" "),
    "",
    markdownTable(["series", "middle third", "last third", ""], checks, [
      "left",
      "right",
      "right",
      "left",
    ]),
    "",
    `All ${formatNumber(soak.totals.rows)} rows: p50 ${
      formatNumber(soak.totals.p50Ms, 2)
    } ms, p99 ${formatNumber(soak.totals.p99Ms, 2)} ms; ${
      formatNumber(soak.totals.deadLettered)
    } dead-lettered.`,
    "",
    Object.keys(soakCharts(soak)).map((file) => `![${file}](${file})`).join("\n"),
    "",
    [
      "RSS in MiB, now (peak so far); disk is every file in metric's log directory; queues are the",
      `messages ready in ${queues.join(" / ") || "each queue"}.`,
    ].join(" "),
    "",
    markdownTable(
      [
        "time",
        "rows",
        "rows/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        ...processes.map((name) => `${name} RSS`),
        "disk MiB",
        "B/row",
        "queues",
      ],
      rows,
      ["right", ...Array(processes.length + 7).fill("right"), "left"],
    ),
    "",
  ].join("\n");
}

/** `m:ss` of `seconds`. */
function clock(seconds: number): string {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}
