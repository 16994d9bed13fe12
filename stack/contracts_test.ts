import assert from "node:assert/strict";
import {
  checkTarget,
  DEFAULT_MAX_BODY_BYTES,
  encodeBody,
  FEATURE_COUNT,
  HEADERS,
  MAX_FEATURE_MAGNITUDE,
  MAX_ID_LENGTH,
  MAX_TARGET_MAGNITUDE,
  numberHeader,
  type Parsed,
  parseFeatureVector,
  parseId,
  parseScalar,
  QUEUES,
  textHeader,
} from "./contracts.ts";
import type { ReasonCode } from "./dead_letter_reasons.ts";

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const VECTOR = [0.038, -0.044, 0.061, 0.021, -0.044, -0.034, -0.043, -0.002, 0.019, -0.017];

/** A parse result without its code: the tables below are about the words. */
function withoutCode<T>(result: Parsed<T>): { ok: true; value: T } | { ok: false; reason: string } {
  return result.ok ? result : { ok: false, reason: result.reason };
}

Deno.test("the contract names its queues and headers once", () => {
  assert.deepEqual(QUEUES, {
    features: "features",
    yTrue: "y_true",
    yPred: "y_pred",
    deadLetter: "dead_letter",
    featuresShadow: "features_shadow",
    yPredShadow: "y_pred_shadow",
  });
  assert.equal(HEADERS.sentAtMs, "sent-at-ms");
  assert.equal(HEADERS.modelVersion, "model-version");
  assert.equal(HEADERS.replica, "replica");
  assert.equal(FEATURE_COUNT, 10);
  assert.equal(DEFAULT_MAX_BODY_BYTES, 4096);
  assert.equal(MAX_ID_LENGTH, 128);
});

Deno.test("parseFeatureVector() accepts exactly ten finite numbers", async (t) => {
  await t.step("as encodeBody() writes them", () => {
    assert.deepEqual(parseFeatureVector(bytes(encodeBody(VECTOR))), { ok: true, value: VECTOR });
  });
  await t.step("with whitespace, exponents and integers", () => {
    const text = " [ 1, 0, -2, 3e-2, 1E2, 0.5, -0.25, 7, 8, 9 ]\n";
    assert.deepEqual(parseFeatureVector(bytes(text)), {
      ok: true,
      value: [1, 0, -2, 0.03, 100, 0.5, -0.25, 7, 8, 9],
    });
  });
  await t.step("up to the size limit inclusive", () => {
    const body = bytes(encodeBody(VECTOR));
    assert.equal(parseFeatureVector(body, body.byteLength).ok, true);
  });
  await t.step("up to ±MAX_FEATURE_MAGNITUDE inclusive", () => {
    const edge = [1e6, -1e6, 1, 1, 1, 1, 1, 1, 1, 1];
    assert.equal(MAX_FEATURE_MAGNITUDE, 1e6);
    assert.deepEqual(parseFeatureVector(bytes(encodeBody(edge))), { ok: true, value: edge });
  });
});

Deno.test("parseFeatureVector() gives the reason for every bad body", async (t) => {
  const nine = encodeBody(VECTOR.slice(0, 9));
  const eleven = encodeBody([...VECTOR, 1]);
  const withValue = (value: string) => `[${value},1,2,3,4,5,6,7,8,9]`;
  const cases: [string, Uint8Array | null, string][] = [
    ["null body", null, "empty body"],
    ["empty body", new Uint8Array(0), "empty body"],
    ["not UTF-8", new Uint8Array([0x5b, 0xff, 0xfe, 0x5d]), "body is not UTF-8"],
    ["a truncated UTF-8 sequence", new Uint8Array([0x5b, 0xe2, 0x82]), "body is not UTF-8"],
    ["an object", bytes('{"features":[1,2]}'), "expected an array of 10 numbers"],
    ["a number", bytes("302"), "expected an array of 10 numbers"],
    ["a string", bytes('"[1,2,3]"'), "expected an array of 10 numbers"],
    ["JSON null", bytes("null"), "expected an array of 10 numbers"],
    ["an empty array", bytes("[]"), "expected 10 features, got 0"],
    ["nine numbers", bytes(nine), "expected 10 features, got 9"],
    ["eleven numbers", bytes(eleven), "expected 10 features, got 11"],
    ['"NaN" as a string', bytes(withValue('"NaN"')), 'feature 0 is not a finite number: "NaN"'],
    [
      '"Infinity" as a string',
      bytes(withValue('"Infinity"')),
      'feature 0 is not a finite number: "Infinity"',
    ],
    ["null (JSON's NaN)", bytes(withValue("null")), "feature 0 is not a finite number: null"],
    ["a numeric string", bytes(withValue('"1.5"')), 'feature 0 is not a finite number: "1.5"'],
    ["a boolean", bytes(withValue("true")), "feature 0 is not a finite number: true"],
    ["a nested array", bytes(withValue("[1]")), "feature 0 is not a finite number: [1]"],
    [
      "a number too large for a double",
      bytes("[0,1,2,3,4,5,6,7,8,1e999]"),
      "feature 9 is not a finite number: null",
    ],
    [
      "a finite number near the top of the double range",
      bytes(withValue("1.7e308")),
      "feature 0 out of range: 1.7e+308, limit ±1000000",
    ],
    [
      "just over the range",
      bytes(withValue("-1000000.5")),
      "feature 0 out of range: -1000000.5, limit ±1000000",
    ],
  ];
  for (const [name, body, reason] of cases) {
    await t.step(name, () => {
      assert.deepEqual(withoutCode(parseFeatureVector(body)), { ok: false, reason });
    });
  }

  const notJson: [string, string][] = [
    ["bare NaN", withValue("NaN")],
    ["bare Infinity", withValue("Infinity")],
    ["a trailing comma", "[1,2,3,4,5,6,7,8,9,10,]"],
    ["whitespace only", "   "],
    ["Python's repr", "array([1, 2])"],
  ];
  for (const [name, text] of notJson) {
    await t.step(`not JSON: ${name}`, () => {
      const result = parseFeatureVector(bytes(text));
      assert.equal(result.ok, false);
      assert.match((result as { reason: string }).reason, /^body is not JSON: \S/);
    });
  }

  await t.step("over the size limit, before it is read", () => {
    assert.deepEqual(withoutCode(parseFeatureVector(new Uint8Array(4097))), {
      ok: false,
      reason: "body too large: 4097 bytes, limit 4096",
    });
    const body = bytes(encodeBody(VECTOR));
    assert.deepEqual(withoutCode(parseFeatureVector(body, body.byteLength - 1)), {
      ok: false,
      reason: `body too large: ${body.byteLength} bytes, limit ${body.byteLength - 1}`,
    });
  });
});

Deno.test("parseScalar() accepts one finite number", async (t) => {
  const cases: [string, number][] = [
    ["302", 302],
    ["-1.5", -1.5],
    [" 25 \n", 25],
    ["0", 0],
    ["1e12", MAX_TARGET_MAGNITUDE],
    ["-1e12", -MAX_TARGET_MAGNITUDE],
  ];
  for (const [text, value] of cases) {
    await t.step(JSON.stringify(text), () => {
      assert.deepEqual(parseScalar(bytes(text)), { ok: true, value });
    });
  }
});

Deno.test("parseScalar() gives the reason for every bad body", async (t) => {
  const cases: [string, Uint8Array | null, string][] = [
    ["null body", null, "empty body"],
    ["empty body", new Uint8Array(0), "empty body"],
    ["not UTF-8", new Uint8Array([0x33, 0xc0, 0x30]), "body is not UTF-8"],
    ['"NaN" as a string', bytes('"NaN"'), 'expected one finite number, got "NaN"'],
    ['"Infinity" as a string', bytes('"Infinity"'), 'expected one finite number, got "Infinity"'],
    ["null", bytes("null"), "expected one finite number, got null"],
    ["a numeric string", bytes('"302"'), 'expected one finite number, got "302"'],
    ["an array of one", bytes("[302]"), "expected one finite number, got [302]"],
    ["an object", bytes('{"y":302}'), 'expected one finite number, got {"y":302}'],
    ["a number too large for a double", bytes("1e400"), "expected one finite number, got null"],
    [
      "a finite number out of range",
      bytes("1e308"),
      "value out of range: 1e+308, limit ±1000000000000",
    ],
    [
      "just over the range",
      bytes("-1000000000001"),
      "value out of range: -1000000000001, limit ±1000000000000",
    ],
    [
      "a long array, cut to 40 characters",
      bytes(encodeBody(VECTOR)),
      "expected one finite number, got [0.038,-0.044,0.061,0.021,-0.044,-0.034,",
    ],
    ["over the size limit", bytes("1".repeat(4097)), "body too large: 4097 bytes, limit 4096"],
  ];
  for (const [name, body, reason] of cases) {
    await t.step(name, () => {
      assert.deepEqual(withoutCode(parseScalar(body)), { ok: false, reason });
    });
  }
  await t.step("not JSON", () => {
    for (const text of ["NaN", "-Infinity", "3O2", "302,"]) {
      const result = parseScalar(bytes(text));
      assert.equal(result.ok, false, text);
      assert.match((result as { reason: string }).reason, /^body is not JSON: \S/, text);
    }
  });
  await t.step("a custom limit", () => {
    assert.deepEqual(withoutCode(parseScalar(bytes("302"), 2)), {
      ok: false,
      reason: "body too large: 3 bytes, limit 2",
    });
    assert.deepEqual(parseScalar(bytes("302"), 3), { ok: true, value: 302 });
  });
});

Deno.test("parseId() takes opaque text of 1 to 128 characters", async (t) => {
  await t.step("a UUID", () => {
    const id = "3b241101-e2bb-4255-8caf-4136c566a962";
    assert.deepEqual(parseId(id, "messageId"), { ok: true, value: id });
  });
  await t.step("exactly 128 characters", () => {
    const id = "x".repeat(128);
    assert.deepEqual(parseId(id, "messageId"), { ok: true, value: id });
  });
  const bad: [string, unknown, string][] = [
    ["missing", undefined, "missing correlationId"],
    ["null", null, "missing correlationId"],
    ["empty", "", "missing correlationId"],
    ["a number", 42, "missing correlationId"],
    ["bytes", new Uint8Array([0x61]), "missing correlationId"],
    ["129 characters", "x".repeat(129), "correlationId too long: 129 characters, limit 128"],
    ["a newline", "a\nb", "correlationId contains a control character"],
    ["a NUL", "a\u0000", "correlationId contains a control character"],
    ["an ESC", "a\x1b[31m", "correlationId contains a control character"],
    ["a C1 CSI", "a\x9b31m", "correlationId contains a control character"],
    ["a right-to-left override", "a\u202eb", "correlationId contains a control character"],
    ["a first-strong isolate", "a\u2068b", "correlationId contains a control character"],
    ["a lone surrogate", "a\ud800b", "correlationId contains a lone surrogate"],
  ];
  for (const [name, raw, reason] of bad) {
    await t.step(name, () => {
      assert.deepEqual(withoutCode(parseId(raw, "correlationId")), { ok: false, reason });
    });
  }
});

Deno.test("the parsers give one code for each kind of fault", async (t) => {
  const withValue = (value: string) => `[${value},1,2,3,4,5,6,7,8,9]`;
  const cases: [string, Parsed<unknown>, ReasonCode][] = [
    ["too large", parseScalar(bytes("1".repeat(4097))), "too_large"],
    ["no body", parseScalar(null), "empty_body"],
    ["not UTF-8", parseScalar(new Uint8Array([0xff])), "not_utf8"],
    ["not JSON", parseScalar(bytes("3O2")), "malformed_json"],
    ["an object for a vector", parseFeatureVector(bytes("{}")), "wrong_type"],
    ["text for a number", parseScalar(bytes('"302"')), "wrong_type"],
    ["JSON null for a number", parseScalar(bytes("null")), "wrong_type"],
    ["nine features", parseFeatureVector(bytes(encodeBody(VECTOR.slice(0, 9)))), "wrong_length"],
    ["a feature as text", parseFeatureVector(bytes(withValue('"1"'))), "not_finite"],
    ["a number past the doubles", parseScalar(bytes("1e400")), "not_finite"],
    ["a feature out of range", parseFeatureVector(bytes(withValue("2e6"))), "out_of_range"],
    ["a target out of range", parseScalar(bytes("1e13")), "out_of_range"],
    ["no id", parseId(undefined, "messageId"), "missing_id"],
    ["a long id", parseId("x".repeat(129), "messageId"), "bad_id"],
    ["an id with a control", parseId("a\x85", "messageId"), "bad_id"],
  ];
  for (const [name, result, code] of cases) {
    await t.step(name, () => {
      assert.equal(result.ok, false);
      assert.equal((result as { code: ReasonCode }).code, code);
    });
  }
});

Deno.test("numberHeader() reads a finite number, also from text", async (t) => {
  const cases: [string, Record<string, unknown> | undefined, number | undefined][] = [
    ["a number", { "sent-at-ms": 1717000000123.5 }, 1717000000123.5],
    ["numeric text", { "sent-at-ms": "1717000000123.5" }, 1717000000123.5],
    ["absent", { other: 1 }, undefined],
    ["no headers", undefined, undefined],
    ["NaN", { "sent-at-ms": Number.NaN }, undefined],
    ["Infinity", { "sent-at-ms": Number.POSITIVE_INFINITY }, undefined],
    ["other text", { "sent-at-ms": "soon" }, undefined],
    ["empty text", { "sent-at-ms": "" }, undefined],
    ["blank text", { "sent-at-ms": "  " }, undefined],
    ["a boolean", { "sent-at-ms": true }, undefined],
  ];
  for (const [name, headers, expected] of cases) {
    await t.step(name, () => {
      assert.equal(numberHeader(headers, HEADERS.sentAtMs), expected);
    });
  }
});

Deno.test("textHeader() reads text or gives the fallback", () => {
  assert.equal(textHeader({ replica: "model-1" }, HEADERS.replica), "model-1");
  assert.equal(textHeader({ replica: 7 }, HEADERS.replica), "");
  assert.equal(textHeader(undefined, HEADERS.replica, "unknown"), "unknown");
});

Deno.test("encodeBody() writes compact JSON", () => {
  assert.equal(encodeBody(302), "302");
  assert.equal(encodeBody([1, -0.5, 2e-7]), "[1,-0.5,2e-7]");
});

Deno.test("checkTarget() holds outputs to the range inputs are held to", async (t) => {
  const cases: [number, string | undefined][] = [
    [151.2, undefined],
    [-1e12, undefined],
    [Infinity, "value is not a finite number: Infinity"],
    [-Infinity, "value is not a finite number: -Infinity"],
    [NaN, "value is not a finite number: NaN"],
    [1.0000001e12, "value out of range: 1000000100000, limit ±1000000000000"],
  ];
  for (const [value, reason] of cases) {
    await t.step(String(value), () => {
      assert.deepEqual(
        withoutCode(checkTarget(value)),
        reason ? { ok: false, reason } : { ok: true, value },
      );
    });
  }
});
