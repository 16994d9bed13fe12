import assert from "node:assert/strict";
import {
  applyDrift,
  describeDrift,
  type DriftPlan,
  driftStarted,
  parseFeatureDrift,
  parseTargetDrift,
} from "./drift.ts";

Deno.test("parseFeatureDrift() reads 'column op number' terms", async (t) => {
  const cases: [
    string,
    string,
    { column: string; index: number; operator: string; operand: number }[],
  ][] = [
    ["empty text is no drift", "", []],
    ["one scaled column", "bmi*3", [{ column: "bmi", index: 2, operator: "*", operand: 3 }]],
    ["several, spaces allowed", " bmi * 3 , s5+0.1,age-1e-2", [
      { column: "bmi", index: 2, operator: "*", operand: 3 },
      { column: "s5", index: 8, operator: "+", operand: 0.1 },
      { column: "age", index: 0, operator: "-", operand: 0.01 },
    ]],
    ["a negative operand", "s1+-0.5", [{ column: "s1", index: 4, operator: "+", operand: -0.5 }]],
  ];
  for (const [name, text, expected] of cases) {
    await t.step(name, () => assert.deepEqual(parseFeatureDrift(text), expected));
  }
});

Deno.test("parseFeatureDrift() names the term it cannot read", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["an unknown column", "weight*2", /'weight\*2' names no feature column \(one of age, sex/],
    ["no operator", "bmi3", /'bmi3' is not 'column op number'/],
    ["a division", "bmi/2", /'bmi\/2' is not 'column op number'/],
    ["no number", "bmi*", /'bmi\*' is not 'column op number'/],
    ["not a number", "bmi*x", /'bmi\*x' needs a number after '\*'/],
    ["Infinity", "bmi*Infinity", /needs a number/],
  ];
  for (const [name, text, message] of cases) {
    await t.step(name, () => {
      assert.throws(
        () => parseFeatureDrift(text),
        (e) => e instanceof SyntaxError && message.test(e.message),
      );
    });
  }
});

Deno.test("parseTargetDrift() reads 'op number'", async (t) => {
  await t.step("empty text is no drift", () => assert.equal(parseTargetDrift(" "), undefined));
  await t.step(
    "a scale",
    () => assert.deepEqual(parseTargetDrift("*1.5"), { operator: "*", operand: 1.5 }),
  );
  await t.step(
    "an offset",
    () => assert.deepEqual(parseTargetDrift("+ 30"), { operator: "+", operand: 30 }),
  );
  await t.step("no operator", () => assert.throws(() => parseTargetDrift("1.5"), SyntaxError));
  await t.step("no number", () => assert.throws(() => parseTargetDrift("*abc"), SyntaxError));
});

const plan: DriftPlan = {
  features: parseFeatureDrift("bmi*3,s5+0.1"),
  target: parseTargetDrift("*1.5"),
  afterSamples: 10,
  afterMs: 1000,
};

Deno.test("driftStarted() waits for both the samples and the time", async (t) => {
  const cases: [string, number, number, boolean][] = [
    ["neither reached", 0, 0, false],
    ["samples only", 10, 999, false],
    ["time only", 9, 5000, false],
    ["both reached", 10, 1000, true],
  ];
  for (const [name, samples, elapsedMs, expected] of cases) {
    await t.step(name, () => assert.equal(driftStarted(plan, { samples, elapsedMs }), expected));
  }
  await t.step("a plan that changes nothing never starts", () => {
    const none = { features: [], afterSamples: 0, afterMs: 0 };
    assert.equal(driftStarted(none, { samples: 100, elapsedMs: 1e6 }), false);
  });
});

Deno.test("applyDrift() shifts the chosen columns and the target, and nothing else", () => {
  const features = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
  const sample = { row: 7, features, target: 100 };
  const drifted = applyDrift(sample, plan);
  assert.equal(drifted.row, 7);
  assert.equal(drifted.target, 150);
  assert.ok(Math.abs(drifted.features[2] - 0.9) < 1e-12);
  assert.ok(Math.abs(drifted.features[8] - 1.0) < 1e-12);
  for (const i of [0, 1, 3, 4, 5, 6, 7, 9]) assert.equal(drifted.features[i], features[i]);
  assert.deepEqual(sample.features, features, "the data set's row is not changed");
});

Deno.test("describeDrift() writes the plan as its settings would", () => {
  assert.equal(describeDrift(plan), "bmi*3, s5+0.1, target*1.5");
});
