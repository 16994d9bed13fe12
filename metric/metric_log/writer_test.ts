import assert from "node:assert/strict";
import { LogWriter } from "./writer.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "writer_test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("LogWriter.open() writes the header only to an empty file", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/metric_log.csv`;

    await t.step("a missing file is created with the header", async () => {
      const log = await LogWriter.open(path, "id,value");
      assert.equal(log.path, path);
      await log.close();
      assert.equal(await Deno.readTextFile(path), "id,value\n");
    });

    await t.step("a file with content gets no second header", async () => {
      const log = await LogWriter.open(path, "id,value");
      await log.append("a,1");
      await log.close();
      assert.equal(await Deno.readTextFile(path), "id,value\na,1\n");
    });

    await t.step("an existing empty file gets the header", async () => {
      const empty = `${dir}/empty.csv`;
      await Deno.writeTextFile(empty, "");
      const log = await LogWriter.open(empty, "id,value");
      await log.close();
      assert.equal(await Deno.readTextFile(empty), "id,value\n");
    });

    await t.step("without a header nothing is written on open", async () => {
      const labels = `${dir}/labels_log.txt`;
      const log = await LogWriter.open(labels);
      await log.close();
      assert.equal(await Deno.readTextFile(labels), "");
    });
  });
});

Deno.test("LogWriter.append() writes many concurrent lines in order", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/lines.txt`;
    const log = await LogWriter.open(path, "header");
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}`);
    const onDisk: boolean[] = [];
    await Promise.all(lines.map((line, i) =>
      log.append(line).then(() => {
        // Resolved: the line must already be in the file.
        onDisk[i] = Deno.readTextFileSync(path).includes(`\n${line}\n`);
      })
    ));
    assert.equal(onDisk.length, lines.length);
    assert.ok(onDisk.every(Boolean), `not on disk when resolved: ${onDisk.indexOf(false)}`);
    assert.equal(await Deno.readTextFile(path), ["header", ...lines].join("\n") + "\n");
    await log.close();
  });
});

Deno.test("LogWriter.append() keeps order across bursts that overlap a write", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/bursts.txt`;
    const log = await LogWriter.open(path);
    const pending: Promise<void>[] = [];
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 10; i++) pending.push(log.append(`${burst}.${i}`));
      // Let the write of this burst start before the next one arrives.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(pending);
    const expected = [];
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 10; i++) expected.push(`${burst}.${i}\n`);
    }
    assert.equal(await Deno.readTextFile(path), expected.join(""));
    await log.close();
  });
});

Deno.test("LogWriter.flush() resolves once everything appended is written", async (t) => {
  await withTempDir(async (dir) => {
    const path = `${dir}/flush.txt`;
    const log = await LogWriter.open(path);

    await t.step("with nothing appended it resolves at once", async () => {
      await log.flush();
      assert.equal(await Deno.readTextFile(path), "");
    });

    await t.step("appends not awaited are written by then", async () => {
      for (let i = 0; i < 100; i++) void log.append(`x${i}`);
      await log.flush();
      const text = await Deno.readTextFile(path);
      assert.equal(text.split("\n").length, 101);
      assert.ok(text.endsWith("x99\n"));
    });

    await t.step("an append during a flush is written before it resolves", async () => {
      void log.append("a");
      const flushed = log.flush();
      void log.append("b");
      await flushed;
      assert.ok((await Deno.readTextFile(path)).endsWith("\na\nb\n"));
    });

    await t.step("close() flushes too", async () => {
      void log.append("last");
      await log.close();
      assert.ok((await Deno.readTextFile(path)).endsWith("\nlast\n"));
    });
  });
});

Deno.test("LogWriter keeps lines already in the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/existing.csv`;
    await Deno.writeTextFile(path, "h\nold\n");
    const log = await LogWriter.open(path, "h");
    await log.append("new");
    await log.close();
    assert.equal(await Deno.readTextFile(path), "h\nold\nnew\n");
  });
});
