import assert from "node:assert/strict";
import { jsonLines, splitLines, waitFor } from "./process.ts";

Deno.test("waitFor() resolves once the check returns true", async () => {
  let calls = 0;
  await waitFor("three calls", () => ++calls === 3, { intervalMs: 1 });
  assert.equal(calls, 3);
});

Deno.test("waitFor() counts a throwing check as not yet", async (t) => {
  await t.step("and resolves when it later passes", async () => {
    let calls = 0;
    await waitFor("a flaky check", () => {
      if (++calls < 3) throw new Error("not listening");
      return true;
    }, { intervalMs: 1 });
    assert.equal(calls, 3);
  });
  await t.step("and quotes its last error when time runs out", async () => {
    await assert.rejects(
      waitFor("a server", () => Promise.reject(new TypeError("connection refused")), {
        timeoutMs: 20,
        intervalMs: 5,
      }),
      {
        message:
          "Timed out after 20 ms waiting for a server; the check last failed with: TypeError: connection refused",
      },
    );
  });
});

Deno.test("waitFor() names what it waited for when time runs out", async () => {
  await assert.rejects(waitFor("40 rows", () => false, { timeoutMs: 10, intervalMs: 5 }), {
    message: "Timed out after 10 ms waiting for 40 rows",
  });
});

Deno.test("jsonLines() parses the JSON object lines and leaves out the rest", () => {
  assert.deepEqual(
    jsonLines(['{"level":"INFO","message":"hi"}', "Warning: text", "", "{torn", "42"]),
    [{ level: "INFO", message: "hi" }],
  );
});

Deno.test("splitLines() returns complete lines without \\r and the unfinished rest", () => {
  assert.deepEqual(splitLines("a\r\nb\nc"), { lines: ["a", "b"], rest: "c" });
  assert.deepEqual(splitLines("a\n"), { lines: ["a"], rest: "" });
  assert.deepEqual(splitLines(""), { lines: [], rest: "" });
});
