import assert from "node:assert/strict";
import { listRotated, liveSeq, logFiles, rotatedPath, rotatedSeq } from "./files.ts";

Deno.test("rotatedPath() numbers a log's files beside it, before the extension", () => {
  assert.equal(rotatedPath("logs/metric_log.csv", 1), "logs/metric_log.000001.csv");
  assert.equal(rotatedPath("/v/labels_log.txt", 42), "/v/labels_log.000042.txt");
  assert.equal(rotatedPath("noext", 3), "noext.000003");
  assert.equal(rotatedPath("a/metric_log.csv", 1_234_567), "a/metric_log.1234567.csv");
  assert.throws(
    () => rotatedPath("a.csv", 0),
    /'seq' must be a positive integer: current value is 0/,
  );
});

Deno.test("rotatedSeq() reads back the number and nothing else", () => {
  const live = "logs/metric_log.csv";
  const cases: [string, number | undefined][] = [
    ["metric_log.000001.csv", 1],
    ["metric_log.1234567.csv", 1_234_567],
    ["metric_log.csv", undefined],
    ["metric_log.1.csv", undefined],
    ["metric_log.000001.csv.tmp", undefined],
    ["metric_log.csv.2026-01-01T00-00-00.000Z.bak", undefined],
    ["labels_log.000001.txt", undefined],
    ["metric_log.000000.csv", undefined],
  ];
  for (const [name, seq] of cases) assert.equal(rotatedSeq(live, name), seq, name);
});

Deno.test("listRotated(), liveSeq() and logFiles() see a log's files in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "files_test-" });
  try {
    const live = `${dir}/metric_log.csv`;
    assert.deepEqual(listRotated(live), []);
    assert.equal(liveSeq(live), 1);
    assert.equal(liveSeq(live, 7), 7);
    assert.deepEqual(logFiles(live), []);
    for (const seq of [10, 2, 1_000_000]) await Deno.writeTextFile(rotatedPath(live, seq), "");
    await Deno.writeTextFile(`${dir}/labels_log.000003.txt`, "");
    await Deno.writeTextFile(live, "");
    assert.deepEqual(listRotated(live).map((f) => f.seq), [2, 10, 1_000_000]);
    assert.equal(liveSeq(live), 1_000_001);
    assert.deepEqual(logFiles(live), [
      rotatedPath(live, 2),
      rotatedPath(live, 10),
      rotatedPath(live, 1_000_000),
      live,
    ]);
    assert.deepEqual(listRotated(`${dir}/missing/metric_log.csv`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
