import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { boundedSink, chooseLogFormat, logLinesDropped, prettyFormatter } from "./log.ts";
import { createTelemetry } from "./telemetry.ts";

Deno.test("chooseLogFormat() takes LOG_FORMAT, else pretty on a terminal and JSON elsewhere", async (t) => {
  const cases: [Parameters<typeof chooseLogFormat>[0], boolean, string][] = [
    [undefined, true, "pretty"],
    [undefined, false, "json"],
    ["json", true, "json"],
    ["json", false, "json"],
    ["pretty", true, "pretty"],
    ["pretty", false, "pretty"],
  ];
  for (const [asked, terminal, format] of cases) {
    await t.step(`LOG_FORMAT ${asked ?? "unset"}, terminal ${terminal}: ${format}`, () => {
      assert.equal(chooseLogFormat(asked, terminal), format);
    });
  }
});

// deno-lint-ignore no-control-regex
const ANSI_SGR = /\x1b\[[0-9;]*m/g;

function record(rawMessage: string, properties: Record<string, unknown>): LogRecord {
  // The message parts as LogTape renders them: text, value, text, ...
  const message = rawMessage.split(/\{(\w+)\}/).map((part, i) => i % 2 ? properties[part] : part);
  return {
    category: ["model"],
    level: "info",
    message,
    rawMessage,
    // Local time, as the formatter shows it.
    timestamp: new Date(2026, 0, 2, 14, 2, 7, 120).getTime(),
    properties: { service: "model", replica: "model-4123", ...properties },
  };
}

Deno.test("prettyFormatter() shows time, level, service/replica, the sentence and the id", async (t) => {
  const plain = prettyFormatter({ colors: false });
  await t.step("the id is added when the sentence does not show it", () => {
    assert.equal(
      plain(record("dead-lettered: {reason}", { id: "d32f", reason: "not JSON" })),
      "14:02:07.120 INF model/model-4123: dead-lettered: not JSON (id d32f)\n",
    );
  });
  await t.step("the id is not repeated when the sentence shows it", () => {
    assert.equal(
      plain(record("predicted {prediction} for {id}", { id: "d32f", prediction: 151.2 })),
      "14:02:07.120 INF model/model-4123: predicted 151.2 for d32f\n",
    );
  });
  await t.step("a line without an id has none", () => {
    assert.equal(
      plain(record("waiting for rabbitmq at {host}", { host: "localhost:5672" })),
      "14:02:07.120 INF model/model-4123: waiting for rabbitmq at localhost:5672\n",
    );
  });
  await t.step("colors adds ANSI escapes around the same text", () => {
    const line = prettyFormatter({ colors: true })(record("stopped", { id: "d32f" }));
    assert.ok(line.includes("\x1b["), JSON.stringify(line));
    assert.equal(
      line.replace(ANSI_SGR, ""),
      "14:02:07.120 INF model/model-4123: stopped (id d32f)\n",
    );
  });
});

Deno.test("prettyFormatter() shows values and the id printable", async (t) => {
  const hostile = "\x1b]0;pwned\x07\x1b[31mred\x9b2J\u202e";
  const shown = "\\u{1b}]0;pwned\\u{7}\\u{1b}[31mred\\u{9b}2J\\u{202e}";
  for (const colors of [false, true]) {
    await t.step(colors ? "with colours" : "plain", () => {
      const line = prettyFormatter({ colors })(
        record("dead-lettered: {reason}", { id: hostile, reason: hostile }),
      );
      assert.equal(
        line.replace(ANSI_SGR, ""),
        `14:02:07.120 INF model/model-4123: dead-lettered: ${shown} (id ${shown})\n`,
      );
    });
  }
});

Deno.test("boundedSink() counts the lines it drops and says so", async (t) => {
  const chunks: string[] = [];
  let release!: () => void;
  let gate = new Promise<void>((resolve) => release = resolve);
  const stream = new WritableStream<Uint8Array>({
    async write(chunk) {
      await gate; // a stdout that cannot keep up until released
      chunks.push(new TextDecoder().decode(chunk));
    },
  });
  const line = (n: number) => record(`line ${n}`, {});
  const before = logLinesDropped();
  const sink = boundedSink(stream, {
    formatter: (r) => `${r.level} ${r.message.join("")}\n`,
    bufferSize: 4,
  });
  await t.step("a full buffer drops lines and counts them", async () => {
    sink(line(0)); // taken by the writer at once, which then blocks
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (let i = 1; i <= 10; i++) sink(line(i));
    assert.equal(sink.dropped, 6);
    assert.equal(logLinesDropped() - before, 6);
  });
  await t.step("the next write says how many were dropped", async () => {
    release();
    gate = Promise.resolve();
    await sink[Symbol.asyncDispose]();
    const lines = chunks.join("").trim().split("\n");
    assert.deepEqual(lines, [
      "info line 0",
      "warning dropped 6 log lines: the log sink could not keep up",
      "info line 1",
      "info line 2",
      "info line 3",
      "info line 4",
    ]);
  });
  await t.step("ml_log_lines_dropped_total shows the count on /metrics", async () => {
    const text = await createTelemetry("test", "r").registry.metrics();
    assert.match(
      text,
      new RegExp(`^ml_log_lines_dropped_total\\{[^}]*\\} ${logLinesDropped()}$`, "m"),
    );
  });
});
