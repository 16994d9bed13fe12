import assert from "node:assert/strict";
import {
  CSV_HEADER,
  formatRecord,
  type PairRecord,
  pairRecord,
  parseRecord,
  type RecordedHalf,
  recordOfPair,
} from "./record.ts";

const PAIRED_AT = Date.parse("2026-01-02T03:04:05.678Z");
const RECORD: PairRecord = {
  id: "3b241101-e2bb-4255-8caf-4136c566a962",
  yTrue: 151,
  yPred: 160.25,
  absoluteError: 9.25,
  modelVersion: "sha256-07e481bfe459c331",
  replica: "model-1",
  latencyMs: 12.345,
  pairedAtMs: PAIRED_AT,
};

Deno.test("pairRecord() computes the absolute error and the latency", async (t) => {
  await t.step("with a send time", () => {
    assert.deepEqual(
      pairRecord({
        id: "a",
        yTrue: 151,
        yPred: 160.25,
        modelVersion: "v",
        replica: "r",
        pairedAtMs: 1000.5,
        sentAtMs: 990.25,
      }),
      {
        id: "a",
        yTrue: 151,
        yPred: 160.25,
        absoluteError: 9.25,
        modelVersion: "v",
        replica: "r",
        latencyMs: 10.25,
        pairedAtMs: 1000.5,
      },
    );
  });
  await t.step("a prediction below the truth still gives a positive error", () => {
    const record = pairRecord({
      id: "a",
      yTrue: 200,
      yPred: 150.5,
      modelVersion: "v",
      replica: "r",
      pairedAtMs: 0,
    });
    assert.equal(record.absoluteError, 49.5);
  });
  await t.step("without a send time the latency is NaN", () => {
    const record = pairRecord({
      id: "a",
      yTrue: 1,
      yPred: 1,
      modelVersion: "v",
      replica: "r",
      pairedAtMs: 5,
    });
    assert.ok(Number.isNaN(record.latencyMs));
    assert.equal(record.absoluteError, 0);
    assert.equal("sentAtMs" in record, false);
  });
});

Deno.test("recordOfPair() reads version, replica and send time from the headers", async (t) => {
  const half = (value: number, headers?: Record<string, unknown>): RecordedHalf => ({
    id: "a",
    value,
    token: { properties: headers === undefined ? {} : { headers } },
  });
  const predicted = { "model-version": "sha256-1", replica: "model-2", "sent-at-ms": 900 };
  const cases: [string, RecordedHalf, RecordedHalf, Partial<PairRecord>][] = [
    [
      "all headers present: the truth's send time",
      half(151, { "sent-at-ms": 990 }),
      half(160, predicted),
      {
        modelVersion: "sha256-1",
        replica: "model-2",
        latencyMs: 10,
      },
    ],
    [
      "no send time on the truth: the prediction's copy",
      half(151, { replica: "features-1" }),
      half(160, predicted),
      {
        latencyMs: 100,
      },
    ],
    ["a send time as text still counts", half(151, { "sent-at-ms": "995" }), half(160), {
      latencyMs: 5,
    }],
    ["no headers anywhere: unknown, and no latency", half(151), half(160), {
      modelVersion: "unknown",
      replica: "unknown",
      latencyMs: Number.NaN,
    }],
    ["the truth's replica is not the model's", half(151, { replica: "features-1" }), half(160), {
      replica: "unknown",
    }],
    ["a version that is not text: unknown", half(151), half(160, { "model-version": 7 }), {
      modelVersion: "unknown",
    }],
  ];
  for (const [name, truth, prediction, expected] of cases) {
    await t.step(name, () => {
      const record = recordOfPair(truth, prediction, 1000);
      assert.deepEqual(
        { ...record, ...expected },
        record,
        `expected ${JSON.stringify(expected)} in ${JSON.stringify(record)}`,
      );
      assert.equal(record.id, "a");
      assert.equal(record.yTrue, 151);
      assert.equal(record.yPred, 160);
      assert.equal(record.absoluteError, 9);
      assert.equal(record.pairedAtMs, 1000);
    });
  }
});

Deno.test("formatRecord() writes one CSV line in the header's column order", () => {
  assert.equal(
    CSV_HEADER,
    "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at",
  );
  assert.equal(
    formatRecord(RECORD),
    "3b241101-e2bb-4255-8caf-4136c566a962,151,160.25,9.25,sha256-07e481bfe459c331,model-1,12.345,2026-01-02T03:04:05.678Z",
  );
});

Deno.test("formatRecord() and parseRecord() round-trip", async (t) => {
  const cases: [string, PairRecord][] = [
    ["a plain record", RECORD],
    ["full-precision numbers", {
      ...RECORD,
      yTrue: 57,
      yPred: 143.51396437233437,
      absoluteError: 86.51396437233437,
    }],
    ["negative and tiny numbers", { ...RECORD, yPred: -1.5e-7, absoluteError: 151.00000015 }],
    ["a comma in the id", { ...RECORD, id: "a,b" }],
    ["quotes in the id", { ...RECORD, id: 'say "hi"' }],
    ["a newline in the replica", { ...RECORD, replica: "line\nbreak" }],
    ["a carriage return in the version", { ...RECORD, modelVersion: "v\r1" }],
    ["an empty replica", { ...RECORD, replica: "" }],
    ["a latency of zero", { ...RECORD, latencyMs: 0 }],
  ];
  for (const [name, record] of cases) {
    await t.step(name, () => {
      assert.deepEqual(parseRecord(formatRecord(record)), record);
    });
  }
  await t.step("a missing latency stays NaN", () => {
    const line = formatRecord({ ...RECORD, latencyMs: Number.NaN });
    assert.ok(line.endsWith(",model-1,,2026-01-02T03:04:05.678Z"));
    const parsed = parseRecord(line)!;
    assert.ok(Number.isNaN(parsed.latencyMs));
    assert.deepEqual({ ...parsed, latencyMs: 0 }, { ...RECORD, latencyMs: 0 });
  });
  await t.step("the latency is kept to the microsecond", () => {
    const line = formatRecord({ ...RECORD, latencyMs: 1.23456789 });
    assert.equal(parseRecord(line)!.latencyMs, 1.235);
  });
  await t.step("the paired time is kept to the millisecond", () => {
    const line = formatRecord({ ...RECORD, pairedAtMs: PAIRED_AT + 0.75 });
    assert.equal(parseRecord(line)!.pairedAtMs, PAIRED_AT);
  });
});

Deno.test("formatRecord() quotes only cells that need it", async (t) => {
  const cases: [string, string][] = [
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["plain-id_1.2:3", "plain-id_1.2:3"],
  ];
  for (const [id, cell] of cases) {
    await t.step(JSON.stringify(id), () => {
      assert.ok(formatRecord({ ...RECORD, id }).startsWith(`${cell},151,`));
    });
  }
});

Deno.test("parseRecord() gives undefined for the header and damaged lines", async (t) => {
  const good = formatRecord(RECORD);
  const cases: [string, string][] = [
    ["the header", CSV_HEADER],
    ["an empty line", ""],
    ["a line torn in the middle", good.slice(0, 40)],
    ["one cell too many", `${good},extra`],
    ["one cell too few", good.split(",").slice(1).join(",")],
    ["an empty id", good.replace(RECORD.id, "")],
    ["y_true not a number", good.replace(",151,", ",abc,")],
    ["y_pred empty", good.replace(",160.25,", ",,")],
    ["y_true blank", good.replace(",151,", ", ,")],
    ["absolute_error empty", good.replace(",9.25,", ",,")],
    ["absolute_error Infinity", good.replace(",9.25,", ",Infinity,")],
    ["a date that is not one", good.replace("2026-01-02T03:04:05.678Z", "yesterday")],
    ["an unterminated quote", `"${good}`],
    ["NUL bytes from a crash", "\0".repeat(80)],
  ];
  for (const [name, line] of cases) {
    await t.step(name, () => {
      assert.equal(parseRecord(line), undefined);
    });
  }
});
