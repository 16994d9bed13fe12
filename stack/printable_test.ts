import assert from "node:assert/strict";
import { hasControlCharacter, printable } from "./printable.ts";

Deno.test("printable() escapes C0, DEL, C1 and bidirectional controls", async (t) => {
  const cases: [string, string, string][] = [
    ["plain text", "a1b2-c3 é 汉 🙂", "a1b2-c3 é 汉 🙂"],
    [
      "a terminal title and colour",
      "\x1b]0;pwned\x07\x1b[31mred",
      "\\u{1b}]0;pwned\\u{7}\\u{1b}[31mred",
    ],
    ["NUL, tab, newline, CR", "a\x00b\tc\nd\re", "a\\u{0}b\\u{9}c\\u{a}d\\u{d}e"],
    ["DEL", "a\x7fb", "a\\u{7f}b"],
    ["C1: the 8-bit CSI and its neighbours", "\x80\x9b31m\x9f", "\\u{80}\\u{9b}31m\\u{9f}"],
    ["the first character after C1 is kept", "\xa0\xff", "\xa0\xff"],
    [
      "bidirectional controls",
      "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
      "\\u{61c}\\u{200e}\\u{200f}\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}" +
      "\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
    ],
    ["a zero-width joiner is not a control", "a\u200db", "a\u200db"],
    ["a lone surrogate", "a\ud800b", "a\ufffdb"],
  ];
  for (const [name, text, shown] of cases) {
    await t.step(name, () => {
      assert.equal(printable(text), shown);
      assert.equal(printable(shown), shown, "a second call changes nothing");
      assert.equal(hasControlCharacter(shown), false);
    });
  }
});

Deno.test("hasControlCharacter() finds each control, and the same after a previous match", () => {
  for (const c of ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2066"]) {
    assert.equal(hasControlCharacter(`id-${c}`), true, JSON.stringify(c));
    assert.equal(hasControlCharacter(`id-${c}`), true, "the global regex keeps no state");
  }
  assert.equal(hasControlCharacter("d32f-0a9c"), false);
});
