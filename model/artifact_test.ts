import assert from "node:assert/strict";
import { loadDiabetes } from "../stack/dataset.ts";
import {
  loadModelArtifact,
  MODEL_PATH,
  parseModelArtifact,
  serializeModelArtifact,
} from "./artifact.ts";
import { fit, type ModelArtifact, modelVersion } from "./linear.ts";

async function fresh(): Promise<ModelArtifact> {
  return await fit(await loadDiabetes());
}

// A JSON round trip gives a plain, mutable copy to tamper with.
function copy(model: ModelArtifact): Record<string, unknown> & ModelArtifact {
  return JSON.parse(serializeModelArtifact(model));
}

Deno.test("parseModelArtifact() accepts what serializeModelArtifact() writes", async () => {
  const model = await fresh();
  const text = serializeModelArtifact(model);
  assert.ok(text.endsWith("}\n"));
  assert.deepEqual(await parseModelArtifact(JSON.parse(text)), model);
  assert.equal(serializeModelArtifact(await parseModelArtifact(JSON.parse(text))), text);
});

Deno.test("serializeModelArtifact() writes the same bytes whatever the key order", async () => {
  const model = await fresh();
  const { rows, mae, rmse, r2 } = model.training;
  const reordered: ModelArtifact = {
    training: { r2, rmse, mae, rows },
    intercept: model.intercept,
    weights: model.weights,
    featureNames: model.featureNames,
    version: model.version,
    format: model.format,
  };
  assert.equal(serializeModelArtifact(reordered), serializeModelArtifact(model));
});

Deno.test("the committed model/model.json is what a fresh fit writes", async () => {
  // Fails when the data or fitting changed without `deno task train` being run and committed.
  assert.equal(await Deno.readTextFile(MODEL_PATH), serializeModelArtifact(await fresh()));
  assert.deepEqual(await loadModelArtifact(), await fresh());
});

Deno.test("parseModelArtifact() refuses a malformed artifact", async (t) => {
  const model = await fresh();

  await t.step("when a weight was tampered with, as corrupt", async () => {
    const tampered = copy(model);
    tampered.weights[3] += 1e-9;
    const actual = await modelVersion(tampered);
    await assert.rejects(() => parseModelArtifact(tampered), {
      message: `Cannot load model as it is corrupt: 'version' is '${model.version}' ` +
        `but the content hashes to '${actual}'`,
    });
  });

  await t.step("when the intercept was tampered with, as corrupt", async () => {
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), intercept: model.intercept + 1 }),
      /Cannot load model as it is corrupt/,
    );
  });

  await t.step("when it is not an object", async () => {
    await assert.rejects(() => parseModelArtifact([model]), {
      message: "Cannot load model as the artifact must be an object: current value is " +
        JSON.stringify([model]).slice(0, 77) + "...",
    });
    await assert.rejects(() => parseModelArtifact(null), {
      message: "Cannot load model as the artifact must be an object: current value is null",
    });
  });

  await t.step("when it has another format", async () => {
    await assert.rejects(() => parseModelArtifact({ ...copy(model), format: 2 }), {
      message: "Cannot load model as 'format' must be 1: current value is 2",
    });
  });

  await t.step("when a key is missing", async () => {
    const { intercept: _, ...rest } = copy(model);
    await assert.rejects(() => parseModelArtifact(rest), {
      message: "Cannot load model as the artifact must have the keys format, version, " +
        "featureNames, weights, intercept, training: missing 'intercept'",
    });
  });

  await t.step("when it has an unknown key", async () => {
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), bias: 0 }),
      /the artifact must have only the keys .*: found 'bias'/,
    );
  });

  await t.step("when the version is not a sha256 prefix", async () => {
    await assert.rejects(() => parseModelArtifact({ ...copy(model), version: "v1" }), {
      message: `Cannot load model as 'version' must be 'sha256-' and 16 hex digits: ` +
        `current value is "v1"`,
    });
  });

  await t.step("when there are too few weights", async () => {
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), weights: model.weights.slice(1) }),
      { message: "Cannot load model as 'weights' must have 10 numbers: current length is 9" },
    );
  });

  await t.step("when the feature names are in another order", async () => {
    const featureNames = [...model.featureNames].reverse();
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), featureNames }),
      /'featureNames' must be 'age,sex,bmi,bp,s1,s2,s3,s4,s5,s6': current value is \["s6",/,
    );
  });

  await t.step("when a weight is NaN", async () => {
    const weights = [...model.weights];
    weights[2] = NaN;
    await assert.rejects(() => parseModelArtifact({ ...copy(model), weights }), {
      message: "Cannot load model as 'weights[2]' must be a finite number: current value is NaN",
    });
  });

  await t.step("when a weight is a string", async () => {
    const weights: unknown[] = [...model.weights];
    weights[0] = "1.5";
    await assert.rejects(() => parseModelArtifact({ ...copy(model), weights }), {
      message: `Cannot load model as 'weights[0]' must be a finite number: current value is "1.5"`,
    });
  });

  await t.step("when the intercept is infinite", async () => {
    await assert.rejects(() => parseModelArtifact({ ...copy(model), intercept: Infinity }), {
      message: "Cannot load model as 'intercept' must be a finite number: " +
        "current value is Infinity",
    });
  });

  await t.step("when the training scores are incomplete or wrong", async () => {
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), training: { rows: 442, mae: 1, rmse: 1 } }),
      /'training' must have the keys rows, mae, rmse, r2: missing 'r2'/,
    );
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), training: { ...model.training, rows: 0.5 } }),
      {
        message:
          "Cannot load model as 'training.rows' must be a positive integer: current value is 0.5",
      },
    );
    await assert.rejects(
      () => parseModelArtifact({ ...copy(model), training: { ...model.training, mae: null } }),
      /'training.mae' must be a finite number: current value is null/,
    );
  });
});

Deno.test("loadModelArtifact() names the file it cannot load", async (t) => {
  await t.step("when the file is missing, saying how to make it", async () => {
    await assert.rejects(() => loadModelArtifact("model/no_such_model.json"), {
      message:
        "Cannot load model from 'model/no_such_model.json': file not found; run `deno task train`",
    });
  });

  await t.step("when the file is not JSON", async () => {
    await assert.rejects(
      () => loadModelArtifact("model/artifact_test.ts"),
      /^Error: Cannot load model from 'model\/artifact_test.ts' as it is not JSON: /,
    );
  });

  await t.step("with the default path model/model.json", async () => {
    assert.equal(MODEL_PATH, "model/model.json");
    assert.equal((await loadModelArtifact()).version, (await fresh()).version);
  });
});
