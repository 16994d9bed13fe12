import assert from "node:assert/strict";
import {
  DEAD_LETTER_MAX_BYTES,
  DEAD_LETTER_MAX_LENGTH,
  definitionsJson,
  DELIVERY_LIMIT,
  POLICIES,
  policyBody,
  policyOf,
  PREDICTIONS_HEADROOM,
  setPolicyArgs,
  SHADOW_COPY_MAX_LENGTH,
  SHADOW_COPY_TTL_MS,
  WORK_QUEUE_MAX_BYTES,
  WORK_QUEUE_MAX_LENGTH,
} from "./policies.ts";

Deno.test("POLICIES give the three work queues, and only them, a delivery limit and dead-lettering", () => {
  const limited = (name: string) => policyOf(name)?.definition["delivery-limit"] !== undefined;
  assert.deepEqual(
    ["features", "y_true", "y_pred", "dead_letter", "features2", "x_y_true"].map(limited),
    [true, true, true, false, false, false],
  );
  for (const queue of ["features", "y_true", "y_pred"]) {
    const { definition } = policyOf(queue)!;
    assert.equal(definition["delivery-limit"], DELIVERY_LIMIT);
    assert.equal(definition["dead-letter-exchange"], "dead-letter");
    // RabbitMQ falls back to at-most-once unless overflow is reject-publish.
    assert.equal(definition["dead-letter-strategy"], "at-least-once");
    assert.equal(definition["overflow"], "reject-publish");
  }
  assert.equal(policyOf("dead_letter")?.definition["dead-letter-exchange"], undefined);
});

Deno.test("POLICIES bound every queue, dead_letter included, and refuse rather than drop when full", () => {
  const limits = Object.fromEntries(
    ["features", "y_true", "y_pred", "dead_letter"].map((queue) => {
      const { definition } = policyOf(queue)!;
      assert.equal(definition["overflow"], "reject-publish", queue);
      return [queue, [definition["max-length"], definition["max-length-bytes"]]];
    }),
  );
  assert.deepEqual(limits, {
    features: [WORK_QUEUE_MAX_LENGTH, WORK_QUEUE_MAX_BYTES],
    y_true: [WORK_QUEUE_MAX_LENGTH, WORK_QUEUE_MAX_BYTES],
    y_pred: [WORK_QUEUE_MAX_LENGTH + PREDICTIONS_HEADROOM, WORK_QUEUE_MAX_BYTES],
    dead_letter: [DEAD_LETTER_MAX_LENGTH, DEAD_LETTER_MAX_BYTES],
  });
  // y_pred can run ahead of y_true by features' largest in-flight window and metric's prefetch.
  assert.ok(PREDICTIONS_HEADROOM >= 10_000 + 1_000);
});

Deno.test("POLICIES let features_shadow drop its oldest copies, never dead-letter or refuse them", () => {
  assert.deepEqual(policyOf("features_shadow")?.definition, {
    "overflow": "drop-head",
    "max-length": SHADOW_COPY_MAX_LENGTH,
    "max-length-bytes": WORK_QUEUE_MAX_BYTES,
    "message-ttl": SHADOW_COPY_TTL_MS,
  });
});

Deno.test("POLICIES match each queue with exactly one policy", () => {
  for (
    const queue of [
      "features",
      "y_true",
      "y_pred",
      "y_pred_shadow",
      "features_shadow",
      "dead_letter",
    ]
  ) {
    const matching = POLICIES.filter((policy) => new RegExp(policy.pattern).test(queue));
    assert.deepEqual(matching.map((p) => p.name), [policyOf(queue)!.name], queue);
  }
  assert.equal(new Set(POLICIES.map((p) => p.name)).size, POLICIES.length);
});

Deno.test("setPolicyArgs(), policyBody() and definitionsJson() carry the same policy", () => {
  for (const policy of POLICIES) {
    const args = setPolicyArgs(policy, "v1");
    assert.deepEqual(args.slice(0, 3), ["set_policy", "-p", "v1"]);
    assert.deepEqual(
      {
        "apply-to": args[args.indexOf("--apply-to") + 1],
        priority: Number(args[args.indexOf("--priority") + 1]),
        name: args.at(-3),
        pattern: args.at(-2),
        definition: JSON.parse(args.at(-1)!),
      },
      { ...policy },
    );
    assert.deepEqual({ name: policy.name, ...policyBody(policy) }, { ...policy });
  }
  assert.deepEqual(
    JSON.parse(definitionsJson("v1")).policies,
    POLICIES.map((policy) => ({ vhost: "v1", ...policy })),
  );
});
