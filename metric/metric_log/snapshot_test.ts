import assert from "node:assert/strict";
import { ErrorStats } from "../pairing/stats.ts";
import {
  encodeSnapshot,
  type MetricSnapshot,
  parseSnapshot,
  readSnapshot,
  SEEN_PER_PIECE,
  SNAPSHOT_VERSION,
  snapshotPath,
  snapshotPieces,
  snapshotState,
  SnapshotTaker,
  writeSnapshot,
} from "./snapshot.ts";
import { LogWriter } from "./writer.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "snapshot_test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SNAPSHOT: MetricSnapshot = {
  version: SNAPSHOT_VERSION,
  takenAtMs: 1_700_000_000_000,
  log: { seq: 3, offset: 1234 },
  stats: new ErrorStats().state(),
  seen: ["a", "b"],
};

Deno.test("parseSnapshot() reads what writeSnapshot() wrote and refuses anything else", async (t) => {
  await withTempDir(async (dir) => {
    const path = snapshotPath(`${dir}/`);
    assert.equal(path, `${dir}/metric_state.json`);
    await writeSnapshot(path, SNAPSHOT);
    assert.deepEqual(await readSnapshot(path), { ok: true, snapshot: SNAPSHOT });
    const text = await Deno.readTextFile(path);
    const cases: [string, string, RegExp][] = [
      ["torn", text.slice(0, text.length / 2), /not JSON/],
      ["empty", "", /not JSON/],
      ["another version", JSON.stringify({ ...SNAPSHOT, version: 2 }), /version is not 1/],
      ["no position", JSON.stringify({ ...SNAPSHOT, log: { seq: 0, offset: 1 } }), /'log'/],
      ["ids not strings", JSON.stringify({ ...SNAPSHOT, seen: [1] }), /'seen'/],
      ["no statistics", JSON.stringify({ ...SNAPSHOT, stats: undefined }), /'stats'/],
    ];
    for (const [name, damaged, reason] of cases) {
      await t.step(name, async () => {
        assert.throws(() => parseSnapshot(damaged), reason);
        await Deno.writeTextFile(path, damaged);
        const read = await readSnapshot(path);
        assert.equal(read.ok, false);
        assert.match(!read.ok ? read.reason : "", reason);
      });
    }
    await Deno.remove(path);
    assert.deepEqual(await readSnapshot(path), {
      ok: false,
      missing: true,
      reason: `there is no snapshot ${path}`,
    });
  });
});

Deno.test("snapshotState() carries the statistics and only the ids a redelivery can bring", () => {
  const stats = new ErrorStats();
  stats.add({ absoluteError: 2.5, modelVersion: "v1", replica: "a" });
  const asked: number[] = [];
  const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
  const state = snapshotState(stats, (last) => {
    asked.push(last);
    return ids;
  }, 10);
  assert.deepEqual(asked, [20], "2 x PREFETCH, no more");
  assert.deepEqual(state.seen, ids.slice(-20));
  assert.equal(state.count, 1);
  assert.deepEqual(state.stats, stats.state());
});

Deno.test("snapshotPieces() joined encode what parseSnapshot() reads back", () => {
  const pieces = snapshotPieces(
    { seq: 3, offset: 1234 },
    { stats: SNAPSHOT.stats, seen: SNAPSHOT.seen },
    SNAPSHOT.takenAtMs,
  );
  const decoder = new TextDecoder();
  const text = pieces.map((piece) => decoder.decode(piece())).join("");
  assert.deepEqual(parseSnapshot(text), SNAPSHOT);
});

Deno.test("snapshotPieces() joined are exactly encodeSnapshot()'s bytes, the ids a piece at a time", () => {
  const decoder = new TextDecoder();
  for (const ids of [0, 1, SEEN_PER_PIECE, SEEN_PER_PIECE + 1, 2000]) {
    const seen = Array.from({ length: ids }, (_, i) => `${i}-é"\\`);
    const log = { seq: 7, offset: 99 };
    const pieces = snapshotPieces(log, { stats: SNAPSHOT.stats, seen }, 5);
    assert.equal(pieces.length, 2 + Math.ceil(ids / SEEN_PER_PIECE), `${ids} ids`);
    const joined = pieces.map((piece) => decoder.decode(piece())).join("");
    const whole = decoder.decode(
      encodeSnapshot({ version: SNAPSHOT_VERSION, takenAtMs: 5, log, stats: SNAPSHOT.stats, seen }),
    );
    assert.equal(joined, whole, `${ids} ids`);
  }
});

Deno.test("writeSnapshot() replaces the snapshot whole and leaves no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = snapshotPath(dir);
    await writeSnapshot(path, SNAPSHOT);
    await writeSnapshot(path, { ...SNAPSHOT, seen: ["c"] });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["metric_state.json"]);
    assert.deepEqual(await readSnapshot(path), {
      ok: true,
      snapshot: { ...SNAPSHOT, seen: ["c"] },
    });
  });
});

Deno.test("SnapshotTaker waits for the writer to be idle and takes the rows written, no more", async () => {
  await withTempDir(async (dir) => {
    const writer = await LogWriter.open(`${dir}/metric_log.csv`, "h");
    const stats = new ErrorStats();
    const seen: string[] = [];
    const taker = new SnapshotTaker(snapshotPath(dir), {
      writer,
      state: () => ({ stats: stats.state(), seen, count: stats.count }),
      now: () => 42,
    });
    // As the recorder does: count, remember and hand the row to the writer in one step.
    const record = (id: string) => {
      stats.add({ absoluteError: 1, modelVersion: "v", replica: "r" });
      seen.push(id);
      return writer.append(id);
    };
    record("a");
    record("b");
    // The stretch that holds the event loop, as the periodic job times it: the state is read in it.
    const steps: string[] = [];
    const step = <T>(fn: () => T): T => {
      steps.push(`step while the writer is ${writer.idle ? "idle" : "busy"}`);
      return fn();
    };
    const taking = taker.take(step);
    assert.equal(writer.idle, false);
    assert.equal(await taking, true);
    // The state read while the writer is idle; then the head, the two ids and the end, a piece
    // a turn, each its own stretch.
    assert.equal(steps[0], "step while the writer is idle");
    assert.equal(steps.length, 4);
    const read = await readSnapshot(snapshotPath(dir));
    assert.ok(read.ok);
    assert.deepEqual(read.snapshot.log, { seq: 1, offset: 6 });
    assert.deepEqual(read.snapshot.seen, ["a", "b"]);
    assert.equal(read.snapshot.stats.count, 2);
    assert.equal(read.snapshot.takenAtMs, 42);
    assert.equal(await taker.take(), false, "nothing new: no second write");
    await record("c");
    const [first, second] = [taker.take(), taker.take()];
    assert.equal(first, second, "a take while one runs waits for it");
    assert.equal(await first, true);
    await writer.close();
  });
});
