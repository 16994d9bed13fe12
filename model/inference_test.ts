import assert from "node:assert/strict";
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { FEATURE_NAMES } from "../stack/dataset.ts";
import { loadModelArtifact } from "./artifact.ts";
import { infer, type InferenceContext, stampPredictedAt } from "./inference.ts";
import { type ModelArtifact, predict } from "./linear.ts";
import { isReasonCode } from "../stack/dead_letter_reasons.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);

// Small integer weights keep the expected predictions exact.
const MODEL: ModelArtifact = {
  format: 1,
  version: "sha256-0123456789abcdef",
  featureNames: [...FEATURE_NAMES],
  weights: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  intercept: 100,
  training: { rows: 442, mae: 43, rmse: 53, r2: 0.5 },
};
const NOW = new Date("2026-01-02T03:04:05.678Z");
const CONTEXT: InferenceContext = {
  model: MODEL,
  replica: "model-2",
  maxBodyBytes: 4096,
  now: NOW,
};
const ID = "3b241101-e2bb-4255-8caf-4136c566a962";
const FEATURES_PROPERTIES: AMQPProperties = {
  messageId: ID,
  contentType: "application/json",
  appId: "features",
  timestamp: new Date(1_717_000_000_000),
  headers: { "sent-at-ms": 1_717_000_000_123.5, replica: "features-1" },
};

Deno.test("infer() turns a feature vector into a y_pred message", async (t) => {
  const result = infer(bytes("[1,1,1,1,1,1,1,1,1,1]"), FEATURES_PROPERTIES, CONTEXT);

  await t.step("with the prediction of the model as its body", () => {
    assert.ok(result.ok);
    assert.equal(result.value.id, ID);
    assert.equal(result.value.prediction, 155);
    assert.equal(result.value.body, "155");
  });

  await t.step("with the sample id as messageId and correlationId", () => {
    assert.ok(result.ok);
    assert.deepEqual(result.value.properties, {
      messageId: ID,
      correlationId: ID,
      contentType: "application/json",
      appId: "model",
      timestamp: NOW,
      headers: {
        "model-version": "sha256-0123456789abcdef",
        replica: "model-2",
        inputs: "[1,1,1,1,1,1,1,1,1,1]",
        "sent-at-ms": 1_717_000_000_123.5,
      },
    });
  });

  await t.step("with the prediction predict() gives, to the last bit", () => {
    const x = [0.038, -0.044, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017];
    const other = infer(bytes(JSON.stringify(x)), FEATURES_PROPERTIES, CONTEXT);
    assert.ok(other.ok);
    assert.equal(other.value.prediction, predict(MODEL, x));
    assert.equal(other.value.body, String(predict(MODEL, x)));
  });
});

Deno.test("infer() predicts with the trained artifact as the service does", async () => {
  const model = await loadModelArtifact();
  const x = [0.038, 0.051, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018];
  const result = infer(bytes(JSON.stringify(x)), FEATURES_PROPERTIES, { ...CONTEXT, model });
  assert.ok(result.ok);
  assert.equal(result.value.prediction, predict(model, x));
  assert.equal(result.value.properties.headers?.["model-version"], model.version);
});

Deno.test("infer() copies sent-at-ms only when the input has a usable one", async (t) => {
  const body = bytes("[0,0,0,0,0,0,0,0,0,0]");
  const cases: [string, AMQPProperties["headers"], number | undefined][] = [
    ["a number", { "sent-at-ms": 12.5 }, 12.5],
    ["numeric text", { "sent-at-ms": "12.5" }, 12.5],
    ["absent", { replica: "features-1" }, undefined],
    ["no headers at all", undefined, undefined],
    ["not a number", { "sent-at-ms": "yesterday" }, undefined],
  ];
  for (const [name, headers, expected] of cases) {
    await t.step(name, () => {
      const result = infer(body, { messageId: ID, headers }, CONTEXT);
      assert.ok(result.ok);
      assert.equal(result.value.prediction, 100);
      const out = result.value.properties.headers!;
      assert.equal(out["sent-at-ms"], expected);
      assert.equal("sent-at-ms" in out, expected !== undefined);
      // The features' replica is not copied: the header names the model replica.
      assert.equal(out.replica, "model-2");
    });
  }
});

Deno.test("infer() gives the reason to dead-letter every bad input", async (t) => {
  const good = bytes("[1,1,1,1,1,1,1,1,1,1]");
  const cases: [string, Uint8Array | null, AMQPProperties, string][] = [
    ["no messageId", good, { headers: {} }, "missing messageId"],
    ["an empty messageId", good, { messageId: "" }, "missing messageId"],
    [
      "a messageId too long",
      good,
      { messageId: "x".repeat(129) },
      "messageId too long: 129 characters, limit 128",
    ],
    ["an empty body", new Uint8Array(0), FEATURES_PROPERTIES, "empty body"],
    ["no body", null, FEATURES_PROPERTIES, "empty body"],
    ["not UTF-8", new Uint8Array([0x5b, 0xff, 0x5d]), FEATURES_PROPERTIES, "body is not UTF-8"],
    [
      "nine features",
      bytes("[1,1,1,1,1,1,1,1,1]"),
      FEATURES_PROPERTIES,
      "expected 10 features, got 9",
    ],
    ["an object", bytes('{"x":1}'), FEATURES_PROPERTIES, "expected an array of 10 numbers"],
    [
      "a null feature",
      bytes("[1,1,1,null,1,1,1,1,1,1]"),
      FEATURES_PROPERTIES,
      "feature 3 is not a finite number: null",
    ],
    [
      '"NaN" as a feature',
      bytes('[1,1,1,1,1,1,1,1,1,"NaN"]'),
      FEATURES_PROPERTIES,
      'feature 9 is not a finite number: "NaN"',
    ],
    [
      "a body over the limit",
      bytes(`[${"1,".repeat(2100)}1]`),
      FEATURES_PROPERTIES,
      "body too large: 4203 bytes, limit 4096",
    ],
    [
      "both a bad id and a bad body: the id is reported",
      bytes("nope"),
      { messageId: "" },
      "missing messageId",
    ],
  ];
  for (const [name, body, properties, reason] of cases) {
    await t.step(name, () => {
      const result = infer(body, properties, CONTEXT);
      assert.equal(result.ok, false);
      assert.ok(isReasonCode((result as { code: unknown }).code));
      assert.equal((result as { reason: string }).reason, reason);
    });
  }
  await t.step("not JSON", () => {
    const result = infer(bytes("[1,1,"), FEATURES_PROPERTIES, CONTEXT);
    assert.equal(result.ok, false);
    assert.match((result as { reason: string }).reason, /^body is not JSON: \S/);
  });
  await t.step("the service's own body limit applies", () => {
    assert.deepEqual(infer(good, FEATURES_PROPERTIES, { ...CONTEXT, maxBodyBytes: 20 }), {
      ok: false,
      code: "too_large",
      reason: "body too large: 21 bytes, limit 20",
    });
  });
});

Deno.test("infer() dead-letters an input whose prediction is not a valid output", async (t) => {
  await t.step("a prediction that overflows to Infinity", () => {
    const huge: ModelArtifact = { ...MODEL, weights: MODEL.weights.map(() => 1e303) };
    const result = infer(bytes("[1e6,1e6,1,1,1,1,1,1,1,1]"), FEATURES_PROPERTIES, {
      ...CONTEXT,
      model: huge,
    });
    assert.deepEqual(result, {
      ok: false,
      code: "prediction_out_of_range",
      reason: "prediction value is not a finite number: Infinity",
    });
  });
  await t.step("a finite prediction beyond the contract's range", () => {
    const result = infer(bytes("[1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6,1e6]"), FEATURES_PROPERTIES, {
      ...CONTEXT,
      model: { ...MODEL, weights: MODEL.weights.map(() => 1e6) },
    });
    assert.deepEqual(result, {
      ok: false,
      code: "prediction_out_of_range",
      reason: "prediction value out of range: 10000000000100, limit ±1000000000000",
    });
  });
  await t.step("features near the top of the double range never reach the model", () => {
    const result = infer(bytes("[1.7e308,1,1,1,1,1,1,1,1,1]"), FEATURES_PROPERTIES, CONTEXT);
    assert.deepEqual(result, {
      ok: false,
      code: "out_of_range",
      reason: "feature 0 out of range: 1.7e+308, limit ±1000000",
    });
  });
  await t.step(
    "the largest accepted features with the trained model give a valid output",
    async () => {
      const trained = await loadModelArtifact();
      for (const sign of [1, -1]) {
        const vector = trained.weights.map((w) => sign * Math.sign(w) * 1e6);
        const result = infer(bytes(JSON.stringify(vector)), FEATURES_PROPERTIES, {
          ...CONTEXT,
          model: trained,
        });
        assert.ok(result.ok, JSON.stringify(result));
        assert.equal(result.value.prediction, predict(trained, vector));
      }
    },
  );
});

Deno.test("infer() carries the time its handler got the message as received-at-ms", () => {
  const input = bytes("[1,1,1,1,1,1,1,1,1,1]");
  const result = infer(input, FEATURES_PROPERTIES, { ...CONTEXT, receivedAtMs: 1_717_000_000_125 });
  assert.ok(result.ok);
  assert.equal(result.value.properties.headers?.["received-at-ms"], 1_717_000_000_125);
  const unstamped = infer(input, FEATURES_PROPERTIES, CONTEXT);
  assert.ok(unstamped.ok);
  assert.equal("received-at-ms" in unstamped.value.properties.headers!, false);
});

Deno.test("stampPredictedAt() adds predicted-at-ms and keeps every other property", () => {
  const result = infer(bytes("[1,1,1,1,1,1,1,1,1,1]"), FEATURES_PROPERTIES, CONTEXT);
  assert.ok(result.ok);
  const stamped = stampPredictedAt(result.value.properties, 1_717_000_000_130.25);
  assert.deepEqual(stamped, {
    ...result.value.properties,
    headers: { ...result.value.properties.headers, "predicted-at-ms": 1_717_000_000_130.25 },
  });
  assert.equal("predicted-at-ms" in result.value.properties.headers!, false, "input untouched");
});
