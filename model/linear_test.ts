import assert from "node:assert/strict";
import MLR from "ml-regression-multivariate-linear";
import { type Dataset, loadDiabetes } from "../stack/dataset.ts";
import { canonicalModelJson, fit, modelVersion, predict, scoreModel } from "./linear.ts";

// scikit-learn 1.2.1's LinearRegression().fit(X, y) on load_diabetes(). To recompute:
//   /usr/bin/python3 -c "from sklearn.datasets import load_diabetes as l
//   from sklearn.linear_model import LinearRegression as L; from sklearn import metrics as m
//   X, y = l(return_X_y=True); r = L().fit(X, y); p = r.predict(X)
//   print(repr(r.intercept_), [repr(float(c)) for c in r.coef_], repr(float(p[102])),
//         repr(m.mean_absolute_error(y, p)), repr(m.mean_squared_error(y, p) ** 0.5),
//         repr(m.r2_score(y, p)))"
const SKLEARN_INTERCEPT = 152.13348416289597;
const SKLEARN_COEF = [
  -10.009866299810684,
  -239.81564367242237,
  519.84592005446,
  324.38464550232356,
  -792.1756385522286,
  476.7390210052569,
  101.04326793803338,
  177.06323767134643,
  751.2736995571034,
  67.62669218370515,
];
const SKLEARN_ROW_102 = 150.6474832754822;
const SKLEARN_MAE = 43.27745202531506;
const SKLEARN_RMSE = 53.47612876402657;
const SKLEARN_R2 = 0.5177484222203499;

function assertClose(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected} ± ${tolerance}, got ${actual}`,
  );
}

Deno.test("fit() on the diabetes data set agrees with scikit-learn's LinearRegression", async (t) => {
  const ds = await loadDiabetes();
  const model = await fit(ds);

  await t.step("on the intercept and every weight", () => {
    assert.deepEqual(model.featureNames, ds.featureNames);
    assertClose(model.intercept, SKLEARN_INTERCEPT, 1e-6, "intercept");
    assert.equal(model.weights.length, SKLEARN_COEF.length);
    model.weights.forEach((w, i) => assertClose(w, SKLEARN_COEF[i], 1e-6, ds.featureNames[i]));
  });

  await t.step("on the prediction for row 102", () => {
    assertClose(predict(model, ds.X[102]), SKLEARN_ROW_102, 1e-6, "row 102");
  });

  await t.step("on the in-sample scores", () => {
    assert.equal(model.training.rows, 442);
    assertClose(model.training.mae, SKLEARN_MAE, 1e-6, "MAE");
    assertClose(model.training.rmse, SKLEARN_RMSE, 1e-6, "RMSE");
    assertClose(model.training.r2, SKLEARN_R2, 1e-9, "R²");
    assert.deepEqual(scoreModel(model, ds), model.training);
  });

  await t.step("and names the model by the hash of its content", async () => {
    assert.equal(model.format, 1);
    assert.match(model.version, /^sha256-[0-9a-f]{16}$/);
    assert.equal(model.version, await modelVersion(model));
    assert.equal((await fit(ds)).version, model.version);
  });
});

Deno.test("predict() gives the library's prediction to the last bit on every row", async () => {
  const ds = await loadDiabetes();
  const model = await fit(ds);
  const library = new MLR(ds.X, ds.y.map((v) => [v]), { intercept: true, statistics: false });
  ds.X.forEach((x, i) => assert.equal(predict(model, x), library.predict(x)[0], `row ${i}`));
});

Deno.test("predict() refuses a feature vector it cannot use", async (t) => {
  const model = { weights: [2, 3], intercept: 1 };

  await t.step("with a dot product plus intercept when the vector is whole", () => {
    assert.equal(predict(model, [10, 100]), 321);
  });

  await t.step("when the vector is too short", () => {
    assert.throws(() => predict(model, [1]), {
      message: "Cannot predict as 'x' must have 2 numbers: current length is 1",
    });
  });

  await t.step("when the vector holds NaN", () => {
    assert.throws(() => predict(model, [1, NaN]), {
      message: "Cannot predict as 'x' must hold finite numbers: current value at 1 is NaN",
    });
  });
});

// y = 1 + 2a - 3b exactly, so any correct least squares recovers it.
const EXACT: Dataset = {
  featureNames: ["a", "b"],
  X: [[0, 0], [1, 0], [0, 1], [1, 1], [2, 5]],
  y: [1, 3, -2, 0, -10],
};

Deno.test("fit() recovers an exact linear relation with a perfect score", async () => {
  const model = await fit(EXACT);
  assertClose(model.intercept, 1, 1e-12, "intercept");
  assertClose(model.weights[0], 2, 1e-12, "a");
  assertClose(model.weights[1], -3, 1e-12, "b");
  assert.equal(model.training.rows, 5);
  assert.ok(model.training.mae < 1e-12);
  assert.ok(model.training.rmse < 1e-12);
  assertClose(model.training.r2, 1, 1e-12, "R²");
});

Deno.test("fit() refuses data it cannot fit", async (t) => {
  await t.step("when there are fewer rows than unknowns", async () => {
    await assert.rejects(
      () => fit({ featureNames: ["a", "b"], X: [[1, 2], [3, 4]], y: [1, 2] }),
      { message: "Cannot fit model as it needs at least 3 rows: current count is 2" },
    );
  });

  await t.step("when X and y differ in length", async () => {
    await assert.rejects(
      () => fit({ ...EXACT, y: EXACT.y.slice(1) }),
      /'X' and 'y' must have the same length: current lengths are 5 and 4/,
    );
  });

  await t.step("when a row has the wrong length", async () => {
    await assert.rejects(
      () => fit({ ...EXACT, X: [...EXACT.X.slice(0, 4), [2]] }),
      { message: "Cannot fit model as 'X[4]' must have 2 numbers: current length is 1" },
    );
  });
});

Deno.test("scoreModel() follows scikit-learn's definitions", async (t) => {
  const model = { featureNames: ["a"], weights: [1], intercept: 0 };

  await t.step("for MAE, RMSE and R²", () => {
    // Predictions 1, 2, 3 against 1, 2, 5: residuals 0, 0, 2; mean of y is 8/3.
    const scores = scoreModel(model, { featureNames: ["a"], X: [[1], [2], [3]], y: [1, 2, 5] });
    assert.equal(scores.rows, 3);
    assertClose(scores.mae, 2 / 3, 1e-15, "MAE");
    assertClose(scores.rmse, Math.sqrt(4 / 3), 1e-15, "RMSE");
    assertClose(scores.r2, 1 - 4 / (25 / 9 + 4 / 9 + 49 / 9), 1e-15, "R²");
  });

  await t.step("with R² 1 for a perfect fit of a constant target, 0 otherwise", () => {
    const constant = { featureNames: ["a"], X: [[3], [3]], y: [3, 3] };
    assert.equal(scoreModel(model, constant).r2, 1);
    assert.equal(scoreModel(model, { ...constant, y: [4, 4] }).r2, 0);
  });

  await t.step("and refuses a data set with other features", () => {
    assert.throws(() => scoreModel(model, { featureNames: ["b"], X: [[1]], y: [1] }), {
      message:
        "Cannot score model as the data set's features must be 'a': current features are 'b'",
    });
  });

  await t.step("and refuses an empty data set", () => {
    assert.throws(
      () => scoreModel(model, { featureNames: ["a"], X: [], y: [] }),
      /must have the same non-zero length: current lengths are 0 and 0/,
    );
  });
});

Deno.test("modelVersion() hashes the canonical JSON of names, weights and intercept", async (t) => {
  const content = { featureNames: ["a", "b"], weights: [1.5, -2], intercept: 0.1 };

  await t.step("with keys in a fixed order whatever the object's order", () => {
    const shuffled = { intercept: 0.1, weights: [1.5, -2], featureNames: ["a", "b"], extra: 1 };
    const expected = '{"featureNames":["a","b"],"weights":[1.5,-2],"intercept":0.1}';
    assert.equal(canonicalModelJson(content), expected);
    assert.equal(canonicalModelJson(shuffled), expected);
  });

  // Computed independently: python3 -c 'import hashlib; print(hashlib.sha256(
  //   b"{\"featureNames\":[\"a\",\"b\"],\"weights\":[1.5,-2],\"intercept\":0.1}").hexdigest()[:16])'
  await t.step("as 'sha256-' and the first 16 hex digits", async () => {
    assert.equal(await modelVersion(content), "sha256-86a7ad573a410ab8");
  });

  await t.step("which changes with any weight, name or the intercept", async () => {
    const base = await modelVersion(content);
    assert.notEqual(await modelVersion({ ...content, weights: [1.5, -2.0000001] }), base);
    assert.notEqual(await modelVersion({ ...content, featureNames: ["b", "a"] }), base);
    assert.notEqual(await modelVersion({ ...content, intercept: 0.2 }), base);
  });
});
