import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addPair,
  contrastMoments,
  mergePairedErrors,
  NO_PAIRS,
  type PairedErrors,
  parsePairedErrors,
  serializePairedErrors,
} from "./paired_errors.ts";

function summarize(pairs: readonly (readonly [number, number])[]): PairedErrors {
  return pairs.reduce((state, [c, s]) => addPair(state, c, s), NO_PAIRS);
}

function close(actual: number, expected: number, tolerance = 1e-9): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance * Math.max(1, Math.abs(expected)),
    `${actual} is not close to ${expected}`,
  );
}

const errors = fc.array(
  fc.tuple(
    fc.double({ min: -1000, max: 1000, noNaN: true }),
    fc.double({ min: -1000, max: 1000, noNaN: true }),
  ),
  { maxLength: 40 },
);

Deno.test("addPair() keeps the means and variances of the absolute errors", () => {
  const state = summarize([[-3, 1], [5, -2], [4, 6]]);
  assert.equal(state.pairs, 3);
  close(state.meanCandidate, 4);
  close(state.meanStable, 3);
  // d = 2, 3, -2: mean 1, sample variance ((1 + 4 + 9) / 2) = 7.
  const d = contrastMoments(state);
  close(d.mean, 1);
  close(d.variance, 7);
});

Deno.test("contrastMoments() weighs the stable errors by the margin", () => {
  const pairs: [number, number][] = [[10, 9], [12, 10], [7, 8], [30, 25]];
  const state = summarize(pairs);
  const contrast = pairs.map(([c, s]) => c - 1.1 * s);
  const mean = contrast.reduce((a, b) => a + b) / contrast.length;
  const variance = contrast.reduce((a, x) => a + (x - mean) ** 2, 0) / (contrast.length - 1);
  const moments = contrastMoments(state, 1.1);
  close(moments.mean, mean);
  close(moments.variance, variance);
});

Deno.test("contrastMoments() gives no variance below two pairs and never a negative one", () => {
  assert.deepEqual(contrastMoments(addPair(NO_PAIRS, 3, 1)), { mean: 2, variance: 0 });
  const same = summarize(Array.from({ length: 50 }, (_, i) => [i * 0.1, i * 0.1] as const));
  assert.ok(contrastMoments(same).variance >= 0);
});

Deno.test("mergePairedErrors() equals adding every pair to one summary", () => {
  fc.assert(
    fc.property(errors, errors, (left, right) => {
      const merged = mergePairedErrors(summarize(left), summarize(right));
      const whole = summarize([...left, ...right]);
      assert.equal(merged.pairs, whole.pairs);
      for (const key of ["meanCandidate", "meanStable"] as const) {
        close(merged[key], whole[key], 1e-9);
      }
      for (const key of ["m2Candidate", "m2Stable", "coMoment"] as const) {
        close(merged[key], whole[key], 1e-6);
      }
    }),
  );
});

Deno.test("addPair() refuses a non-finite error, naming both values", () => {
  assert.throws(
    () => addPair(NO_PAIRS, Number.NaN, 1),
    /Cannot add pair as both errors must be finite numbers: current values are NaN and 1/,
  );
});

Deno.test("serializePairedErrors() round-trips through parsePairedErrors() in under 200 bytes", () => {
  const state = summarize(Array.from({ length: 1000 }, (_, i) => [i % 37 - 18.5, i % 23]));
  const text = serializePairedErrors(state);
  assert.ok(text.length < 200, `${text.length} bytes`);
  assert.deepEqual(parsePairedErrors(JSON.parse(text)), state);
});

Deno.test("parsePairedErrors() names the bad field and its value", async (t) => {
  const good = JSON.parse(serializePairedErrors(summarize([[1, 2], [3, 4]])));
  const cases: [string, unknown, RegExp][] = [
    ["not an object", [1], /must be an object: current value is \[1\]/],
    ["a fractional count", { ...good, pairs: 1.5 }, /'pairs' .* current value is 1.5/],
    [
      "a missing mean",
      { ...good, meanStable: undefined },
      /'meanStable' .* current value is undefined/,
    ],
    [
      "a negative sum of squares",
      { ...good, m2Candidate: -1 },
      /'m2Candidate' .* current value is -1/,
    ],
    ["a string", { ...good, coMoment: "0" }, /'coMoment' .* current value is "0"/],
  ];
  for (const [name, raw, message] of cases) {
    await t.step(name, () => assert.throws(() => parsePairedErrors(raw), message));
  }
});
