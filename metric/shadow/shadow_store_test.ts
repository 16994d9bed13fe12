import assert from "node:assert/strict";
import { DEFAULT_ROTATION } from "../metric_log/rotation.ts";
import { formatShadowRecord, SHADOW_HEADER, type ShadowRecord } from "./shadow_log.ts";
import { shadowKey } from "./shadow_pairer.ts";
import { openShadowLog, SHADOW_RETAIN_BYTES, shadowRotation } from "./shadow_store.ts";

const record = (id: string, candidateError: number): ShadowRecord => ({
  id,
  pairedAtMs: 0,
  candidateVersion: "v2",
  candidateReplica: "c-1",
  stableVersion: "v1",
  yTrue: 100,
  yCandidate: 100 + candidateError,
  candidateError,
  stableError: 5,
});

Deno.test("openShadowLog() starts a new file with its header, and restores one it finds", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await openShadowLog(dir, { keep: 10, rotation: DEFAULT_ROTATION });
    assert.equal(first.rows, 0);
    await first.writer.append(formatShadowRecord(record("a", 1)));
    await first.writer.append(formatShadowRecord(record("b", 3)));
    await first.writer.close();
    // A crash in the middle of a row: the torn tail is cut, the rows before it count.
    await Deno.writeTextFile(first.path, "c,1970-01-01T00:00:00.000Z,v2,c", { append: true });

    const again = await openShadowLog(dir, { keep: 10, rotation: DEFAULT_ROTATION });
    assert.equal(again.rows, 2);
    assert.equal(again.truncatedBytes, 31);
    assert.deepEqual(again.keys, [shadowKey("v2", "a"), shadowKey("v2", "b")]);
    assert.equal(again.summaries.of("v2").pairs, 2);
    assert.equal(again.summaries.of("v2").meanCandidate, 2);
    await again.writer.append(formatShadowRecord(record("c", 2)));
    await again.writer.close();
    const lines = (await Deno.readTextFile(first.path)).split("\n");
    assert.deepEqual([lines[0], lines.length], [SHADOW_HEADER, 5]);
    assert.ok(lines[3].startsWith("c,"), lines[3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shadowRotation() caps the shadow log's retention, never raises it", () => {
  assert.equal(shadowRotation(DEFAULT_ROTATION).retainBytes, SHADOW_RETAIN_BYTES);
  assert.equal(shadowRotation({ ...DEFAULT_ROTATION, retainBytes: 4096 }).retainBytes, 4096);
  assert.equal(shadowRotation(DEFAULT_ROTATION).rotateBytes, DEFAULT_ROTATION.rotateBytes);
});
