import assert from "node:assert/strict";
import { type Dataset, loadDiabetes } from "../stack/dataset.ts";
import { pickSample, sampleMessages, seededRandom } from "./sampler.ts";

Deno.test("seededRandom() gives the same sequence for the same seed", async (t) => {
  await t.step("seed 42 starts as mulberry32 does", () => {
    const random = seededRandom(42);
    assert.deepEqual([random(), random(), random()], [
      0.6011037519201636,
      0.44829055899754167,
      0.8524657934904099,
    ]);
  });
  await t.step("two generators of one seed agree", () => {
    const a = seededRandom(123_456);
    const b = seededRandom(123_456);
    for (let i = 0; i < 1000; i++) assert.equal(a(), b());
  });
  await t.step("another seed gives another sequence", () => {
    assert.notEqual(seededRandom(1)(), seededRandom(2)());
  });
  await t.step("the seed is taken modulo 2^32", () => {
    assert.equal(seededRandom(2 ** 32)(), seededRandom(0)());
    assert.equal(seededRandom(2 ** 32 + 42)(), seededRandom(42)());
  });
});

Deno.test("seededRandom() stays in [0, 1)", () => {
  for (const seed of [0, 1, 42, 4_294_967_295]) {
    const random = seededRandom(seed);
    for (let i = 0; i < 100_000; i++) {
      const value = random();
      assert.ok(value >= 0 && value < 1, `seed ${seed}, draw ${i}: ${value}`);
    }
  }
});

Deno.test("pickSample() picks rows of the data set", async (t) => {
  const dataset = await loadDiabetes();

  await t.step("the first rows for seed 42 are fixed", () => {
    const random = seededRandom(42);
    const picked = Array.from({ length: 5 }, () => pickSample(dataset, random));
    assert.deepEqual(picked.map((s) => [s.row, s.target]), [
      [265, 74],
      [198, 142],
      [376, 121],
      [296, 89],
      [77, 200],
    ]);
    assert.deepEqual(picked[0].features, dataset.X[265]);
    assert.equal(picked[0].features[0], dataset.X[265][0]);
  });

  await t.step("each row about equally often", () => {
    const random = seededRandom(7);
    const counts = new Array<number>(442).fill(0);
    const draws = 44_200;
    for (let i = 0; i < draws; i++) counts[pickSample(dataset, random).row]++;
    const expected = draws / counts.length;
    let chiSquared = 0;
    for (const count of counts) chiSquared += (count - expected) ** 2 / expected;
    // 441 degrees of freedom: the 99.9 % quantile is about 540.
    assert.ok(chiSquared < 540, `chi-squared ${chiSquared}`);
    assert.ok(Math.min(...counts) >= 60, `least picked row: ${Math.min(...counts)}`);
    assert.ok(Math.max(...counts) <= 140, `most picked row: ${Math.max(...counts)}`);
  });

  await t.step("the ends of [0, 1) map to the first and last row", () => {
    assert.equal(pickSample(dataset, () => 0).row, 0);
    assert.equal(pickSample(dataset, () => 0.9999999999).row, 441);
    assert.equal(pickSample(dataset, () => 0.5).row, 221);
  });
});

Deno.test("sampleMessages() sends the truth and the features of one sample", async (t) => {
  const sample = { row: 3, features: [0.1, -0.2, 0.3, 0, 0, 0, 0, 0, 0, 1e-3], target: 302 };
  const sentAtMs = 1_717_000_000_123.456;
  const [truth, features] = sampleMessages(sample, {
    id: "3b241101-e2bb-4255-8caf-4136c566a962",
    sentAtMs,
    replica: "features-1",
  });

  await t.step("y_true first, then features, as JSON bodies", () => {
    assert.equal(truth.queue, "y_true");
    assert.equal(truth.body, "302");
    assert.equal(features.queue, "features");
    assert.equal(features.body, "[0.1,-0.2,0.3,0,0,0,0,0,0,0.001]");
  });

  await t.step("with the same properties on both", () => {
    const expected = {
      messageId: "3b241101-e2bb-4255-8caf-4136c566a962",
      contentType: "application/json",
      appId: "features",
      timestamp: new Date(1_717_000_000_123),
      headers: { "sent-at-ms": sentAtMs, replica: "features-1" },
    };
    assert.deepEqual(truth.properties, expected);
    assert.deepEqual(features.properties, expected);
  });
});

// The rows that `pickSample` returns come from the data set as given.
Deno.test("pickSample() works on any data set", () => {
  const tiny: Dataset = { featureNames: ["a"], X: [[1], [2]], y: [10, 20] };
  assert.deepEqual(pickSample(tiny, () => 0.75), { row: 1, features: [2], target: 20 });
});
