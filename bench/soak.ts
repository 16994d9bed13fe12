/**
 * `deno task bench --soak <minutes>`: one pipeline run at {@link LATENCY_RATE} for that long, the
 * services as shipped, with a reading (`soak_readings.ts`) each minute (a tenth of the soak when
 * it is shorter) and a verdict (`soak_verdict.ts`) on whether memory, latency, disk per row and
 * the queues stayed flat, written as `soak.md` and `soak.json`.
 *
 * The bench keeps every row of the run in memory (about 200 bytes each, 0.7 GB an hour): soaks of
 * hours, not days.
 *
 * @module
 */
import { LATENCY_RATE } from "./options.ts";
import type { PipelineProgress, PipelineResult, PipelineRun } from "./pipeline.ts";
import { queueDepths } from "./broker_queues.ts";
import { readingEveryMs, readingStep, type SoakReading, soakReading } from "./soak_readings.ts";
import { renderSoakReport, soakCharts, type SoakResults } from "./soak_report.ts";
import { soakVerdict } from "./soak_verdict.ts";
import { formatNumber, percentile } from "./stats.ts";

/** What a soak needs from the bench. */
export interface SoakOptions {
  readonly minutes: number;
  readonly url: string;
  /** Where soak.md and soak.json go. */
  readonly outDir: string;
  readonly machine: string;
  readonly v8Flags: Readonly<Record<string, string>>;
  /** The bench's pipeline run of `count` samples with `settings` (V8 sized as the containers). */
  pipeline(count: number, settings: Partial<PipelineRun>): Promise<PipelineResult>;
  say(message: string): void;
}

/** How long past the soak's duration the run may take to record its last samples. */
const DRAIN_MARGIN_MS = 300_000;

/** Runs the soak; writes soak.md, soak.json and the charts to `outDir`; resolves to what it wrote. */
export async function runSoak(options: SoakOptions): Promise<SoakResults> {
  const durationMs = options.minutes * 60_000;
  const count = Math.round((LATENCY_RATE * durationMs) / 1000);
  const everyMs = readingEveryMs(durationMs);
  const readings: SoakReading[] = [];
  let startedAt: number | undefined;
  let seen = 0;
  const watch = async (progress: PipelineProgress) => {
    const now = performance.now();
    startedAt ??= now;
    const elapsedMs = now - startedAt;
    const step = readingStep({
      elapsedMs,
      everyMs,
      taken: readings.length,
      lastAtS: readings.at(-1)?.atS,
      rows: progress.records.length,
      seenRows: seen,
      count,
    });
    if (step === "wait") return;
    if (step === "fold") {
      readings.pop();
      seen = readings.at(-1)?.rows ?? 0;
    }
    const reading = soakReading({
      atS: elapsedMs / 1000,
      previousAtS: readings.at(-1)?.atS ?? 0,
      records: progress.records,
      previousRows: seen,
      memory: progress.memory,
      diskBytes: await directoryBytes(progress.logDir),
      queues: await queueDepths(options.url),
    });
    readings.push(reading);
    seen = reading.rows;
    options.say(
      `soak ${formatNumber(reading.atS)} s: ${formatNumber(reading.rows)} rows, p99 ${
        formatNumber(reading.p99Ms, 2)
      } ms, metric RSS ${formatNumber((reading.memory.metric?.rssBytes ?? 0) / 2 ** 20, 1)} MiB`,
    );
  };
  options.say(
    `soak: ${formatNumber(count)} samples at ${formatNumber(LATENCY_RATE)}/s, a reading every ${
      formatNumber(everyMs / 1000, 1)
    } s`,
  );
  const result = await options.pipeline(count, {
    features: { INTERVAL_MS: "0", RATE_PER_SEC: String(LATENCY_RATE) },
    timeoutMs: durationMs + DRAIN_MARGIN_MS,
    watch,
  });
  const latencies = [...result.tally.latenciesMs].sort((a, b) => a - b);
  const results: SoakResults = {
    generatedAt: new Date().toISOString(),
    minutes: options.minutes,
    ratePerSecond: LATENCY_RATE,
    readingEveryS: everyMs / 1000,
    machine: options.machine,
    v8Flags: options.v8Flags,
    readings,
    verdict: soakVerdict(readings),
    totals: {
      rows: result.tally.rows,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      deadLettered: result.deadLettered,
    },
  };
  await Deno.mkdir(options.outDir, { recursive: true });
  await Deno.writeTextFile(`${options.outDir}/soak.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${options.outDir}/soak.md`, renderSoakReport(results));
  for (const [file, svg] of Object.entries(soakCharts(results))) {
    await Deno.writeTextFile(`${options.outDir}/${file}`, svg);
  }
  return results;
}

/** Bytes of every file under `dir`; a file gone meanwhile (a snapshot's temporary) counts 0. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) total += await directoryBytes(path);
    else total += (await Deno.stat(path).catch(() => undefined))?.size ?? 0;
  }
  return total;
}
