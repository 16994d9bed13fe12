import assert from "node:assert/strict";
import { listRotated, rotatedPath } from "./files.ts";
import {
  CSV_HEADER,
  EARLIER_CSV_HEADERS,
  formatRecord,
  metricLogPath,
  pairRecord,
  parseMetricLog,
} from "./format.ts";
import { readLastRows } from "./last_rows.ts";
import { withRotatingLog } from "./rotating_log_test_util.ts";
import type { LogWriter } from "./writer.ts";

const lines = Array.from({ length: 300 }, (_, i) =>
  formatRecord(pairRecord({
    id: `id-${i}`,
    yTrue: 100 + i,
    yPred: 90 + i / 3,
    modelVersion: "v1",
    replica: "model-1",
    pairedAtMs: Date.parse("2026-01-02T03:04:05.678Z") + i,
    sentAtMs: Date.parse("2026-01-02T03:04:05.678Z") + i - 2.5,
    inputs: Array.from({ length: 10 }, (_, j) => (i + j) / 100),
  })));

const text = (rows: readonly string[]) => rows.map((line) => `${line}\n`).join("");
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const withLog = (fn: (path: string, log: LogWriter) => Promise<void>) =>
  withRotatingLog("last_rows_test", fn);

async function write(log: LogWriter, rows: readonly string[]): Promise<void> {
  for (const line of rows) await log.append(line);
}

Deno.test("readLastRows() reads rows across rotated files and the live one, in log order", async (t) => {
  await withLog(async (path, log) => {
    await write(log, lines);
    assert.ok(listRotated(path).length > 10, "the log did not rotate");
    const live = parseMetricLog(await Deno.readTextFile(path)).length;
    assert.ok(live > 0 && live < 10, `${live} rows in the live file`);

    for (const chunkBytes of [64 * 1024, 100, 7]) {
      await t.step(
        `the last 10: the live file's rows and the rotated ones before (chunks of ${chunkBytes})`,
        async () => {
          const found = await readLastRows(path, { last: 10, chunkBytes });
          assert.equal(found.rows, 10);
          assert.equal(decode(found.bytes), text(lines.slice(-10)));
        },
      );
    }
    await t.step("every row, no header, when more are asked for than the log holds", async () => {
      const found = await readLastRows(path, { last: 5000 });
      assert.equal(found.rows, lines.length);
      assert.equal(decode(found.bytes), text(lines));
    });
    await t.step("only the live file's rows when they are enough", async () => {
      const found = await readLastRows(path, { last: live });
      assert.equal(decode(found.bytes), text(lines.slice(-live)));
    });
    await t.step("the newest rows that fit in maxBytes", async () => {
      const maxBytes = 3 * (lines[299].length + 1);
      const found = await readLastRows(path, { last: 100, maxBytes });
      assert.equal(found.rows, 3);
      assert.equal(decode(found.bytes), text(lines.slice(-3)));
    });
  });
});

Deno.test("readLastRows() leaves out a last line without its newline", async () => {
  await withLog(async (path, log) => {
    await write(log, lines.slice(0, 20));
    await Deno.writeTextFile(path, lines[20].slice(0, 30), { append: true });
    const found = await readLastRows(path, { last: 5 });
    assert.equal(decode(found.bytes), text(lines.slice(15, 20)));
  });
});

Deno.test("readLastRows() finds no rows in a missing log or one of its header alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "last_rows_test-" });
  try {
    const path = metricLogPath(dir);
    assert.deepEqual(await readLastRows(path, { last: 5 }), { rows: 0, bytes: new Uint8Array() });
    await Deno.writeTextFile(path, `${CSV_HEADER}\n`);
    assert.deepEqual(await readLastRows(path, { last: 5 }), { rows: 0, bytes: new Uint8Array() });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readLastRows() leaves out the header of a rotated file of the first format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "last_rows_test-" });
  try {
    const path = metricLogPath(dir);
    const old = ["old-1,1,2,1,v0,r,0.500,2026-01-01T00:00:00.000Z"];
    await Deno.writeTextFile(rotatedPath(path, 1), text([EARLIER_CSV_HEADERS[0], ...old]));
    await Deno.writeTextFile(path, text([CSV_HEADER, ...lines.slice(0, 2)]));
    const found = await readLastRows(path, { last: 10 });
    assert.equal(decode(found.bytes), text([...old, ...lines.slice(0, 2)]));
    assert.equal(parseMetricLog(decode(found.bytes)).length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
