import assert from "node:assert/strict";
import { listRotated } from "./files.ts";
import { CSV_HEADER, formatRecord, metricLogPath, pairRecord } from "./format.ts";
import { DEFAULT_ROTATION } from "./rotation.ts";
import { snapshotPath } from "./snapshot.ts";
import { openMetricStore, type StoreOptions, volumeBudgetBytes } from "./store.ts";

const OPTIONS = {
  prefetch: 10,
  logRotateBytes: 300,
  logRotateMs: 0,
  logRetentionBytes: 1e9,
  logRetentionMs: 0,
};

function recorder() {
  const lines: string[] = [];
  const line = (level: string) => (message: string, properties: Record<string, unknown>) =>
    lines.push(`${level} ${message.replace(/\{(\w+)\}/g, (_, key) => String(properties[key]))}`);
  return { lines, log: { info: line("info"), warn: line("warn"), error: line("error") } };
}

const row = (n: number) =>
  formatRecord(pairRecord({
    id: `s${n}`,
    yTrue: 100,
    yPred: 90 + n,
    modelVersion: "v1",
    replica: "r1",
    pairedAtMs: Date.parse("2026-01-01T00:00:00Z") + n,
  }));

Deno.test("openMetricStore() opens an empty volume quietly, and says how it restored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "store_test-" });
  try {
    const { lines, log } = recorder();
    const store = await openMetricStore({ ...OPTIONS, logDir: `${dir}/logs` }, log);
    assert.equal(store.stats.count, 0);
    assert.equal(store.window, 20_000);
    assert.deepEqual(lines.filter((l) => !l.startsWith("info restored")), []);
    assert.match(
      lines[0],
      /^info restored 0 samples from .*metric_log\.csv \(0 rows read from 0 files\)/,
    );
    await store.csv.close();
    await store.labels.close();
    assert.equal(await Deno.readTextFile(metricLogPath(`${dir}/logs`)), `${CSV_HEADER}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openMetricStore() logs each rotation, and a restore that could not use the snapshot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "store_test-" });
  try {
    const first = recorder();
    const store = await openMetricStore({ ...OPTIONS, logDir: dir }, first.log);
    for (let n = 0; n < 20; n++) await store.csv.append(row(n));
    await store.snapshots(() => ["s19"]).take();
    await store.csv.close();
    await store.labels.close();
    assert.ok(listRotated(metricLogPath(dir)).length > 0);
    assert.ok(
      first.lines.some((l) =>
        /^info rotated .*metric_log\.csv to .*metric_log\.000001\.csv; retention deleted nothing$/
          .test(l)
      ),
    );

    await Deno.writeTextFile(snapshotPath(dir), "{ torn");
    const second = recorder();
    const again = await openMetricStore({ ...OPTIONS, logDir: dir }, second.log);
    assert.equal(again.stats.count, 20);
    assert.ok(
      second.lines.some((l) =>
        /^warn cannot restore from the snapshot \(.*not JSON.*\); read every file of /.test(l)
      ),
    );
    await again.csv.close();
    await again.labels.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("volumeBudgetBytes() is two logs within their retention, the shadow log and the other files", () => {
  const defaults: StoreOptions = {
    logDir: "logs",
    prefetch: 1000,
    logRotateBytes: DEFAULT_ROTATION.rotateBytes,
    logRotateMs: DEFAULT_ROTATION.rotateMs,
    logRetentionBytes: DEFAULT_ROTATION.retainBytes,
    logRetentionMs: DEFAULT_ROTATION.retainMs,
  };
  assert.equal(volumeBudgetBytes(defaults), 4 * 1024 ** 3 + 267 * 1024 ** 2);
});
