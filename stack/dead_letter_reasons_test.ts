import assert from "node:assert/strict";
import {
  isReasonCode,
  MAX_DETAIL_CHARS,
  REASON_CODES,
  reasonDetail,
} from "./dead_letter_reasons.ts";

Deno.test("REASON_CODES are distinct snake_case words, fit for a Prometheus label", () => {
  assert.equal(new Set(REASON_CODES).size, REASON_CODES.length);
  for (const code of REASON_CODES) assert.match(code, /^[a-z][a-z0-9_]{2,30}$/);
});

Deno.test("isReasonCode() accepts the codes and nothing else", () => {
  assert.equal(isReasonCode("wrong_length"), true);
  assert.equal(isReasonCode("delivery_limit"), true);
  for (const value of ["expected 10 features, got 9", "", "WRONG_LENGTH", 3, undefined]) {
    assert.equal(isReasonCode(value), false, JSON.stringify(value));
  }
});

Deno.test("reasonDetail() escapes controls and cuts to MAX_DETAIL_CHARS", async (t) => {
  await t.step("a short detail stays as it is", () => {
    assert.equal(reasonDetail("expected 10 features, got 9"), "expected 10 features, got 9");
  });
  await t.step("controls are escaped", () => {
    assert.equal(reasonDetail('got "\x1b[31m\u202e"'), 'got "\\u{1b}[31m\\u{202e}"');
  });
  await t.step("a long detail is cut with an ellipsis, after escaping", () => {
    const detail = reasonDetail("\x1b".repeat(500));
    assert.equal(detail.length, MAX_DETAIL_CHARS);
    assert.ok(detail.endsWith("…"));
    assert.equal(reasonDetail(detail), detail, "a second call changes nothing");
  });
  await t.step("a surrogate pair is not halved", () => {
    const detail = reasonDetail(`${"a".repeat(MAX_DETAIL_CHARS - 2)}🙂🙂`);
    assert.equal(detail.toWellFormed(), detail);
  });
});
