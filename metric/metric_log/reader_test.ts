import assert from "node:assert/strict";
import { CSV_HEADER, formatRecord, metricLogPath, type PairRecord, pairRecord } from "./format.ts";
import { MetricLogTail, readMetricLog } from "./reader.ts";

const PAIRED_AT = Date.parse("2026-01-02T03:04:05.678Z");
const record = (id: string, yTrue: number, yPred: number) =>
  pairRecord({
    id,
    yTrue,
    yPred,
    modelVersion: "v1",
    replica: "model-1",
    pairedAtMs: PAIRED_AT,
    sentAtMs: PAIRED_AT - 3.5,
  });

const A = record("a", 151, 160);
const B = record("b", 75, 70.5);
const C = record("c", 141, 141);
const lines = (...records: PairRecord[]) => records.map((r) => formatRecord(r) + "\n").join("");

async function inTempDir(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "metric_log_test-" });
  try {
    await fn(metricLogPath(dir));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readMetricLog() reads a missing file as empty", async () => {
  await inTempDir(async (path) => {
    assert.deepEqual(await readMetricLog(path), { records: [], end: 0, restarted: false });
  });
});

Deno.test("readMetricLog() reads the header and rows, and leaves a torn line for later", async (t) => {
  await inTempDir(async (path) => {
    const complete = `${CSV_HEADER}\n${lines(A, B)}`;
    await Deno.writeTextFile(path, `${complete}${formatRecord(C).slice(0, 20)}`);
    const first = await readMetricLog(path);
    await t.step("from the start", () => {
      assert.equal(first.header, CSV_HEADER);
      assert.deepEqual(first.records, [A, B]);
      assert.equal(first.end, new TextEncoder().encode(complete).byteLength);
      assert.equal(first.restarted, false);
    });
    await t.step("from where the last read ended, once the line is complete", async () => {
      await Deno.writeTextFile(path, `${complete}${lines(C)}`);
      const next = await readMetricLog(path, first.end);
      assert.equal(next.header, undefined);
      assert.deepEqual(next.records, [C]);
      assert.equal(next.end, (await Deno.stat(path)).size);
    });
  });
});

Deno.test("readMetricLog() skips damaged lines", async () => {
  await inTempDir(async (path) => {
    await Deno.writeTextFile(path, `${CSV_HEADER}\n${lines(A)}not,a,row\n\n${lines(B)}`);
    assert.deepEqual((await readMetricLog(path)).records, [A, B]);
  });
});

Deno.test("readMetricLog() starts over when the file is shorter than the offset", async () => {
  await inTempDir(async (path) => {
    await Deno.writeTextFile(path, `${CSV_HEADER}\n${lines(A)}`);
    const chunk = await readMetricLog(path, 10_000);
    assert.equal(chunk.restarted, true);
    assert.equal(chunk.header, CSV_HEADER);
    assert.deepEqual(chunk.records, [A]);
  });
});

Deno.test("MetricLogTail reads only what was appended, and starts over on a new file", async () => {
  await inTempDir(async (path) => {
    const tail = new MetricLogTail(path);
    assert.deepEqual(await tail.read(), []);
    await Deno.writeTextFile(path, `${CSV_HEADER}\n${lines(A, B)}`);
    assert.deepEqual(await tail.read(), [A, B]);
    await Deno.writeTextFile(path, lines(C), { append: true });
    assert.deepEqual(await tail.read(), [A, B, C]);
    assert.deepEqual(tail.records, [A, B, C]);
    await Deno.writeTextFile(path, `${CSV_HEADER}\n`);
    assert.deepEqual(await tail.read(), []);
  });
});

Deno.test("MetricLogTail can follow from an offset", async () => {
  await inTempDir(async (path) => {
    await Deno.writeTextFile(path, `${CSV_HEADER}\n${lines(A)}`);
    const before = await readMetricLog(path);
    await Deno.writeTextFile(path, lines(B), { append: true });
    assert.deepEqual(await new MetricLogTail(path, { from: before.end }).read(), [B]);
  });
});
