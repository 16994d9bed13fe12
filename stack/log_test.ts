import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { chooseLogFormat, prettyFormatter } from "./log.ts";

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
