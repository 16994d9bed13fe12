import assert from "node:assert/strict";
import {
  definitionsJson,
  DELIVERY_LIMIT,
  POLICIES,
  policyBody,
  setPolicyArgs,
} from "./policies.ts";

Deno.test("POLICIES give the three work queues, and only them, a delivery limit and dead-lettering", () => {
  const [policy] = POLICIES;
  const matches = (name: string) => new RegExp(policy.pattern).test(name);
  assert.deepEqual(
    ["features", "y_true", "y_pred", "dead_letter", "features2", "x_y_true"].map(matches),
    [true, true, true, false, false, false],
  );
  assert.equal(policy.definition["delivery-limit"], DELIVERY_LIMIT);
  assert.equal(policy.definition["dead-letter-exchange"], "dead-letter");
  // RabbitMQ falls back to at-most-once unless overflow is reject-publish.
  assert.equal(policy.definition["dead-letter-strategy"], "at-least-once");
  assert.equal(policy.definition["overflow"], "reject-publish");
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
    JSON.parse(definitionsJson("v1")),
    { policies: POLICIES.map((policy) => ({ vhost: "v1", ...policy })) },
  );
});
