import assert from "node:assert/strict";
import fc from "fast-check";
import { LastLines, type LastLinesOptions } from "./last_lines.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const HEADER = "id,y";
const isHeader = (line: Uint8Array) => decoder.decode(line) === HEADER;

/**
 * Feeds `files` (oldest first) to {@link LastLines} as a reader does: the newest file first, each
 * from its end in chunks of `chunk` bytes, stopping once it is done.
 */
function lastLines(
  files: readonly string[],
  options: LastLinesOptions & { chunk: number },
): { text: string; count: number; bytesFed: number } {
  const tail = new LastLines(options);
  let bytesFed = 0;
  for (const file of [...files].reverse()) {
    const bytes = encoder.encode(file);
    let end = bytes.length;
    while (end > 0 && !tail.done) {
      const start = Math.max(0, end - options.chunk);
      // A copy, as a file read gives: the core keeps chunks by reference.
      tail.prepend(bytes.slice(start, end));
      bytesFed += end - start;
      end = start;
    }
    if (tail.done) break;
    tail.endFile();
  }
  const text = decoder.decode(tail.bytes());
  return { text, count: tail.count, bytesFed };
}

/** The same, the obvious way: every file split on "\n" whole. */
function naive(
  files: readonly string[],
  options: { count: number; maxBytes?: number; isHeader?: (line: string) => boolean },
): string[] {
  // Newest first; the piece after each file's last "\n" is not a line yet.
  const lines = files.toReversed().flatMap((file) =>
    file.split("\n").slice(0, -1).map((line, i) => ({ line, first: i === 0 })).reverse()
  );
  const kept: string[] = [];
  let bytes = 0;
  for (const { line, first } of lines) {
    if (kept.length === options.count) break;
    const size = encoder.encode(line).length + 1;
    if (bytes + size > (options.maxBytes ?? Infinity)) break;
    if (first && options.isHeader?.(line)) continue;
    kept.push(line);
    bytes += size;
  }
  return kept.reverse();
}

const joined = (lines: readonly string[]) => lines.map((line) => `${line}\n`).join("");

Deno.test("LastLines keeps the last complete lines, oldest first", async (t) => {
  const cases: [string, string[], number, string[]][] = [
    ["fewer lines than asked", ["a\nb\n"], 5, ["a", "b"]],
    ["the last n of one file", ["a\nb\nc\nd\n"], 2, ["c", "d"]],
    ["across files, the newest last", ["a\nb\n", "c\nd\n"], 3, ["b", "c", "d"]],
    ["a torn last line is left out", ["a\nb\nhalf a li"], 5, ["a", "b"]],
    ["a file without a newline has no line", ["a\n", "torn"], 5, ["a"]],
    ["empty files", ["", "a\n", ""], 5, ["a"]],
    ["empty lines are lines", ["\n\na\n"], 5, ["", "", "a"]],
    ["a header starting a file is left out", [`${HEADER}\na\n`, `${HEADER}\nb\n`], 5, ["a", "b"]],
    ["a header elsewhere is a line", [`a\n${HEADER}\nb\n`], 5, ["a", HEADER, "b"]],
    ["a file of its header alone", [`${HEADER}\na\n`, `${HEADER}\n`], 5, ["a"]],
    ["multibyte characters", ["é\n日本\n🙂\n"], 2, ["日本", "🙂"]],
  ];
  for (const [name, files, count, expected] of cases) {
    await t.step(name, () => {
      for (const chunk of [1, 2, 3, 7, 1024]) {
        const { text, count: kept } = lastLines(files, { count, chunk, isHeader });
        assert.equal(text, joined(expected), `chunk ${chunk}`);
        assert.equal(kept, expected.length);
      }
    });
  }
});

Deno.test("LastLines stops reading once it has the lines asked for", () => {
  const file = Array.from({ length: 1000 }, (_, i) => `row ${i}`).join("\n") + "\n";
  const { text, bytesFed } = lastLines(["x\n".repeat(1000), file], { count: 10, chunk: 64 });
  assert.equal(text, joined(Array.from({ length: 10 }, (_, i) => `row ${990 + i}`)));
  assert.ok(bytesFed <= 128, `fed ${bytesFed} bytes for 10 short lines`);
});

Deno.test("LastLines keeps no more than maxBytes, dropping the oldest lines", async (t) => {
  await t.step("the newest lines that fit", () => {
    const { text, count } = lastLines(["aaaa\nbb\ncc\n"], { count: 5, maxBytes: 7, chunk: 3 });
    assert.equal(text, "bb\ncc\n");
    assert.equal(count, 2);
  });
  await t.step("a line too long ends the search before it is read whole", () => {
    const long = "x".repeat(100_000);
    const { text, bytesFed } = lastLines([`a\n${long}\nb\n`], {
      count: 5,
      maxBytes: 1000,
      chunk: 64,
    });
    assert.equal(text, "b\n");
    assert.ok(bytesFed < 2000, `fed ${bytesFed}`);
  });
});

Deno.test("LastLines keeps nothing when asked for 0 lines and refuses a bad count", () => {
  assert.equal(lastLines(["a\n"], { count: 0, chunk: 4 }).text, "");
  assert.throws(
    () => new LastLines({ count: -1 }),
    new RangeError(
      "Cannot keep the last lines as 'count' must be a non-negative integer: current value is -1",
    ),
  );
});

Deno.test("LastLines gives what splitting every file on newlines gives, for any chunk size", () => {
  // Texts of few distinct characters, so that newlines, empty lines and headers are common.
  const text = fc.array(fc.constantFrom("\n", "\n", "a", "é", "🙂", HEADER, `${HEADER}\n`), {
    maxLength: 40,
  }).map((parts) => parts.join(""));
  fc.assert(
    fc.property(
      fc.array(text, { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 30 }),
      fc.integer({ min: 1, max: 20 }),
      fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      (files, count, chunk, maxBytes) => {
        const got = lastLines(files, { count, chunk, maxBytes, isHeader });
        const expected = naive(files, { count, maxBytes, isHeader: (l) => l === HEADER });
        assert.equal(got.text, joined(expected));
        assert.equal(got.count, expected.length);
      },
    ),
    { numRuns: 3000, seed: 11 },
  );
});
