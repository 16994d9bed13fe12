import assert from "node:assert/strict";
import { renderReport } from "./report.ts";

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
