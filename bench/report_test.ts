import assert from "node:assert/strict";
import { renderReport } from "./report.ts";
import type { BenchResults } from "./results.ts";
import { bucketsMs } from "./report_latency.ts";
import { MILLISECOND_BUCKETS } from "../stack/telemetry.ts";

const DOCS = new URL("../docs/", import.meta.url);

function headings(markdown: string): string[] {
  return markdown.split("\n").filter((line) => line.startsWith("## "));
}

Deno.test("renderReport() renders the committed results with the sections of docs/benchmarks.md", async () => {
  const results = JSON.parse(await Deno.readTextFile(new URL("benchmarks.json", DOCS)));
  const rendered = renderReport(results);
  const committed = await Deno.readTextFile(new URL("benchmarks.md", DOCS));
  assert.deepEqual(
    headings(rendered),
    headings(committed),
    "docs/benchmarks.md is stale: run `deno task bench --render`",
  );
  assert.ok(rendered.endsWith("\n") && !rendered.includes("undefined"));
});

Deno.test("bucketsMs() lists a histogram's bounds in ms, as the report's prose gives them", () => {
  assert.equal(bucketsMs([0.00005, 0.0015, 0.01, 1]), "0.05, 1.5, 10 and 1,000 ms");
  // The hop histogram's bounds, as metric registers them.
  assert.match(bucketsMs(MILLISECOND_BUCKETS), /^0\.25, 0\.5, 1, 1\.5, 2, 3, 5, 7\.5, 10, /);
});

Deno.test("renderReport() puts the periodic jobs' own work beside their stretches in the pipeline", async () => {
  const committed: BenchResults = JSON.parse(
    await Deno.readTextFile(new URL("benchmarks.json", DOCS)),
  );
  const section = (markdown: string) =>
    markdown.slice(
      markdown.indexOf("### metric's periodic jobs"),
      markdown.indexOf("Where the tail"),
    );
  const job = (p99Ms: number) => ({ p50Ms: p99Ms / 4, p99Ms, maxMs: p99Ms * 3 });
  const withOwnWork: BenchResults = {
    ...committed,
    periodicWork: {
      runs: 1_000,
      warmupRuns: 10,
      clockStepMs: 0.0002,
      otherCores: 0.05,
      state: {
        errors: 1_000_000,
        modelVersions: 3,
        replicas: 3,
        recordedIds: 20_000,
        pendingHalves: 1_000,
        readings: 600,
      },
      jobs: {
        expiry: job(0.05),
        mae_log: job(0.01),
        plot: job(0.3),
        snapshot: job(0.4),
        stats_reading: job(0.004),
      },
    },
  };
  const rendered = section(renderReport(withOwnWork));
  const prose = rendered.replaceAll("\n", " ");
  assert.match(rendered, /\| own work, quiet loop: p50 ms \| +p99 ms \| +max ms \|/);
  assert.match(rendered, /\| snapshot +\|.*\| +0\.100 \| +0\.400 \| +1\.200 \|/);
  assert.match(prose, /the kernel gave metric's core to another process/);
  assert.match(prose, /in steps of 0\.20 µs/);
  assert.ok(!rendered.includes("undefined") && !rendered.includes("NaN"));
  // Results made before the own work was measured render as they did.
  const { periodicWork: _, ...before } = committed;
  assert.ok(!section(renderReport(before)).includes("own work, quiet loop"));
});
