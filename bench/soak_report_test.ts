import assert from "node:assert/strict";
import type { SoakReading } from "./soak_readings.ts";
import { renderSoakReport, type SoakResults } from "./soak_report.ts";
import { soakVerdict } from "./soak_verdict.ts";

const MIB = 1024 * 1024;

function reading(i: number): SoakReading {
  return {
    atS: (i + 1) * 60,
    rows: (i + 1) * 60_000,
    intervalRows: 60_000,
    rowsPerSecond: 1000,
    p50Ms: 1.234,
    p99Ms: 4.5,
    maxMs: 12,
    memory: {
      metric: { rssBytes: 60 * MIB, peakRssBytes: 64 * MIB },
      ...(i < 2 ? { features: { rssBytes: 40 * MIB, peakRssBytes: 41 * MIB } } : {}),
    },
    diskBytes: (i + 1) * 6 * MIB,
    queues: { features: 2, y_true: 0 },
  };
}

function soak(readings: SoakReading[]): SoakResults {
  return {
    generatedAt: "2026-12-03T18:00:00.000Z",
    minutes: 3,
    ratePerSecond: 1000,
    readingEveryS: 60,
    machine: "a CPU, 2 cores",
    v8Flags: { metric: "--max-old-space-size=64" },
    readings,
    verdict: soakVerdict(readings),
    totals: { rows: 180_000, p50Ms: 1.2, p99Ms: 4.4, deadLettered: 0 },
  };
}

Deno.test("renderSoakReport() gives the verdict and a row per reading", () => {
  const text = renderSoakReport(soak([0, 1, 2].map(reading)));
  assert.match(text, /^# Soak: 3\.0 min at 1,000 samples\/s\n/);
  assert.match(text, /\n\*\*Verdict: flat\.\*\*\n/);
  assert.match(text, /\| metric RSS \| +60\.00 MiB \| +60\.00 MiB \| flat \|/);
  // Numbers right-aligned, the queues' list left: a column for each of the two processes.
  assert.match(text, /\n\|(---:\|){10}---\|\n/);
  const table = text.split("\n").filter((line) => /^\| \d+:\d\d /.test(line));
  assert.deepEqual(table, [
    "| 1:00 | 60,000 | 1,000 | 1.23 | 4.50 | 12.0 | 60.0 (64.0) | 40.0 (41.0) | 6.0 | 105 | 2 / 0 |",
    "| 2:00 | 120,000 | 1,000 | 1.23 | 4.50 | 12.0 | 60.0 (64.0) | 40.0 (41.0) | 12.0 | 105 | 2 / 0 |",
    "| 3:00 | 180,000 | 1,000 | 1.23 | 4.50 | 12.0 | 60.0 (64.0) | – (–) | 18.0 | 105 | 2 / 0 |",
  ]);
});

Deno.test("renderSoakReport() says which series grew", () => {
  const readings = [0, 1, 2].map(reading);
  readings[2] = { ...readings[2], queues: { features: 5000, y_true: 0 } };
  assert.match(
    renderSoakReport(soak(readings)),
    /\*\*Verdict: grew: features queue 2 → 5,000 messages\.\*\*/,
  );
});
