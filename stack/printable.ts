/**
 * Text from the network made safe to show: a message id, a header value or
 * a dead-letter detail printed to an operator's terminal, written in a log
 * line or a CSV cell. Such text is whatever a publisher sent; a terminal
 * acts on control characters in it (`ESC ] 0 ; … BEL` retitles the window,
 * `ESC [ 31 m` turns the rest red, the 8-bit C1 `CSI` does the same in one
 * character), a line break forges a log line or a CSV row, and bidirectional
 * controls make text read differently from what it is (Trojan Source,
 * CVE-2021-42574). Pure.
 *
 * @module
 */

/**
 * The characters {@link printable} escapes: C0 controls (tab and newline
 * too: every use is a single line), DEL, C1 controls (U+0080–U+009F), and
 * the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
 * U+2066–U+2069).
 */
export const CONTROL_CHARACTERS =
  // deno-lint-ignore no-control-regex
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** True when `text` holds a character {@link printable} would escape. */
export function hasControlCharacter(text: string): boolean {
  CONTROL_CHARACTERS.lastIndex = 0;
  const found = CONTROL_CHARACTERS.test(text);
  CONTROL_CHARACTERS.lastIndex = 0;
  return found;
}

/**
 * `text` with every character of {@link CONTROL_CHARACTERS} replaced by a
 * visible escape, `\u{1b}` for ESC, and lone surrogates by U+FFFD, so the
 * result prints as what it is, on one line. Text without them comes back
 * unchanged, and the result is unchanged by a second call.
 */
export function printable(text: string): string {
  return text.toWellFormed().replace(
    CONTROL_CHARACTERS,
    (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}
