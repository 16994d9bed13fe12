/**
 * The broker policies of the pipeline, in one place. Everything about a work
 * queue that RabbitMQ lets a policy set lives here rather than in the queue's
 * declare arguments, so a limit can change on a running broker without
 * deleting a queue; only the queue type (`x-queue-type`, which no policy can
 * set) is a declare argument (`stack/topology.ts`).
 *
 * Three paths apply these same objects, and `policies_test.ts` and
 * `tests/policies_test.ts` check that they cannot drift apart:
 * - the Swarm broker image imports `ops/images/rabbitmq/definitions.json`
 *   (written by {@link definitionsJson}; `deno task definitions`) once it is up;
 * - `startLocalBroker` (tests, bench, `deno task start`) runs `rabbitmqctl
 *   set_policy` with {@link setPolicyArgs};
 * - an external broker gets them through the management API
 *   (`ManagementApi.putPolicy`, body {@link policyBody}).
 *
 * A service does not need them to start: without a policy its queues simply
 * have no delivery limit and no broker-side dead-lettering (its own dead
 * letters, published with a reason, do not depend on a policy).
 *
 * @module
 */
import { QUEUES } from "./contracts.ts";
import { DEAD_LETTER_EXCHANGE } from "./topology.ts";

/**
 * Deliveries a work queue allows a message before dead-lettering it with
 * `x-first-death-reason: delivery_limit`. Each reject with requeue, and each
 * consumer that dies or closes its channel while holding the message, counts
 * one. Generous on purpose: a replica restart returns every delivery it held
 * (metric holds up to its prefetch), and those innocent messages count too.
 */
export const DELIVERY_LIMIT = 20;

/** A RabbitMQ policy, in the shape of a definitions file's `policies` entries. */
export interface Policy {
  readonly name: string;
  /** Regular expression over queue names. */
  readonly pattern: string;
  readonly "apply-to": "queues" | "exchanges" | "all";
  /** Of the policies matching a queue, only the highest-priority one applies. */
  readonly priority: number;
  readonly definition: Readonly<Record<string, string | number>>;
}

/** The work queues, by exact name; `dead_letter` is left out (no limit on what is kept there). */
const WORK_QUEUE_PATTERN = `^(${[QUEUES.features, QUEUES.yTrue, QUEUES.yPred].join("|")})$`;

/** The policies of the pipeline; applied per vhost. */
export const POLICIES: readonly Policy[] = [
  {
    name: "ml-work-queues",
    pattern: WORK_QUEUE_PATTERN,
    "apply-to": "queues",
    priority: 0,
    definition: {
      "delivery-limit": DELIVERY_LIMIT,
      // A message rejected without requeue, or over its delivery limit, goes to
      // dead_letter rather than vanishing.
      "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
      // Quorum queues keep a dead letter until dead_letter has confirmed it (at-most-once
      // would drop it if dead_letter were unavailable); RabbitMQ requires reject-publish for
      // it, which only matters once a length limit is set. Classic queues ignore both keys.
      "dead-letter-strategy": "at-least-once",
      "overflow": "reject-publish",
    },
  },
];

/** The `rabbitmqctl` arguments that set `policy` in `vhost`. */
export function setPolicyArgs(policy: Policy, vhost: string): string[] {
  return [
    "set_policy",
    "-p",
    vhost,
    "--apply-to",
    policy["apply-to"],
    "--priority",
    String(policy.priority),
    policy.name,
    policy.pattern,
    JSON.stringify(policy.definition),
  ];
}

/** The body of the management API's `PUT /api/policies/{vhost}/{name}`. */
export function policyBody(policy: Policy): Omit<Policy, "name"> {
  const { name: _, ...body } = policy;
  return body;
}

/** A RabbitMQ definitions file holding {@link POLICIES} for `vhost`, as `deno fmt` lays it out. */
export function definitionsJson(vhost = "/"): string {
  const policies = POLICIES.map((policy) => ({ vhost, ...policy }));
  return JSON.stringify({ policies }, null, 2) + "\n";
}
