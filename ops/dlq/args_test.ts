import assert from "node:assert/strict";
import { parseArgs, reasonMatches } from "./args.ts";

Deno.test("parseArgs() reads the commands and refuses what it does not know", async (t) => {
  await t.step("commands", () => {
    assert.deepEqual(parseArgs(["list"]), { name: "list", json: false, each: false });
    assert.deepEqual(parseArgs(["list", "--json"]), { name: "list", json: true, each: false });
    assert.deepEqual(parseArgs(["list", "--each"]), { name: "list", json: false, each: true });
    assert.deepEqual(parseArgs(["replay"]), {
      name: "replay",
      reason: undefined,
      limit: Infinity,
      rate: Infinity,
    });
    assert.deepEqual(parseArgs(["replay", "--reason", "not JSON", "--limit=5", "--rate", "50"]), {
      name: "replay",
      reason: "not JSON",
      limit: 5,
      rate: 50,
    });
    assert.deepEqual(parseArgs(["purge"]), { name: "purge", yes: false });
    assert.deepEqual(parseArgs(["purge", "--yes"]), { name: "purge", yes: true });
    assert.deepEqual(parseArgs([]), { name: "help" });
  });
  await t.step("mistakes", () => {
    assert.throws(() => parseArgs(["drop"]), /Cannot run 'drop' as it is not a command/);
    assert.throws(() => parseArgs(["purge", "--force"]), /Cannot run 'purge' with '--force'/);
    assert.throws(() => parseArgs(["replay", "--limit", "0"]), /current value is "0"/);
    assert.throws(() => parseArgs(["replay", "--limit", "ten"]), RangeError);
    assert.throws(() => parseArgs(["replay", "--reason"]), /--reason as it needs a value/);
    assert.throws(() => parseArgs(["list", "extra"]), /'extra' is not an option/);
  });
});

Deno.test("reasonMatches() takes the code, or a case-insensitive substring of the detail", () => {
  assert.equal(reasonMatches("malformed_json", "body is not JSON: x", "malformed_json"), true);
  assert.equal(reasonMatches("malformed_json", "body is not JSON: x", "not json"), true);
  assert.equal(reasonMatches("malformed_json", "body is not JSON: x", "body is"), true);
  assert.equal(reasonMatches("empty_body", "empty body", "JSON"), false);
  assert.equal(reasonMatches("empty_body", "empty body", "empty_bod"), false);
  assert.equal(reasonMatches("unknown", "anything", undefined), true);
});
