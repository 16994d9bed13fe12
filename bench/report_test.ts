import assert from "node:assert/strict";
import { renderReport } from "./report.ts";
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
