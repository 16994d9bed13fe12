import assert from "node:assert/strict";
import { listRotated, logFiles, rotatedPath } from "./files.ts";
import type { RotationSettings } from "./rotation.ts";
import { LogWriter } from "./writer.ts";

const DAY = 86_400_000;
const KEEP_ALL: RotationSettings = {
  rotateBytes: 200,
  rotateMs: 0,
  retainBytes: 1e12,
  retainMs: 0,
};

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "writer_rotation_test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The lines of every file of the log, in order, headers included. */
async function allLines(live: string): Promise<string[][]> {
  return await Promise.all(
    logFiles(live).map(async (path) => (await Deno.readTextFile(path)).split("\n").slice(0, -1)),
  );
}

Deno.test("LogWriter rotates by size between writes: no line lost, split or doubled", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/metric_log.csv`;
    const rotations: string[] = [];
    const log = await LogWriter.open(path, {
      header: "id,value",
      rotation: KEEP_ALL,
      onRotate: ({ rotated }) => rotations.push(rotated),
    });
    const lines = Array.from({ length: 500 }, (_, i) => `${i},${"x".repeat(i % 37)}`);
    // Bursts of various sizes: each burst is one write, so a file ends only between bursts.
    for (let i = 0; i < lines.length;) {
      const burst = lines.slice(i, i + 1 + (i % 7));
      await Promise.all(burst.map((line) => log.append(line)));
      i += burst.length;
    }
    await log.close();
    const files = await allLines(path);
    assert.ok(files.length > 20, `${files.length} files`);
    assert.deepEqual(rotations, listRotated(path).map((file) => file.path));
    for (const file of files) assert.equal(file[0], "id,value", "each file starts with the header");
    assert.deepEqual(files.flatMap((file) => file.slice(1)), lines);
    for (const rotated of listRotated(path)) {
      // A file passes the size only by the burst that crossed it: 7 lines at most.
      assert.ok((await Deno.stat(rotated.path)).size < 200 + 7 * 45);
    }
  });
});

Deno.test("LogWriter rotates at each new UTC day, and files keep the time of their last row", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/labels_log.txt`;
    let now = Date.parse("2026-03-01T22:00:00Z");
    const log = await LogWriter.open(path, {
      rotation: { ...KEEP_ALL, rotateBytes: 1e9, rotateMs: DAY },
      now: () => now,
    });
    for (let hour = 0; hour < 30; hour++) {
      await log.append(`hour ${hour}`);
      now += 3_600_000;
    }
    await log.close();
    const files = await allLines(path);
    assert.deepEqual(files.map((file) => file.length), [2, 24, 4]);
    assert.deepEqual(files.flat(), Array.from({ length: 30 }, (_, hour) => `hour ${hour}`));
    const first = await Deno.stat(rotatedPath(path, 1));
    assert.equal(first.mtime?.toISOString(), "2026-03-01T23:00:00.000Z");
  });
});

Deno.test("LogWriter keeps each log within its retention, by age and by size", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("by size: the oldest files go first", async () => {
      const path = `${dir}/by_size.txt`;
      const retained = { ...KEEP_ALL, rotateBytes: 100, retainBytes: 450 };
      const log = await LogWriter.open(path, { rotation: retained });
      for (let i = 0; i < 200; i++) await log.append(`line ${String(i).padStart(4, "0")}`);
      await log.close();
      const sizes = await Promise.all(logFiles(path).map(async (p) => (await Deno.stat(p)).size));
      assert.ok(sizes.reduce((a, b) => a + b) <= 450, `sizes ${sizes}`);
      const kept = (await allLines(path)).flat();
      assert.equal(kept.at(-1), "line 0199", "the newest lines stay");
      assert.ok(listRotated(path)[0].seq > 1, "the first files went");
    });
    await t.step("by age: files older than the retention go, at rotation and at open", async () => {
      const path = `${dir}/by_age.txt`;
      let now = Date.parse("2026-03-01T12:00:00Z");
      const rotation = { ...KEEP_ALL, rotateBytes: 1e9, rotateMs: DAY, retainMs: 3 * DAY };
      const log = await LogWriter.open(path, { rotation, now: () => now });
      for (let day = 0; day < 10; day++) {
        await log.append(`day ${day}`);
        now += DAY;
      }
      await log.close();
      // Rotated at each day; files last written more than 3 days before day 9 are gone.
      assert.deepEqual((await allLines(path)).flat(), [
        "day 6",
        "day 7",
        "day 8",
        "day 9",
      ]);
      now += 10 * DAY;
      await (await LogWriter.open(path, { rotation, now: () => now })).close();
      assert.deepEqual((await allLines(path)).flat(), ["day 9"]);
    });
  });
});

Deno.test("LogWriter.position is where the next line goes, in the live file's number", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/metric_log.csv`;
    const log = await LogWriter.open(path, {
      header: "h",
      rotation: { ...KEEP_ALL, rotateBytes: 10 },
    });
    assert.deepEqual(log.position, { seq: 1, offset: 2 });
    const written = log.append("abcdefghij");
    assert.equal(log.idle, false);
    await written;
    assert.equal(log.idle, true);
    assert.deepEqual(log.position, { seq: 1, offset: 13 });
    await log.append("k");
    assert.deepEqual(log.position, { seq: 2, offset: 4 });
    await log.close();
    const again = await LogWriter.open(path, { header: "h", rotation: KEEP_ALL });
    assert.deepEqual(again.position, { seq: 2, offset: 4 });
    await again.close();
    const numbered = await LogWriter.open(`${dir}/other.csv`, { header: "h", minSeq: 9 });
    assert.deepEqual(numbered.position, { seq: 9, offset: 2 });
    await numbered.close();
  });
});

Deno.test("LogWriter goes on in the same file when a rotation fails, and says so", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/metric_log.csv`;
    // The rotated name is taken by a directory that is not empty: the rename fails.
    await Deno.mkdir(`${rotatedPath(path, 1)}/x`, { recursive: true });
    const errors: unknown[] = [];
    const log = await LogWriter.open(path, {
      header: "h",
      rotation: { ...KEEP_ALL, rotateBytes: 5 },
      onRotateError: (error) => errors.push(error),
    });
    for (const line of ["one", "two", "three"]) await log.append(line);
    await log.close();
    assert.equal(errors.length, 1, "tried once, then waits before trying again");
    assert.equal(await Deno.readTextFile(path), "h\none\ntwo\nthree\n");
  });
});
