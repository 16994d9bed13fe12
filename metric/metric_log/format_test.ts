import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_ID_LENGTH, parseId } from "../../stack/contracts.ts";
import { restoreMetricLog } from "./restore.ts";
import {
  carriedInputs,
  CSV_HEADER,
  EARLIER_CSV_HEADERS,
  formatRecord,
  isKnownHeader,
  MAX_LABEL_LENGTH,
  METRIC_LOG_FILE,
  metricLogPath,
  type PairRecord,
  pairRecord,
  parseMetricLog,
  parseRecord,
  type RecordedHalf,
  recordOfPair,
} from "./format.ts";

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

Deno.test("metricLogPath() joins the log directory and the file name", () => {
  assert.equal(metricLogPath("logs"), `logs/${METRIC_LOG_FILE}`);
  assert.equal(metricLogPath("/var/log/ml/"), "/var/log/ml/metric_log.csv");
});

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

/** A row of the diabetes data set (its first), as features sends it. */
const INPUTS = [
  0.0380759064334241,
  0.0506801187398187,
  0.0616962065186885,
  0.0218723549949558,
  -0.0442234984244464,
  -0.0348207628376986,
  -0.0434008456520269,
  -0.00259226199818282,
  0.0199084208763183,
  -0.0176461251598052,
];

Deno.test("formatRecord() writes one CSV line in the header's column order", async (t) => {
  assert.equal(
    CSV_HEADER,
    "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at," +
      "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6",
  );
  await t.step("with the inputs, under the data set's column names", () => {
    assert.equal(
      formatRecord({ ...RECORD, inputs: INPUTS }),
      "3b241101-e2bb-4255-8caf-4136c566a962,151,160.25,9.25,sha256-07e481bfe459c331,model-1,12.345,2026-01-02T03:04:05.678Z," +
        INPUTS.join(","),
    );
  });
  await t.step("without them, ten empty cells", () => {
    assert.equal(
      formatRecord(RECORD),
      "3b241101-e2bb-4255-8caf-4136c566a962,151,160.25,9.25,sha256-07e481bfe459c331,model-1,12.345,2026-01-02T03:04:05.678Z" +
        ",".repeat(10),
    );
  });
});

Deno.test("parseRecord() reads rows of the first format, without inputs", () => {
  assert.deepEqual(EARLIER_CSV_HEADERS, [
    "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at",
  ]);
  assert.deepEqual(
    parseRecord(
      "3b241101-e2bb-4255-8caf-4136c566a962,151,160.25,9.25,sha256-07e481bfe459c331,model-1,12.345,2026-01-02T03:04:05.678Z",
    ),
    RECORD,
  );
});

Deno.test("parseRecord() takes inputs whole or not at all", async (t) => {
  const sample = formatRecord(RECORD).slice(0, -10);
  const cases: [string, string[]][] = [
    ["one input missing", [...INPUTS.slice(0, 9).map(String), ""]],
    ["an input that is not a number", [...INPUTS.slice(0, 9).map(String), "x"]],
    ["an input of Infinity", [...INPUTS.slice(0, 9).map(String), "Infinity"]],
  ];
  for (const [name, cells] of cases) {
    await t.step(`${name}: a damaged line`, () => {
      assert.equal(parseRecord(`${sample},${cells.join(",")}`), undefined);
    });
  }
  await t.step("nine or eleven inputs: a damaged line", () => {
    assert.equal(parseRecord(`${sample},${INPUTS.slice(0, 9).join(",")}`), undefined);
    assert.equal(parseRecord(`${sample},${[...INPUTS, 1].join(",")}`), undefined);
  });
});

Deno.test("isKnownHeader() knows this format's header and the earlier ones", () => {
  assert.ok(isKnownHeader(CSV_HEADER));
  for (const header of EARLIER_CSV_HEADERS) assert.ok(isKnownHeader(header));
  assert.ok(!isKnownHeader(undefined));
  assert.ok(!isKnownHeader(`${CSV_HEADER},extra`));
  assert.ok(!isKnownHeader("id,y_true"));
});

Deno.test("carriedInputs() takes the inputs header only when it holds a valid vector", async (t) => {
  await t.step("a vector as model writes it", () => {
    assert.deepEqual(carriedInputs({ inputs: JSON.stringify(INPUTS) }), INPUTS);
  });
  const refused: [string, unknown][] = [
    ["absent", undefined],
    ["not text", INPUTS],
    ["not JSON", "[0.1,"],
    ["nine numbers", JSON.stringify(INPUTS.slice(0, 9))],
    ["a string inside", JSON.stringify([...INPUTS.slice(0, 9), "1"])],
    ["out of the contract's range", JSON.stringify([...INPUTS.slice(0, 9), 1e7])],
  ];
  for (const [name, value] of refused) {
    await t.step(`${name}: none`, () => {
      assert.equal(carriedInputs(value === undefined ? {} : { inputs: value }), undefined);
    });
  }
  await t.step("no headers at all: none", () => assert.equal(carriedInputs(undefined), undefined));
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
    ["formula-leading ids", { ...RECORD, id: "=HYPERLINK(1)" }],
    ["a quote-leading id", { ...RECORD, id: "'=1" }],
    ["a negative y_true", { ...RECORD, yTrue: -5, absoluteError: 165.25 }],
    ["-0", { ...RECORD, yTrue: -0, absoluteError: 160.25 }],
    ["an empty replica", { ...RECORD, replica: "" }],
    ["a latency of zero", { ...RECORD, latencyMs: 0 }],
    ["with inputs", { ...RECORD, inputs: INPUTS }],
    ["inputs of -0 and extremes", {
      ...RECORD,
      inputs: [-0, 1e6, -1e6, Number.MIN_VALUE, 0, 0, 0, 0, 0, 0.1],
    }],
  ];
  for (const [name, record] of cases) {
    await t.step(name, () => {
      assert.deepEqual(parseRecord(formatRecord(record)), record);
    });
  }
  await t.step("a missing latency stays NaN", () => {
    const line = formatRecord({ ...RECORD, latencyMs: Number.NaN });
    assert.ok(line.endsWith(",model-1,,2026-01-02T03:04:05.678Z" + ",".repeat(10)));
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
    ["two\nlines", "two\\u{a}lines"],
    ["\x1b]0;t\x07\x9b1m\u202e", "\\u{1b}]0;t\\u{7}\\u{9b}1m\\u{202e}"],
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

Deno.test("formatRecord() neutralises formula cells the OWASP way", async (t) => {
  for (const start of ["=", "+", "-", "@", "'"]) {
    await t.step(`an id starting with ${start}`, () => {
      const id = `${start}cmd|' /C calc'!A0`;
      const line = formatRecord({ ...RECORD, id });
      assert.ok(line.startsWith(`"'${id.replaceAll('"', '""')}",151,`), line);
      assert.equal(parseRecord(line)?.id, id);
    });
  }
  await t.step("version and replica too; negative numbers stay bare numbers", () => {
    const line = formatRecord({ ...RECORD, yTrue: -3, modelVersion: "@SUM(1)", replica: "+1" });
    assert.equal(line.split(",").slice(1, 2)[0], "-3");
    assert.ok(line.includes(`,"'@SUM(1)","'+1",`), line);
  });
  await t.step("tab and CR can lead no cell: a header's become U+FFFD", () => {
    const line = formatRecord({ ...RECORD, modelVersion: "\t=1", replica: "\r=1" });
    assert.ok(line.includes(",\uFFFD=1,\uFFFD=1,"), line);
  });
});

Deno.test("no header value can split a row", async (t) => {
  const half = (value: number, headers: Record<string, unknown>): RecordedHalf => ({
    id: "a",
    value,
    token: { properties: { headers } },
  });
  await t.step("recordOfPair() replaces control characters in version and replica", () => {
    const record = recordOfPair(
      half(151, {}),
      half(160, { "model-version": "v1\nforged,row", replica: "r\r\n1\x00" }),
      PAIRED_AT,
    );
    assert.equal(record.modelVersion, "v1\uFFFDforged,row");
    assert.equal(record.replica, "r\uFFFD\uFFFD1\uFFFD");
    const terminal = recordOfPair(
      half(151, {}),
      half(160, { "model-version": "v\x1b[31m\x9b", replica: "r\u202e1\u2066" }),
      PAIRED_AT,
    );
    assert.equal(terminal.modelVersion, "v\uFFFD[31m\uFFFD");
    assert.equal(terminal.replica, "r\uFFFD1\uFFFD");
    assert.equal(formatRecord(record).split("\n").length, 1);
  });
  await t.step("and cuts them to MAX_LABEL_LENGTH", () => {
    const record = recordOfPair(half(1, {}), half(2, { replica: "r".repeat(5000) }), 0);
    assert.equal(record.replica.length, MAX_LABEL_LENGTH);
  });
  await t.step("formatRecord() keeps any record on one line, whoever built it", () => {
    const line = formatRecord({ ...RECORD, id: "a\nb", modelVersion: "\r\n", replica: "\u2028" });
    assert.equal(line.split(/\r|\n/).length, 1);
  });
});

Deno.test("parseMetricLog() reads the rows of a file's text, leaving out header and damage", () => {
  const other = { ...RECORD, id: "b", yPred: 140, absoluteError: 11 };
  const text = [CSV_HEADER, formatRecord(RECORD), "not,a,row", "", formatRecord(other), ""]
    .join("\n");
  assert.deepEqual(parseMetricLog(text), [RECORD, other]);
  assert.deepEqual(parseMetricLog(""), []);
});

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
/** Ids as parseId accepts them: any UTF-16 code units but controls, 1..128 long. */
const anyId = fc.string({ unit: codeUnit, minLength: 1, maxLength: MAX_ID_LENGTH })
  .filter((id) => parseId(id, "messageId").ok);
/** Targets at the edges of the accepted range, and anything between. */
const target = fc.oneof(
  fc.constantFrom(0, -0, 1e12, -1e12, Number.MIN_VALUE, -Number.MIN_VALUE, 2.2250738585072014e-308),
  fc.double({ min: -1e12, max: 1e12, noNaN: true }),
  fc.integer({ min: -1e6, max: 1e6 }),
);
const anyHeader = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.string({ unit: codeUnit, maxLength: 40 }),
  fc.constantFrom("=1+1", "-", "'", "\t=x", "\r\n", '"', ","),
  fc.anything(),
);
const anyRecord = fc.record({
  id: anyId,
  yTrue: target,
  yPred: target,
  version: fc.option(anyHeader, { nil: undefined }),
  replica: fc.option(anyHeader, { nil: undefined }),
  sentAtMs: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true }), { nil: undefined }),
  pairedAtMs: fc.integer({ min: 0, max: 4102444800000 }),
  inputs: fc.option(
    fc.oneof(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 10, maxLength: 10 })
        .map((x) => JSON.stringify(x)),
      anyHeader,
    ),
    { nil: undefined },
  ),
}).map((r) => {
  const headers: Record<string, unknown> = {};
  if (r.inputs !== undefined) headers.inputs = r.inputs;
  if (r.version !== undefined) headers["model-version"] = r.version;
  if (r.replica !== undefined) headers.replica = r.replica;
  const truth = { id: r.id, value: r.yTrue, token: { properties: { headers: {} } } };
  const prediction = {
    id: r.id,
    value: r.yPred,
    token: { properties: { headers: { ...headers, "sent-at-ms": r.sentAtMs } } },
  };
  return recordOfPair(truth, prediction, r.pairedAtMs);
});

/** What parseRecord gives back: the latency is written to the microsecond. */
function asWritten(record: PairRecord): PairRecord {
  return Number.isNaN(record.latencyMs)
    ? record
    : { ...record, latencyMs: Number(record.latencyMs.toFixed(3)) };
}

Deno.test("formatRecord() → parseRecord() is the identity, on one line (property)", () => {
  fc.assert(
    fc.property(anyRecord, (record) => {
      const line = formatRecord(record);
      assert.equal(line.split(/[\n\r]/).length, 1, JSON.stringify(line));
      assert.deepEqual(parseRecord(line), asWritten(record));
    }),
    { numRuns: 2000, seed: 9 },
  );
});

Deno.test("restoreMetricLog() reads back every row formatRecord() wrote (property)", async () => {
  const path = await Deno.makeTempFile({ dir: "/tmp", suffix: ".csv" });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(anyRecord, { maxLength: 20 }), async (records) => {
        // The file is UTF-8: an id read from AMQP is always well-formed.
        const written = records.map((r) => ({ ...r, id: r.id.toWellFormed() }));
        const text = [CSV_HEADER, ...written.map(formatRecord)].map((l) => `${l}\n`).join("");
        await Deno.writeTextFile(path, text);
        const read: PairRecord[] = [];
        const restored = await restoreMetricLog(path, (r) => read.push(r));
        assert.equal(restored.skipped, 0);
        assert.equal(restored.truncatedBytes, 0);
        assert.deepEqual(read, written.map(asWritten));
      }),
      { numRuns: 200, seed: 9 },
    );
  } finally {
    await Deno.remove(path);
  }
});
