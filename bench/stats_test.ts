import assert from "node:assert/strict";
import {
  amqpServerVersion,
  cpuInfo,
  cpuMsOfStat,
  drainPerSecond,
  finiteMedian,
  formatNumber,
  formatPercent,
  formatSummary,
  machineCpuMs,
  markdownTable,
  memTotalBytes,
  peakRssBytes,
  percentile,
  ratio,
  rssBytes,
  samplesPerSecond,
  slowRuns,
  summarize,
  summarizeFinite,
  tallyRecords,
  verdict,
} from "./stats.ts";
import { parseMetricLog } from "../metric/metric_log/format.ts";

Deno.test("percentile() interpolates between the nearest ranks", async (t) => {
  const values = [5, 1, 4, 2, 3];
  const cases: [number, number][] = [[0, 1], [50, 3], [100, 5], [25, 2], [90, 4.6], [99, 4.96]];
  for (const [p, expected] of cases) {
    await t.step(`p${p} of 1..5 is ${expected}`, () => {
      assert.ok(Math.abs(percentile(values, p) - expected) < 1e-9);
    });
  }
  await t.step("one value is every percentile", () => assert.equal(percentile([7], 99), 7));
  await t.step("no values give NaN", () => assert.ok(Number.isNaN(percentile([], 50))));
  await t.step("p outside 0–100 is an error", () => {
    assert.throws(() => percentile([1], 101), RangeError);
    assert.throws(() => percentile([1], Number.NaN), RangeError);
  });
  await t.step("does not reorder its input", () => {
    const input = [3, 1, 2];
    percentile(input, 50);
    assert.deepEqual(input, [3, 1, 2]);
  });
});

Deno.test("summarize() gives the median, min and max of runs", async (t) => {
  await t.step("odd count", () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] });
  });
  await t.step("even count averages the middle two", () => {
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
  });
  await t.step("no runs", () => assert.ok(Number.isNaN(summarize([]).median)));
});

Deno.test("summarizeFinite() and finiteMedian() pass over the figures older results lack", () => {
  assert.deepEqual(summarizeFinite([3, null, 1, Number.NaN, undefined, 2]).runs, [3, 1, 2]);
  assert.equal(finiteMedian(summarize([1, 2, 3])), 2);
  assert.equal(finiteMedian(summarize([])), undefined);
  assert.equal(
    finiteMedian(JSON.parse('{"median":null,"min":null,"max":null,"runs":[]}')),
    undefined,
  );
  assert.equal(finiteMedian(undefined), undefined);
});

Deno.test("ratio() is NaN for a zero or missing baseline", () => {
  assert.equal(ratio(3, 4), 0.75);
  assert.ok(Number.isNaN(ratio(3, 0)));
  assert.ok(Number.isNaN(ratio(3, Number.NaN)));
});

const CSV = [
  "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at",
  "a,100,90,10,v1,model-1,2.000,2026-01-01T00:00:01.000Z",
  "b,100,95,5,v1,model-2,1.500,2026-01-01T00:00:01.500Z",
  "c,100,110,10,v1,model-1,,2026-01-01T00:00:03.000Z",
  "d,100,1", // torn last line
  "",
].join("\n");

Deno.test("tallyRecords() of parseMetricLog() reads rows, first publish, last pair and latencies", () => {
  const tally = tallyRecords(parseMetricLog(CSV));
  assert.equal(tally.rows, 3);
  assert.deepEqual(tally.latenciesMs, [2, 1.5]);
  assert.equal(tally.firstSentAtMs, Date.parse("2026-01-01T00:00:01.000Z") - 2);
  assert.equal(tally.lastPairedAtMs, Date.parse("2026-01-01T00:00:03.000Z"));
  assert.deepEqual(tally.byReplica, { "model-1": 2, "model-2": 1 });
  assert.ok(Math.abs(samplesPerSecond(tally) - 3 / 2.002) < 1e-9);
});

Deno.test("drainPerSecond() counts from the first pair to the last", () => {
  const tally = tallyRecords(parseMetricLog(CSV));
  assert.equal(tally.firstPairedAtMs, Date.parse("2026-01-01T00:00:01.000Z"));
  assert.equal(drainPerSecond(tally), 1);
});

Deno.test("samplesPerSecond() and drainPerSecond() are NaN without a time span", () => {
  assert.ok(Number.isNaN(samplesPerSecond(tallyRecords(parseMetricLog("")))));
  assert.ok(Number.isNaN(drainPerSecond(tallyRecords(parseMetricLog("")))));
});

Deno.test("slowRuns() groups consecutive slow samples", () => {
  assert.deepEqual(slowRuns([1, 12, 15, 2, 11, 1, 30, 40, 50], 10), {
    slow: 6,
    runs: 3,
    longest: 3,
  });
  assert.deepEqual(slowRuns([], 10), { slow: 0, runs: 0, longest: 0 });
  assert.deepEqual(slowRuns([10, 9], 10), { slow: 0, runs: 0, longest: 0 });
});

Deno.test("/proc parsers", async (t) => {
  await t.step("peakRssBytes() and rssBytes() read VmHWM and VmRSS", () => {
    const status = "Name:\tdeno\nVmHWM:\t   61440 kB\nVmRSS:\t   40960 kB\n";
    assert.equal(peakRssBytes(status), 61440 * 1024);
    assert.equal(rssBytes(status), 40960 * 1024);
    assert.equal(peakRssBytes("Name:\tdeno\n"), undefined);
  });
  await t.step("cpuMsOfStat() adds utime and stime, even with spaces in the name", () => {
    const stat = "42 (deno (worker) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 9 0";
    assert.equal(cpuMsOfStat(stat), 2800);
  });
  await t.step("machineCpuMs() counts busy time, not idle, iowait or steal", () => {
    const stat = "cpu  100 5 50 1000 40 3 2 70 0 0\ncpu0 50 2 25 500 20 1 1 35 0 0\n";
    assert.equal(machineCpuMs(stat), (100 + 5 + 50 + 3 + 2) * 10);
  });
  await t.step("cpuInfo() reads the model and counts processors", () => {
    const text = "processor\t: 0\nmodel name\t: Some CPU @ 2.00GHz\n\nprocessor\t: 1\n" +
      "model name\t: Some CPU @ 2.00GHz\n";
    assert.deepEqual(cpuInfo(text), { model: "Some CPU @ 2.00GHz", cores: 2 });
  });
  await t.step("memTotalBytes() reads MemTotal", () => {
    assert.equal(memTotalBytes("MemTotal:       24683520 kB\nMemFree: 1 kB\n"), 24683520 * 1024);
  });
});

Deno.test("amqpServerVersion() finds the version in a connection.start frame", () => {
  const encoder = new TextEncoder();
  const entry = (key: string, value: string) => {
    const k = encoder.encode(key);
    const v = encoder.encode(value);
    const bytes = new Uint8Array(1 + k.length + 1 + 4 + v.length);
    bytes[0] = k.length;
    bytes.set(k, 1);
    bytes[1 + k.length] = "S".charCodeAt(0);
    new DataView(bytes.buffer).setUint32(2 + k.length, v.length);
    bytes.set(v, 6 + k.length);
    return bytes;
  };
  const parts = [new Uint8Array([1, 0, 0, 0, 0, 1, 0, 10, 10, 0, 9]), entry("product", "RabbitMQ")];
  parts.push(entry("version", "3.10.8"), entry("platform", "Erlang/OTP 25"));
  const frame = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.length;
  }
  assert.equal(amqpServerVersion(frame), "3.10.8");
  assert.equal(amqpServerVersion(frame.subarray(0, frame.length - 30)), undefined);
  assert.equal(amqpServerVersion(new Uint8Array()), undefined);
});

Deno.test("formatting", async (t) => {
  await t.step("formatNumber() groups thousands; NaN is a dash", () => {
    assert.equal(formatNumber(12345.678), "12,346");
    assert.equal(formatNumber(1.5, 2), "1.50");
    assert.equal(formatNumber(Number.NaN), "–");
  });
  await t.step("formatSummary() shows min–max when there were several runs", () => {
    assert.equal(formatSummary(summarize([3000, 2900, 3100])), "3,000 (2,900–3,100)");
    assert.equal(formatSummary(summarize([1.234]), 2, " ms"), "1.23 ms");
  });
  await t.step("formatPercent()", () => {
    assert.equal(formatPercent(0.714), "71%");
    assert.equal(formatPercent(Number.NaN), "–");
  });
  await t.step(
    "verdict() marks a target met or missed, and a figure no target judges with a dash",
    () => {
      assert.equal(verdict(true), "met");
      assert.equal(verdict(false), "**missed**");
      assert.equal(verdict(undefined), "–");
    },
  );
});

Deno.test("markdownTable() renders aligned columns and escapes cells", () => {
  const table = markdownTable(["a", "b"], [["x|y", "1"], ["line\nbreak"]], ["left", "right"]);
  assert.equal(
    table,
    ["| a | b |", "|---|---:|", "| x\\|y | 1 |", "| line break |  |"].join("\n"),
  );
});
