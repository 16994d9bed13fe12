import assert from "node:assert/strict";
import { Pairer } from "../pairing/pairer.ts";
import { ErrorStats } from "../pairing/stats.ts";
import { dedupWindow, MIN_DEDUP_WINDOW, redeliveryWindow } from "./dedup_window.ts";
import { listRotated } from "./files.ts";
import {
  CSV_HEADER,
  EARLIER_CSV_HEADERS,
  formatRecord,
  metricLogPath,
  pairRecord,
} from "./format.ts";
import { restoreMetricState } from "./restore.ts";
import type { RotationSettings } from "./rotation.ts";
import { snapshotPath, type SnapshotTaker } from "./snapshot.ts";
import { type MetricStore, openMetricStore } from "./store.ts";
import type { LogWriter } from "./writer.ts";

const SMALL_FILES: RotationSettings = {
  rotateBytes: 20_000,
  rotateMs: 0,
  retainBytes: 1e12,
  retainMs: 0,
};
const START = Date.parse("2026-05-01T00:00:00Z");

/** metric's recording path, without the broker: its store (`store.ts`), ids and snapshots. */
class Service {
  readonly pairer: Pairer<null>;
  readonly snapshots: SnapshotTaker;
  #n = 0;

  private constructor(readonly store: MetricStore) {
    this.pairer = new Pairer<null>({ ttlMs: 1_000, seenCapacity: store.window });
    for (const id of store.seen) this.pairer.markRecorded(id);
    this.snapshots = store.snapshots(() => this.pairer.recordedIds());
  }

  static async open(dir: string, rotation = SMALL_FILES, prefetch = 1_000): Promise<Service> {
    return new Service(
      await openMetricStore({
        logDir: dir,
        prefetch,
        logRotateBytes: rotation.rotateBytes,
        logRotateMs: rotation.rotateMs,
        logRetentionBytes: rotation.retainBytes,
        logRetentionMs: rotation.retainMs,
      }, QUIET),
    );
  }

  get stats(): ErrorStats {
    return this.store.stats;
  }

  get writer(): LogWriter {
    return this.store.csv;
  }

  /**
   * Records `count` more pairs, one a second, two model versions and three replicas; from
   * sample `first` on when given (a service opened again goes on where the last one stopped).
   */
  async record(count: number, first?: number): Promise<void> {
    if (first !== undefined) this.#n = first;
    const writes: Promise<void>[] = [];
    const end = this.#n + count;
    for (; this.#n < end; this.#n++) {
      const n = this.#n;
      const record = pairRecord({
        id: `sample-${n}`,
        yTrue: 25 + (n * 37) % 320,
        yPred: 150 + Math.sin(n) * 60,
        modelVersion: n < 5_000 ? "v1" : "v2",
        replica: `ml_model.${n % 3}`,
        pairedAtMs: START + n * 1_000,
        sentAtMs: START + n * 1_000 - 3,
      });
      this.stats.add(record);
      this.pairer.markRecorded(record.id);
      writes.push(this.writer.append(formatRecord(record)));
      if (writes.length === 500) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
  }

  async close(): Promise<void> {
    await this.store.csv.close();
    await this.store.labels.close();
  }
}

const QUIET = { info() {}, warn() {}, error() {} };

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "restore_state_test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("restoreMetricState() reads the snapshot and only the rows after it", async () => {
  await withTempDir(async (dir) => {
    const service = await Service.open(dir);
    await service.record(8_000);
    await service.snapshots.take();
    // The tail crosses several rotations.
    await service.record(1_234);
    await service.close();
    const restored = await restoreMetricState(dir, { seenCapacity: MIN_DEDUP_WINDOW });
    assert.equal(restored.from, "snapshot");
    assert.equal(restored.fallback, undefined);
    assert.equal(restored.rows, 1_234);
    assert.ok(restored.files >= 2 && restored.files < listRotated(metricLogPath(dir)).length);
    assert.deepEqual(restored.stats.state(), service.stats.state());
    // The snapshot's redelivery window, then the ids of the rows after it.
    assert.deepEqual(
      restored.seen,
      service.pairer.recordedIds().slice(-(redeliveryWindow(1_000) + 1_234)),
    );
    assert.equal(restored.seq, listRotated(metricLogPath(dir)).length + 1);
  });
});

Deno.test("restoreMetricState() falls back to every file, and says why, without a usable snapshot", async (t) => {
  await withTempDir(async (dir) => {
    const service = await Service.open(dir);
    await service.record(3_000);
    await service.snapshots.take();
    await service.record(500);
    await service.close();
    const path = snapshotPath(dir);
    const good = await Deno.readTextFile(path);
    const cases: [string, () => Promise<void>, RegExp][] = [
      ["missing", () => Deno.remove(path), /there is no snapshot/],
      ["torn", () => Deno.writeTextFile(path, good.slice(0, 1000)), /not JSON/],
      [
        "damaged statistics",
        () => Deno.writeTextFile(path, good.replace(/"count":\d+/, '"count":-5')),
        /'count'/,
      ],
      [
        "not matching the log",
        () => Deno.writeTextFile(path, good.replace('"sample-2999"]', '"other"]')),
        /the row before the snapshot's end/,
      ],
      [
        "past the end of the log",
        () => Deno.writeTextFile(path, good.replace(/"offset":\d+/, '"offset":99999999')),
        /holds \d+ bytes/,
      ],
    ];
    for (const [name, damage, reason] of cases) {
      await t.step(name, async () => {
        await damage();
        const restored = await restoreMetricState(dir, { seenCapacity: MIN_DEDUP_WINDOW });
        assert.equal(restored.from, "files");
        assert.match(restored.fallback ?? "", reason);
        assert.equal(restored.rows, 3_500);
        assert.deepEqual(restored.stats.state(), service.stats.state());
        assert.deepEqual(restored.seen, service.pairer.recordedIds());
        await Deno.writeTextFile(path, good);
      });
    }
  });
});

Deno.test("restoreMetricState() starts empty and quiet on an empty volume", async () => {
  await withTempDir(async (dir) => {
    const restored = await restoreMetricState(dir, { seenCapacity: 10 });
    assert.deepEqual(
      { ...restored, stats: restored.stats.count },
      {
        rows: 0,
        skipped: 0,
        truncatedBytes: 0,
        stats: 0,
        seen: [],
        from: "files",
        fallback: undefined,
        files: 0,
        seq: 1,
      },
    );
  });
});

Deno.test("restoreMetricState() finds the live file's number in the snapshot once every rotated file is gone", async () => {
  await withTempDir(async (dir) => {
    const service = await Service.open(dir);
    await service.record(2_000);
    // Taken at the shutdown: no row after it.
    await service.snapshots.take();
    await service.close();
    const seq = service.writer.position.seq;
    assert.ok(seq > 3);
    for (const file of listRotated(metricLogPath(dir))) await Deno.remove(file.path);
    const restored = await restoreMetricState(dir, { seenCapacity: MIN_DEDUP_WINDOW });
    assert.equal(restored.from, "snapshot");
    assert.equal(restored.seq, seq);
    assert.equal(restored.rows, 0);
    assert.deepEqual(restored.stats.state(), service.stats.state());
  });
});

Deno.test("an upgrade from the first format: its live file is read, rotated whole, and new rows start a file of their own", async () => {
  await withTempDir(async (dir) => {
    const path = metricLogPath(dir);
    // What the previous version left: the first format's header and rows, a snapshot in the middle.
    const before = await Service.open(dir, { ...SMALL_FILES, rotateBytes: 1e9 });
    await before.record(600);
    await before.snapshots.take();
    await before.record(400);
    await before.close();
    const current = await Deno.readTextFile(path);
    const firstFormat = current.replace(CSV_HEADER, EARLIER_CSV_HEADERS[0]).replaceAll(
      ",".repeat(10) + "\n",
      "\n",
    );
    assert.equal(firstFormat.split("\n")[1].split(",").length, 8);
    await Deno.writeTextFile(path, firstFormat);

    const after = await Service.open(dir);
    assert.equal(after.stats.count, 1_000);
    assert.deepEqual(after.stats.state(), before.stats.state());
    // Every id is still known: a redelivery from before the upgrade is not recorded again.
    assert.equal(after.store.seen.at(-1), "sample-999");
    const rotated = listRotated(path);
    assert.deepEqual(rotated.map((file) => file.seq), [1]);
    assert.equal(await Deno.readTextFile(rotated[0].path), firstFormat);
    await after.record(10, 1_000);
    await after.snapshots.take();
    await after.close();
    const live = (await Deno.readTextFile(path)).split("\n");
    assert.equal(live[0], CSV_HEADER);
    assert.equal(live.length, 1 + 10 + 1);

    // And the next start reads both formats, from the snapshot or from the files alone.
    const restored = await restoreMetricState(dir, { seenCapacity: MIN_DEDUP_WINDOW });
    assert.equal(restored.fallback, undefined);
    assert.equal(restored.from, "snapshot");
    assert.equal(restored.stats.count, 1_010);
    await Deno.remove(snapshotPath(dir));
    const fromFiles = await restoreMetricState(dir, { seenCapacity: MIN_DEDUP_WINDOW });
    assert.equal(fromFiles.from, "files");
    assert.equal(fromFiles.skipped, 0);
    assert.deepEqual(fromFiles.stats.state(), restored.stats.state());
    assert.equal(fromFiles.seq, 2);
  });
});

Deno.test("a redelivery of any id inside the redelivery window is never recorded twice after a restart", async () => {
  await withTempDir(async (dir) => {
    const prefetch = 300;
    const window = redeliveryWindow(prefetch);
    const service = await Service.open(dir, SMALL_FILES, prefetch);
    await service.record(5_000);
    await service.snapshots.take();
    // Rows written after the last snapshot, their acks lost in the crash: the broker redelivers
    // up to PREFETCH of each queue.
    await service.record(prefetch);
    await service.close();
    const restarted = await Service.open(dir, SMALL_FILES, prefetch);
    const offer = (n: number, side: "y_true" | "y_pred") =>
      restarted.pairer.offer({ id: `sample-${n}`, side, value: 1, arrivedAt: 0, token: null })
        .kind;
    const total = 5_000 + prefetch;
    // Every id of the window before the snapshot and every id after it, both halves: dropped as
    // recorded, nothing pairs.
    for (let n = total - prefetch - window; n < total; n++) {
      assert.equal(offer(n, "y_true"), "recorded", `y_true of ${n}`);
      assert.equal(offer(n, "y_pred"), "recorded", `y_pred of ${n}`);
    }
    // Just outside it a lone copy waits (and would be dead-lettered as unpaired).
    assert.equal(offer(total - prefetch - window - 1, "y_pred"), "pending");
    await restarted.close();
  });
});

Deno.test("redeliveryWindow() is twice the prefetch; dedupWindow() never fewer than the minimum", () => {
  assert.equal(redeliveryWindow(1_000), 2_000);
  assert.equal(dedupWindow(1), MIN_DEDUP_WINDOW);
  assert.equal(dedupWindow(1_000), MIN_DEDUP_WINDOW);
  assert.equal(dedupWindow(65_535), 131_070);
  assert.throws(() => dedupWindow(0), /'prefetch' must be a positive integer: current value is 0/);
});
