import assert from "node:assert/strict";
import {
  type OutgoingMessage,
  publishUntilConfirmed,
  type PublishUntilConfirmedOptions,
  retryReason,
} from "./publish_until_confirmed.ts";

const MESSAGE: OutgoingMessage = {
  queue: "y_true",
  body: "151",
  properties: { messageId: "id-1" },
};

/** Ports that fail the first `failures` publishes and record everything. */
function ports(failures: number, giveUp = () => false) {
  const published: OutgoingMessage[] = [];
  const slept: number[] = [];
  const warnings: Record<string, unknown>[] = [];
  let calls = 0;
  const options: PublishUntilConfirmedOptions = {
    publish(message) {
      calls++;
      if (calls <= failures) return Promise.reject(new Error(`nack ${calls}`));
      published.push(message);
      return Promise.resolve();
    },
    sleep(ms) {
      slept.push(ms);
      return Promise.resolve();
    },
    giveUp,
    log: { warn: (_message, properties) => warnings.push(properties) },
    random: () => 0.5, // no jitter
  };
  return { options, published, slept, warnings, calls: () => calls };
}

Deno.test("publishUntilConfirmed() retries until the broker confirms", async (t) => {
  await t.step("a first confirm needs no retry", async () => {
    const p = ports(0);
    await publishUntilConfirmed(MESSAGE, p.options);
    assert.deepEqual(p.published, [MESSAGE]);
    assert.deepEqual(p.slept, []);
    assert.deepEqual(p.warnings, []);
  });

  await t.step("failures back off exponentially from 100 ms, capped at 5 s", async () => {
    const p = ports(9);
    await publishUntilConfirmed(MESSAGE, p.options);
    assert.deepEqual(p.slept, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    assert.equal(p.calls(), 10);
    assert.deepEqual(p.published, [MESSAGE]);
  });

  await t.step("each failure is logged with the id, the queue and the delay", async () => {
    const p = ports(1);
    await publishUntilConfirmed(MESSAGE, p.options);
    assert.deepEqual(p.warnings, [{ id: "id-1", queue: "y_true", error: "nack 1", delay: 100 }]);
  });

  await t.step("the delays take the options", async () => {
    const p = ports(3);
    await publishUntilConfirmed(MESSAGE, { ...p.options, initialDelayMs: 10, maxDelayMs: 30 });
    assert.deepEqual(p.slept, [10, 20, 30]);
  });

  await t.step("jitter is ±20 %", async () => {
    const low = ports(1);
    await publishUntilConfirmed(MESSAGE, { ...low.options, random: () => 0 });
    const high = ports(1);
    await publishUntilConfirmed(MESSAGE, { ...high.options, random: () => 0.999999 });
    assert.deepEqual([...low.slept, ...high.slept], [80, 120]);
  });

  await t.step("giving up rethrows the failure without sleeping", async () => {
    const p = ports(5, () => true);
    await assert.rejects(publishUntilConfirmed(MESSAGE, p.options), /nack 1/);
    assert.equal(p.calls(), 1);
    assert.deepEqual(p.slept, []);
  });

  await t.step("giveUp is asked after each failure", async () => {
    let asked = 0;
    const p = ports(5, () => ++asked === 3);
    await assert.rejects(publishUntilConfirmed(MESSAGE, p.options), /nack 3/);
    assert.deepEqual(p.slept, [100, 200]);
  });

  await t.step("giveUp hears why each attempt failed, and can stop on one kind only", async () => {
    // model's policy: hold on while the broker refuses, rethrow anything else at once.
    const errors = [new Error("Message rejected"), new Error("Connection closed")];
    const heard: string[] = [];
    let calls = 0;
    await assert.rejects(
      publishUntilConfirmed(MESSAGE, {
        publish: () => Promise.reject(errors[calls++]),
        sleep: () => Promise.resolve(),
        giveUp: (reason) => (heard.push(reason), reason === "failed"),
        log: { warn: () => {} },
      }),
      /Connection closed/,
    );
    assert.deepEqual(heard, ["refused", "failed"]);
  });

  await t.step("a message without an id is logged with an empty one", async () => {
    const p = ports(1);
    await publishUntilConfirmed({ ...MESSAGE, properties: {} }, p.options);
    assert.equal(p.warnings[0].id, "");
  });
});

Deno.test("publishUntilConfirmed() tells why each retry happens: a full queue, a blocked broker, a failure", async () => {
  const errors = [
    new Error("Message rejected"),
    new Error("Connection blocked by server: low on memory"),
    new Error("Connection closed"),
  ];
  const reasons: string[] = [];
  let calls = 0;
  await publishUntilConfirmed(MESSAGE, {
    publish: () => calls < errors.length ? Promise.reject(errors[calls++]) : Promise.resolve(),
    sleep: () => Promise.resolve(),
    giveUp: () => false,
    log: { warn: () => {} },
    onRetry: (reason, message) => reasons.push(`${reason} ${message.queue}`),
  });
  assert.deepEqual(reasons, ["refused y_true", "blocked y_true", "failed y_true"]);
  assert.deepEqual(errors.map(retryReason), ["refused", "blocked", "failed"]);
  assert.equal(retryReason("a string"), "failed");
});

Deno.test("publishUntilConfirmed() waits ever longer while a full queue refuses, and never drops the message", async () => {
  // An hour of nacks (a queue kept full): still retrying, at most 5 s apart, then accepted.
  let calls = 0;
  let waited = 0;
  const sleeps: number[] = [];
  await publishUntilConfirmed(MESSAGE, {
    publish: () =>
      waited < 3_600_000
        ? (calls++, Promise.reject(new Error("Message rejected")))
        : Promise.resolve(),
    sleep: (ms) => {
      sleeps.push(ms);
      waited += ms;
      return Promise.resolve();
    },
    giveUp: () => false,
    log: { warn: () => {} },
    random: () => 0.5,
  });
  assert.ok(calls > 700, `${calls} attempts`);
  assert.equal(Math.max(...sleeps), 5_000);
  assert.deepEqual(sleeps.slice(0, 3), [100, 200, 400]);
});
