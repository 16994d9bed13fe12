import assert from "node:assert/strict";
import fc from "fast-check";
import { hasControlCharacter } from "../../stack/printable.ts";
import { addPair, NO_PAIRS } from "../../stack/paired_errors.ts";
import {
  formatShadowRecord,
  parseShadowRecord,
  restoreShadow,
  SHADOW_HEADER,
  type ShadowRecord,
} from "./shadow_log.ts";
import { shadowKey } from "./shadow_pairer.ts";

const RECORD: ShadowRecord = {
  id: "s-1",
  pairedAtMs: Date.UTC(2026, 11, 4, 12, 0, 0, 250),
  candidateVersion: "sha256-aaaa",
  candidateReplica: "model_candidate.1",
  stableVersion: "sha256-bbbb",
  yTrue: 151,
  yCandidate: 160.5,
  candidateError: 9.5,
  stableError: 12,
};

Deno.test("formatShadowRecord() writes the header's columns, the difference last", () => {
  assert.equal(
    formatShadowRecord(RECORD),
    "s-1,2026-12-04T12:00:00.250Z,sha256-aaaa,model_candidate.1,sha256-bbbb,151,160.5,9.5,12,-2.5",
  );
  assert.equal(SHADOW_HEADER.split(",").at(-1), "difference");
});

Deno.test("parseShadowRecord() reads back what formatShadowRecord() wrote, hostile text included", () => {
  // Text as the contract admits it (parseId, label): no control characters, well formed.
  const text = fc.string({ minLength: 1, maxLength: 20, unit: "binary" }).filter((s) =>
    !hasControlCharacter(s) && s.isWellFormed()
  );
  const number = fc.double({ min: 0, max: 1e6, noNaN: true });
  fc.assert(fc.property(text, text, number, number, number, (id, version, y, c, s) => {
    const record = {
      ...RECORD,
      id,
      candidateVersion: version,
      yTrue: y,
      yCandidate: y + c,
      candidateError: c,
      stableError: s,
    };
    assert.deepEqual(parseShadowRecord(formatShadowRecord(record)), record);
  }));
});

Deno.test("parseShadowRecord() refuses the header and damaged lines", () => {
  const line = formatShadowRecord(RECORD);
  assert.equal(parseShadowRecord(SHADOW_HEADER), undefined);
  assert.equal(parseShadowRecord(line.slice(0, 30)), undefined);
  assert.equal(parseShadowRecord(line.replace(",9.5,", ",,")), undefined);
  assert.equal(parseShadowRecord(line.replace(",9.5,", ",-1,")), undefined);
  assert.equal(parseShadowRecord(line.replace("2026-12-04", "yesterday")), undefined);
});

Deno.test("restoreShadow() sums each version's pairs as they were added, and keeps the last keys", () => {
  const rows = [
    { ...RECORD, id: "a", candidateError: 1, stableError: 2 },
    { ...RECORD, id: "b", candidateError: 3, stableError: 1 },
    { ...RECORD, id: "a", candidateVersion: "v3", candidateError: 5, stableError: 5 },
    { ...RECORD, id: "c", candidateError: 2, stableError: 8 },
  ];
  const text = [SHADOW_HEADER, ...rows.map(formatShadowRecord), "torn,li", ""].join("\n");
  const restored = restoreShadow(text, 2);
  assert.equal(restored.rows, 4);
  assert.equal(restored.lastPairedAtMs, RECORD.pairedAtMs);
  assert.equal(restoreShadow(SHADOW_HEADER + "\n", 2).lastPairedAtMs, undefined);
  assert.equal(restored.damaged, 1);
  assert.deepEqual(restored.keys, [shadowKey("v3", "a"), shadowKey("sha256-aaaa", "c")]);
  const expected = addPair(addPair(addPair(NO_PAIRS, 1, 2), 3, 1), 2, 8);
  assert.deepEqual(restored.summaries.of("sha256-aaaa"), expected);
  assert.deepEqual(restored.summaries.of("v3"), addPair(NO_PAIRS, 5, 5));
  assert.deepEqual(restored.summaries.of("never"), NO_PAIRS);
  assert.deepEqual(restored.summaries.entries().map(([version]) => version), [
    "sha256-aaaa",
    "v3",
  ]);
});
