import assert from "node:assert/strict";
import { CSV_HEADER, formatRecord, type PairRecord } from "./format.ts";
import { restoreMetricLog } from "./restore.ts";

function record(id: string, yTrue: number, yPred: number): PairRecord {
  return {
    id,
    yTrue,
    yPred,
    absoluteError: Math.abs(yTrue - yPred),
    modelVersion: "sha256-07e481bfe459c331",
    replica: "model-1",
    latencyMs: 3.5,
    pairedAtMs: Date.parse("2026-01-02T03:04:05.678Z"),
  };
}

const ROWS = [record("a", 151, 160), record("b", 75, 70.5), record("c", 141, 141)];
const NOW = new Date("2026-03-04T05:06:07.890Z");

async function withCsv(
  content: string | undefined,
  fn: (path: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "restore_test-" });
  const path = `${dir}/metric_log.csv`;
  try {
    if (content !== undefined) await Deno.writeTextFile(path, content);
    await fn(path, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function restore(path: string): Promise<{ result: unknown; records: PairRecord[] }> {
  const records: PairRecord[] = [];
  const result = await restoreMetricLog(path, (r) => records.push(r), NOW);
  return { result, records };
}

const csv = (...lines: string[]) => lines.map((line) => `${line}\n`).join("");

Deno.test("restoreMetricLog() finds nothing when the file is missing", async () => {
  await withCsv(undefined, async (path) => {
    assert.deepEqual(await restore(path), {
      result: { rows: 0, skipped: 0, truncatedBytes: 0 },
      records: [],
    });
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});

Deno.test("restoreMetricLog() finds nothing in an empty file or a header alone", async (t) => {
  for (const content of ["", csv(CSV_HEADER)]) {
    await t.step(JSON.stringify(content), async () => {
      await withCsv(content, async (path) => {
        assert.deepEqual(await restore(path), {
          result: { rows: 0, skipped: 0, truncatedBytes: 0 },
          records: [],
        });
        assert.equal(await Deno.readTextFile(path), content);
      });
    });
  }
});

Deno.test("restoreMetricLog() hands back every row in order and leaves the file alone", async () => {
  const content = csv(CSV_HEADER, ...ROWS.map(formatRecord));
  await withCsv(content, async (path) => {
    assert.deepEqual(await restore(path), {
      result: { rows: 3, skipped: 0, truncatedBytes: 0 },
      records: ROWS,
    });
    assert.equal(await Deno.readTextFile(path), content);
  });
});

Deno.test("restoreMetricLog() reads a file larger than one read chunk", async () => {
  const many = Array.from({ length: 5000 }, (_, i) => record(`id-${i}`, i, i + 0.5));
  await withCsv(csv(CSV_HEADER, ...many.map(formatRecord)), async (path) => {
    const { result, records } = await restore(path);
    assert.deepEqual(result, { rows: 5000, skipped: 0, truncatedBytes: 0 });
    assert.deepEqual(records.map((r) => r.id), many.map((r) => r.id));
    assert.deepEqual(records[4999], many[4999]);
  });
});

Deno.test("restoreMetricLog() cuts a line torn by a crash", async (t) => {
  const whole = csv(CSV_HEADER, ...ROWS.slice(0, 2).map(formatRecord));
  const torn = formatRecord(ROWS[2]).slice(0, 30);

  await t.step("the torn bytes go and the file ends with a newline", async () => {
    await withCsv(whole + torn, async (path) => {
      assert.deepEqual(await restore(path), {
        result: { rows: 2, skipped: 0, truncatedBytes: 30 },
        records: ROWS.slice(0, 2),
      });
      const after = await Deno.readTextFile(path);
      assert.equal(after, whole);
      assert.ok(after.endsWith("\n"));
    });
  });

  await t.step("a row that lost only its newline is cut too", async () => {
    await withCsv(whole + formatRecord(ROWS[2]), async (path) => {
      const { result } = await restore(path);
      assert.deepEqual(result, {
        rows: 2,
        skipped: 0,
        truncatedBytes: formatRecord(ROWS[2]).length,
      });
      assert.equal(await Deno.readTextFile(path), whole);
    });
  });

  await t.step("a torn header leaves an empty file", async () => {
    await withCsv("id,y_true,y_pr", async (path) => {
      assert.deepEqual((await restore(path)).result, {
        rows: 0,
        skipped: 0,
        truncatedBytes: 14,
      });
      assert.equal(await Deno.readTextFile(path), "");
    });
  });

  await t.step("bytes are counted, not characters", async () => {
    const wide = { ...ROWS[0], id: "échantillon-α" };
    const content = csv(CSV_HEADER, formatRecord(wide));
    await withCsv(content + "ü-torn", async (path) => {
      const { result, records } = await restore(path);
      assert.deepEqual(result, { rows: 1, skipped: 0, truncatedBytes: 7 });
      assert.deepEqual(records, [wide]);
      assert.equal(await Deno.readTextFile(path), content);
    });
  });
});

Deno.test("restoreMetricLog() cuts at the right byte after a line that is not UTF-8", async () => {
  const encoder = new TextEncoder();
  const head = encoder.encode(csv(CSV_HEADER, formatRecord(ROWS[0])));
  const garbage = new Uint8Array([0xff, 0xfe, 0xc3, 0x0a]);
  const rest = encoder.encode(csv(formatRecord(ROWS[1])));
  const whole = new Uint8Array([...head, ...garbage, ...rest]);
  await withCsv(undefined, async (path) => {
    await Deno.writeFile(path, new Uint8Array([...whole, ...encoder.encode("torn")]));
    assert.deepEqual(await restore(path), {
      result: { rows: 2, skipped: 1, truncatedBytes: 4 },
      records: [ROWS[0], ROWS[1]],
    });
    assert.deepEqual(await Deno.readFile(path), whole);
  });
});

Deno.test("restoreMetricLog() skips and counts damaged lines", async () => {
  const content = csv(
    CSV_HEADER,
    formatRecord(ROWS[0]),
    "garbage",
    formatRecord(ROWS[1]).replace(",75,", ",seventy-five,"),
    "",
    formatRecord(ROWS[2]),
  );
  await withCsv(content, async (path) => {
    assert.deepEqual(await restore(path), {
      result: { rows: 2, skipped: 2, truncatedBytes: 0 },
      records: [ROWS[0], ROWS[2]],
    });
    assert.equal(await Deno.readTextFile(path), content);
  });
});

Deno.test("restoreMetricLog() moves a file with another header aside", async (t) => {
  const expectedBak = "metric_log.csv.2026-03-04T05-06-07.890Z.bak";

  await t.step("an older layout is renamed to .bak and not read", async () => {
    const old = csv("id,y_true,y_pred,absolute_error", "a,151,160,9");
    await withCsv(old, async (path, dir) => {
      assert.deepEqual(await restore(path), {
        result: { rows: 0, skipped: 0, truncatedBytes: 0, movedTo: `${dir}/${expectedBak}` },
        records: [],
      });
      await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
      assert.equal(await Deno.readTextFile(`${dir}/${expectedBak}`), old);
    });
  });

  await t.step("a file much larger than a chunk is moved whole", async () => {
    const big = csv("something,else", ...Array.from({ length: 5000 }, (_, i) => `${i},x`));
    await withCsv(big, async (path, dir) => {
      const { result } = await restore(path);
      assert.deepEqual(result, {
        rows: 0,
        skipped: 0,
        truncatedBytes: 0,
        movedTo: `${dir}/${expectedBak}`,
      });
      assert.equal(await Deno.readTextFile(`${dir}/${expectedBak}`), big);
    });
  });
});
