import assert from "node:assert/strict";
import { listRotated, rotatedPath } from "./files.ts";
import { CSV_HEADER, formatRecord, type PairRecord, pairRecord } from "./format.ts";
import { MetricLogTail, readMetricLog } from "./reader.ts";
import { withRotatingLog } from "./rotating_log_test_util.ts";
import type { LogWriter } from "./writer.ts";

const rows = Array.from({ length: 300 }, (_, i) =>
  pairRecord({
    id: `id-${i}`,
    yTrue: 100 + i,
    yPred: 90 + i / 3,
    modelVersion: "v1",
    replica: "model-1",
    pairedAtMs: Date.parse("2026-01-02T03:04:05.678Z") + i,
    sentAtMs: Date.parse("2026-01-02T03:04:05.678Z") + i - 2.5,
  }));

const withLog = (fn: (path: string, log: LogWriter) => Promise<void>) =>
  withRotatingLog("reader_rotation_test", fn);

async function write(log: LogWriter, records: readonly PairRecord[]): Promise<void> {
  for (const record of records) await log.append(formatRecord(record));
}

Deno.test("MetricLogTail follows the log across rotations, reading each row once", async () => {
  await withLog(async (path, log) => {
    const tail = new MetricLogTail(path);
    // Reads between writes of every size: some see one rotation, some several, some none.
    let written = 0;
    for (const step of [1, 3, 25, 2, 60, 9, 100, 0, 100]) {
      await write(log, rows.slice(written, written + step));
      written += step;
      assert.deepEqual(await tail.read(), rows.slice(0, written));
    }
    assert.ok(listRotated(path).length > 10);
  });
});

Deno.test("MetricLogTail reads every rotated file first when it starts from 0", async () => {
  await withLog(async (path, log) => {
    await write(log, rows.slice(0, 200));
    const tail = new MetricLogTail(path);
    assert.deepEqual(await tail.read(), rows.slice(0, 200));
    await write(log, rows.slice(200));
    assert.deepEqual(await tail.read(), rows);
  });
});

Deno.test("MetricLogTail from an offset counts only rows after it, across rotations", async () => {
  await withLog(async (path, log) => {
    await write(log, rows.slice(0, 50));
    const before = await readMetricLog(path);
    assert.deepEqual(before.records, rows.slice(0, 50), "readMetricLog from 0: every row");
    const tail = new MetricLogTail(path, { from: before.end });
    await write(log, rows.slice(50));
    assert.deepEqual(await tail.read(), rows.slice(50));
  });
});

Deno.test("MetricLogTail skips a rotated file retention deleted and starts over on a wiped log", async () => {
  await withLog(async (path, log) => {
    const tail = new MetricLogTail(path);
    await write(log, rows.slice(0, 5));
    assert.equal((await tail.read()).length, 5);
    await write(log, rows.slice(5, 40));
    // The file the tail was in is gone before it finished: the next ones are still read.
    await Deno.remove(rotatedPath(path, 1));
    const read = await tail.read();
    // The rows before the deleted file's end are missing; those after it all came, once.
    const after = read.slice(5);
    assert.deepEqual(read.slice(0, 5), rows.slice(0, 5));
    assert.ok(after.length > 0 && after.length < 35, `${after.length} rows after`);
    assert.deepEqual(after, rows.slice(40 - after.length, 40));
    for (const file of listRotated(path)) await Deno.remove(file.path);
    await Deno.writeTextFile(path, `${CSV_HEADER}\n${formatRecord(rows[0])}\n`);
    assert.deepEqual(await tail.read(), [rows[0]]);
  });
});
