import assert from "node:assert/strict";
import {
  DIABETES_CSV_PATH,
  FEATURE_COUNT,
  FEATURE_NAMES,
  loadDiabetes,
  parseDiabetesCsv,
} from "./dataset.ts";

const HEADER = "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target";
const ROW = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,151";

Deno.test("loadDiabetes() reads the 442 rows that scikit-learn's load_diabetes() returns", async (t) => {
  const ds = await loadDiabetes();

  await t.step("with ten named features and a target per row", () => {
    assert.equal(DIABETES_CSV_PATH, "stack/data/diabetes.csv");
    assert.equal(FEATURE_COUNT, 10);
    assert.deepEqual(ds.featureNames, [
      "age",
      "sex",
      "bmi",
      "bp",
      "s1",
      "s2",
      "s3",
      "s4",
      "s5",
      "s6",
    ]);
    assert.deepEqual(ds.featureNames, FEATURE_NAMES);
    assert.equal(ds.X.length, 442);
    assert.equal(ds.y.length, 442);
    for (const row of ds.X) assert.equal(row.length, FEATURE_COUNT);
  });

  // Values printed by `load_diabetes()` in scikit-learn 1.2.1; they must match exactly.
  await t.step("with the same float64 values as scikit-learn", () => {
    assert.equal(ds.X[0][0], 0.038075906433423026);
    assert.equal(ds.X[102][2], 0.028284032228378497);
    assert.equal(ds.X[441][9], 0.0030644094143684884);
    assert.equal(ds.y[0], 151);
    assert.equal(ds.y[102], 302);
    assert.equal(ds.y[441], 57);
  });

  await t.step("with features centred on zero and scaled to unit L2 norm", () => {
    for (let j = 0; j < FEATURE_COUNT; j++) {
      let sum = 0;
      let squares = 0;
      for (const row of ds.X) {
        sum += row[j];
        squares += row[j] * row[j];
      }
      assert.ok(Math.abs(sum / ds.X.length) < 1e-12, `mean of ${ds.featureNames[j]} is ${sum}`);
      assert.ok(
        Math.abs(Math.sqrt(squares) - 1) < 1e-12,
        `L2 norm of ${ds.featureNames[j]} is ${Math.sqrt(squares)}`,
      );
    }
  });
});

Deno.test("loadDiabetes() names the path of a file that does not exist", async () => {
  await assert.rejects(
    () => loadDiabetes("stack/data/no_such_file.csv"),
    { message: "Cannot load diabetes data set from 'stack/data/no_such_file.csv': file not found" },
  );
});

Deno.test("parseDiabetesCsv() reads a header and rows", async (t) => {
  await t.step("with \\n line ends and a final newline", () => {
    const ds = parseDiabetesCsv(`${HEADER}\n${ROW}\n${ROW.replace("151", "-2.5e1")}\n`);
    assert.deepEqual(ds.X, [
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
    ]);
    assert.deepEqual(ds.y, [151, -25]);
  });

  await t.step("with \\r\\n line ends and no final newline", () => {
    const ds = parseDiabetesCsv(`${HEADER}\r\n${ROW}`);
    assert.deepEqual(ds.y, [151]);
  });
});

Deno.test("parseDiabetesCsv() rejects malformed text with the line at fault", async (t) => {
  await t.step("when the text is empty", () => {
    assert.throws(() => parseDiabetesCsv("\n"), /Cannot parse diabetes CSV as it is empty/);
  });

  await t.step("when the header is missing", () => {
    assert.throws(() => parseDiabetesCsv(`${ROW}\n`), {
      message: `Cannot parse diabetes CSV as line 1 must be the header '${HEADER}': ` +
        `current line is '${ROW}'`,
    });
  });

  await t.step("when the header names other columns", () => {
    assert.throws(
      () => parseDiabetesCsv(`${HEADER.replace("bmi", "BMI")}\n${ROW}\n`),
      /line 1 must be the header/,
    );
  });

  await t.step("when there are no rows", () => {
    assert.throws(() => parseDiabetesCsv(`${HEADER}\n`), {
      message: "Cannot parse diabetes CSV as it has a header but no rows",
    });
  });

  await t.step("when a row has too few columns", () => {
    assert.throws(() => parseDiabetesCsv(`${HEADER}\n${ROW}\n1,2,3\n`), {
      message: "Cannot parse diabetes CSV as line 3 must have 11 columns: current count is 3",
    });
  });

  await t.step("when a row has too many columns", () => {
    assert.throws(() => parseDiabetesCsv(`${HEADER}\n${ROW},7\n`), {
      message: "Cannot parse diabetes CSV as line 2 must have 11 columns: current count is 12",
    });
  });

  await t.step("when a blank line is followed by more rows", () => {
    assert.throws(
      () => parseDiabetesCsv(`${HEADER}\n\n${ROW}\n`),
      /line 2 must have 11 columns: current count is 1/,
    );
  });

  for (const bad of ["NaN", "Infinity", "-Infinity", "", "abc", "0x1f", "1e999"]) {
    await t.step(`when a value is '${bad}'`, () => {
      assert.throws(() => parseDiabetesCsv(`${HEADER}\n${ROW}\n${ROW.replace("0.3", bad)}\n`), {
        message: `Cannot parse diabetes CSV as line 3 column 'bmi' must be a finite number: ` +
          `current value is '${bad}'`,
      });
    });
  }

  await t.step("when the target is not a number", () => {
    assert.throws(
      () => parseDiabetesCsv(`${HEADER}\n${ROW.replace("151", "high")}\n`),
      /line 2 column 'target' must be a finite number: current value is 'high'/,
    );
  });
});
