import assert from "node:assert/strict";
import {
  DEFAULT_ROTATION,
  dueForRotation,
  filesToRetire,
  logBudgetBytes,
  type RotationSettings,
} from "./rotation.ts";

const DAY = 86_400_000;

Deno.test("dueForRotation() rotates at the size, or on a new UTC period, never a header alone", () => {
  const settings = { rotateBytes: 1_000, rotateMs: DAY };
  const noon = Date.parse("2026-03-01T12:00:00Z");
  const cases: [string, { size: number; lastWriteMs: number }, number, boolean][] = [
    ["small, same day", { size: 500, lastWriteMs: noon }, noon + 3_600_000, false],
    ["at the size", { size: 1_000, lastWriteMs: noon }, noon, true],
    [
      "past midnight UTC",
      { size: 500, lastWriteMs: noon },
      Date.parse("2026-03-02T00:00:00Z"),
      true,
    ],
    ["a header alone, next day", { size: 60, lastWriteMs: noon }, noon + 2 * DAY, false],
    ["an empty file", { size: 0, lastWriteMs: noon }, noon + 2 * DAY, false],
  ];
  for (const [name, live, now, due] of cases) {
    assert.equal(dueForRotation({ ...live, headerBytes: 60 }, now, settings), due, name);
  }
  assert.equal(
    dueForRotation({ size: 500, headerBytes: 0, lastWriteMs: 0 }, 10 * DAY, {
      ...settings,
      rotateMs: 0,
    }),
    false,
    "rotateMs 0 rotates by size only",
  );
});

Deno.test("filesToRetire() lets go of the oldest files past the age or the size kept", async (t) => {
  const settings: RotationSettings = {
    rotateBytes: 100,
    rotateMs: DAY,
    retainBytes: 450,
    retainMs: 3 * DAY,
  };
  const now = 10 * DAY;
  const file = (seq: number, size: number, daysOld: number) => ({
    seq,
    size,
    lastWriteMs: now - daysOld * DAY,
  });
  await t.step("nothing while within both", () => {
    assert.deepEqual(filesToRetire([file(1, 100, 2), file(2, 100, 1)], 50, now, settings), []);
  });
  await t.step("by age", () => {
    const files = [file(1, 10, 5), file(2, 10, 4), file(3, 10, 1)];
    assert.deepEqual(filesToRetire(files, 0, now, settings).map((f) => f.seq), [1, 2]);
  });
  await t.step("by size, the live file counted as a full one", () => {
    // 100 x 4 + live counted as 100 = 500 > 450: the oldest goes.
    const files = [file(3, 100, 0), file(1, 100, 0), file(2, 100, 0), file(4, 100, 0)];
    assert.deepEqual(filesToRetire(files, 10, now, settings).map((f) => f.seq), [1]);
  });
  await t.step("by size, a live file past its size counted as it is", () => {
    const files = [file(1, 100, 0), file(2, 100, 0)];
    assert.deepEqual(filesToRetire(files, 300, now, settings).map((f) => f.seq), [1]);
    assert.deepEqual(filesToRetire(files, 400, now, settings).map((f) => f.seq), [1, 2]);
  });
  await t.step("age 0 keeps by size only", () => {
    const files = [file(1, 10, 400)];
    assert.deepEqual(filesToRetire(files, 0, now, { ...settings, retainMs: 0 }), []);
  });
});

Deno.test("logBudgetBytes() is the retention, or a full live file, plus one write", () => {
  assert.equal(logBudgetBytes(DEFAULT_ROTATION), 2 * 1024 ** 3 + 1024 ** 2);
  assert.equal(
    logBudgetBytes({ ...DEFAULT_ROTATION, retainBytes: 1, rotateBytes: 4096 }, 100),
    4196,
  );
});
