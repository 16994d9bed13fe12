import assert from "node:assert/strict";
import { reasonLabel } from "../stack/broker.ts";
import { brokerAddress } from "../stack/common_config.ts";
import {
  DEAD_LETTER_HEADERS,
  describeDeadLetter,
  dlqPermissionFlags,
  formatGroups,
  groupDeadLetters,
  parseArgs,
  reasonMatches,
  replayProperties,
} from "./dlq.ts";

const body = (text: string) => new TextEncoder().encode(text);

Deno.test("describeDeadLetter() reads the services' headers, then the broker's", async (t) => {
  await t.step("ours", () => {
    assert.deepEqual(
      describeDeadLetter({ "dead-letter-reason": "empty body", "dead-letter-queue": "features" }),
      { source: "features", reason: "empty body", truncated: false },
    );
  });
  await t.step("the broker's, for a reject without requeue", () => {
    assert.deepEqual(
      describeDeadLetter({ "x-first-death-queue": "y_true", "x-first-death-reason": "rejected" }),
      { source: "y_true", reason: "rejected by the broker", truncated: false },
    );
  });
  await t.step("the broker's, for a quorum queue's delivery limit, explained", () => {
    const info = describeDeadLetter({
      "x-first-death-queue": "features",
      "x-first-death-reason": "delivery_limit",
    });
    assert.equal(info.source, "features");
    assert.match(info.reason, /^delivery_limit by the broker: delivered more times than/);
    assert.equal(reasonLabel(info.reason), "delivery_limit by the broker");
  });
  await t.step("truncated, and nothing known", () => {
    assert.equal(describeDeadLetter({ "dead-letter-truncated": 70000 }).truncated, true);
    assert.deepEqual(describeDeadLetter(undefined), {
      source: "",
      reason: "unknown",
      truncated: false,
    });
  });
});

Deno.test("replayProperties() keeps the ids and strips every dead-letter header", () => {
  const timestamp = new Date(1_700_000_000_000);
  const properties = replayProperties({
    messageId: "s-1",
    correlationId: "s-1",
    timestamp,
    contentType: "application/json",
    deliveryMode: 1,
    headers: {
      "sent-at-ms": 12.5,
      "model-version": "v1",
      "dead-letter-reason": "x",
      "dead-letter-queue": "y_pred",
      "dead-letter-truncated": 9,
      "dead-letter-headers-cut": 3,
      "dead-letter-minimal": "Offset is outside the bounds of the DataView",
      "dead-letter-replica": "metric",
      "x-death": [{ queue: "y_pred" }],
      "x-first-death-queue": "y_pred",
      "x-first-death-reason": "rejected",
      "x-first-death-exchange": "",
    },
  });
  assert.deepEqual(properties, {
    messageId: "s-1",
    correlationId: "s-1",
    timestamp,
    contentType: "application/json",
    deliveryMode: 2,
    headers: { "sent-at-ms": 12.5, "model-version": "v1" },
  });
  assert.ok(DEAD_LETTER_HEADERS.includes("dead-letter-reason"));
});

Deno.test("groupDeadLetters() counts by source and short reason, first message as example", () => {
  const dl = (id: string, queue: string, reason: string, text = "[1]") => ({
    messageId: id,
    headers: { "dead-letter-queue": queue, "dead-letter-reason": reason },
    body: body(text),
  });
  const groups = groupDeadLetters([
    dl("a", "y_pred", "body is not JSON: Unexpected token 'x'", "x"),
    dl("b", "features", "expected 10 features, got 3"),
    dl("c", "y_pred", "body is not JSON: Unexpected end of input"),
    dl("d", "y_pred", "body is not JSON: whatever"),
  ]);
  assert.deepEqual(groups.map((g) => [g.count, g.source, g.reason]), [
    [3, "y_pred", "body is not JSON"],
    [1, "features", "expected 10 features, got 3"],
  ]);
  assert.deepEqual(groups[0].example, {
    id: "a",
    reason: "body is not JSON: Unexpected token 'x'",
    body: "x",
    truncated: false,
  });
  const table = formatGroups(groups, 4);
  assert.match(table, /^dead_letter: 4 messages/);
  assert.match(table, /\n {6}3 {2}y_pred {4}body is not JSON\n/);
  assert.equal(formatGroups([], 0), "dead_letter is empty");
});

Deno.test("groupDeadLetters() shortens a long example body", () => {
  const [group] = groupDeadLetters([{ headers: {}, body: body("9".repeat(500)) }]);
  assert.equal(group.example.body, `${"9".repeat(120)}…`);
  assert.equal(group.source, "");
  assert.equal(group.reason, "unknown");
});

Deno.test("parseArgs() reads the commands and refuses what it does not know", async (t) => {
  await t.step("commands", () => {
    assert.deepEqual(parseArgs(["list"]), { name: "list", json: false });
    assert.deepEqual(parseArgs(["list", "--json"]), { name: "list", json: true });
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

Deno.test("reasonMatches() is a case-insensitive substring test", () => {
  assert.equal(reasonMatches("body is not JSON: x", "not json"), true);
  assert.equal(reasonMatches("body is not JSON: x", "body is"), true);
  assert.equal(reasonMatches("empty body", "JSON"), false);
  assert.equal(reasonMatches("anything", undefined), true);
});

Deno.test("dlqPermissionFlags() grants the broker's address and the broker settings only", () => {
  assert.equal(brokerAddress(new URL("amqp://u:p@rabbitmq/vh")), "rabbitmq:5672");
  assert.equal(brokerAddress(new URL("amqps://broker.example:5999")), "broker.example:5999");
  assert.deepEqual(dlqPermissionFlags(new URL("amqp://localhost:5673/"), ["/run/secrets"]), [
    "--allow-net=localhost:5673",
    "--allow-env=AMQP_URL,AMQP_USER,AMQP_USER_FILE,AMQP_PASSWORD,AMQP_PASSWORD_FILE",
    "--allow-read=/run/secrets",
  ]);
});
