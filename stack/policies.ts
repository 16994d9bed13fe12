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
 * have no delivery limit, no length limit and no broker-side dead-lettering
 * (its own dead letters, published with a reason, do not depend on a policy).
 *
 * Every queue is bounded, `dead_letter` included, and a full queue refuses
 * what is published to it (`overflow: reject-publish`: the publisher's
 * confirm is a nack) rather than dropping what it holds: features waits and
 * retries (`stack/publish_until_confirmed.ts`), so a backlog slows the
 * pipeline down instead of losing samples or growing the broker without end.
 * The limits and why: {@link WORK_QUEUE_MAX_LENGTH} and the constants beside
 * it; the broker's memory and disk limits are in
 * `ops/images/rabbitmq/rabbitmq.conf`, and the alerts that fire before each
 * is reached in `ops/images/prometheus/alerts.yml`.
 *
 * @module
 */
import { QUEUES } from "./contracts.ts";
import { DEAD_LETTER_EXCHANGE, topologyDefinitions } from "./topology.ts";

/**
 * Deliveries a work queue allows a message before dead-lettering it with
 * `x-first-death-reason: delivery_limit`. Each reject with requeue, and each
 * consumer that dies or closes its channel while holding the message, counts
 * one. Generous on purpose: a replica restart returns every delivery it held
 * (metric holds up to its prefetch), and those innocent messages count too.
 */
export const DELIVERY_LIMIT = 20;

/**
 * Messages `features` and `y_true` hold at most: about 11 hours of the
 * stack's 5 samples/s with nothing consumed (a night without model or
 * metric), and more than the backlog `deno task e2e` builds on purpose
 * (114,000). When full, features is refused and waits. A quorum queue
 * refuses once it is past its limit, so the publishes already on their way
 * (features' MAX_IN_FLIGHT) may land first: `tests/queue_full_test.ts`.
 */
export const WORK_QUEUE_MAX_LENGTH = 200_000;

/**
 * What `y_pred` holds beyond {@link WORK_QUEUE_MAX_LENGTH}: a prediction
 * exists for every sample `features` accepted, which may run ahead of
 * `y_true` by features' unconfirmed samples (MAX_IN_FLIGHT, at most 10,000)
 * and by what metric holds unpaired (its PREFETCH). With this margin `y_true`
 * is full first and features waits, rather than model's publish being refused
 * (model would hold each refused sample and publish it again, its replicas
 * stalled at the limit: `tests/queue_full_test.ts`).
 */
export const PREDICTIONS_HEADROOM = 20_000;

/**
 * Body bytes each work queue holds at most: 200,000 feature vectors of ~220
 * bytes are 44 MB, so the length binds first in normal use; this bounds a
 * queue filled with large bodies (up to the broker's `max_message_size`).
 */
export const WORK_QUEUE_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Messages `features_shadow` holds at most (it exists only while a candidate consumes it,
 * `stack/topology.ts`): past this, the oldest are dropped. Ten seconds at full speed (1,000
 * samples/s), half an hour at the stack's 5/s: a candidate that falls further behind than this
 * skips samples, which leaves fewer pairs but no bias.
 */
export const SHADOW_COPY_MAX_LENGTH = 10_000;

/**
 * How long a copy waits in `features_shadow`: metric keeps a truth for pairing with a
 * candidate's prediction for its UNPAIRED_TTL_MS (5 min), so an older copy could not be paired.
 */
export const SHADOW_COPY_TTL_MS = 120_000;

/** Dead letters kept at most: far more than a bad deploy makes before someone looks. */
export const DEAD_LETTER_MAX_LENGTH = 100_000;

/** Body bytes of dead letters kept at most (a copy's body is cut to 64 KiB: `dead_letter.ts`). */
export const DEAD_LETTER_MAX_BYTES = 128 * 1024 * 1024;

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

/** Exactly `names`, as a policy pattern. */
function exactly(...names: string[]): string {
  return `^(${names.join("|")})$`;
}

/** The limits of {@link pipelinePolicies}: messages and body bytes per queue. */
export interface QueueLimits {
  readonly workQueueMaxLength: number;
  readonly predictionsMaxLength: number;
  readonly workQueueMaxBytes: number;
  readonly deadLetterMaxLength: number;
  readonly deadLetterMaxBytes: number;
}

/** The pipeline's limits (the constants above). */
export const QUEUE_LIMITS: QueueLimits = {
  workQueueMaxLength: WORK_QUEUE_MAX_LENGTH,
  predictionsMaxLength: WORK_QUEUE_MAX_LENGTH + PREDICTIONS_HEADROOM,
  workQueueMaxBytes: WORK_QUEUE_MAX_BYTES,
  deadLetterMaxLength: DEAD_LETTER_MAX_LENGTH,
  deadLetterMaxBytes: DEAD_LETTER_MAX_BYTES,
};

/** What every work queue's policy says, and its limits. */
function workQueue(maxLength: number, maxBytes: number): Policy["definition"] {
  return {
    "delivery-limit": DELIVERY_LIMIT,
    // A message rejected without requeue, or over its delivery limit, goes to
    // dead_letter rather than vanishing.
    "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
    // Quorum queues keep a dead letter until dead_letter has confirmed it (at-most-once
    // would drop it if dead_letter were unavailable, or full); RabbitMQ requires
    // reject-publish for it. Classic queues ignore the strategy.
    "dead-letter-strategy": "at-least-once",
    // Full: refuse the publish (a nack), never drop the oldest.
    "overflow": "reject-publish",
    "max-length": maxLength,
    "max-length-bytes": maxBytes,
  };
}

/**
 * The policies of the pipeline with `limits` (a test gives small ones to
 * fill a queue quickly). Their patterns are disjoint: each queue has exactly
 * one ({@link policyOf}). In the order RabbitMQ lists them (by name).
 */
export function pipelinePolicies(limits: QueueLimits = QUEUE_LIMITS): Policy[] {
  return [
    {
      name: "ml-dead-letters",
      pattern: exactly(QUEUES.deadLetter),
      "apply-to": "queues",
      priority: 0,
      // No delivery limit and no dead-letter exchange: nowhere further to go. Full, it refuses
      // new dead letters: the services then reject theirs to the broker, and a quorum work
      // queue keeps them (at-least-once) until dead_letter has room.
      definition: {
        "overflow": "reject-publish",
        "max-length": limits.deadLetterMaxLength,
        "max-length-bytes": limits.deadLetterMaxBytes,
      },
    },
    {
      name: "ml-predictions",
      // A candidate's predictions are bounded like the stable ones: full, the candidate's
      // publish is refused and it dead-letters the copy, never the stable sample.
      pattern: exactly(QUEUES.yPred, QUEUES.yPredShadow),
      "apply-to": "queues",
      priority: 0,
      definition: workQueue(limits.predictionsMaxLength, limits.workQueueMaxBytes),
    },
    {
      name: "ml-shadow-copy",
      pattern: exactly(QUEUES.featuresShadow),
      "apply-to": "queues",
      priority: 0,
      // A copy for a measurement, not a sample the pipeline owes anyone: when no candidate
      // keeps up, the oldest copies go (drop-head, and the TTL), and `features` is never refused
      // because of it. No dead-letter exchange: a dropped or expired copy is not a dead letter.
      // No delivery limit either: a classic queue has none, and a candidate that dies on a copy
      // takes the queue with it (auto-delete).
      definition: {
        "overflow": "drop-head",
        "max-length": SHADOW_COPY_MAX_LENGTH,
        "max-length-bytes": WORK_QUEUE_MAX_BYTES,
        "message-ttl": SHADOW_COPY_TTL_MS,
      },
    },
    {
      name: "ml-work-queues",
      pattern: exactly(QUEUES.features, QUEUES.yTrue),
      "apply-to": "queues",
      priority: 0,
      definition: workQueue(limits.workQueueMaxLength, limits.workQueueMaxBytes),
    },
  ];
}

/** The policies of the pipeline; applied per vhost. */
export const POLICIES: readonly Policy[] = pipelinePolicies();

/** The policy RabbitMQ applies to `queue`: the matching one of highest priority. */
export function policyOf(queue: string): Policy | undefined {
  return POLICIES.filter((policy) => new RegExp(policy.pattern).test(queue))
    .sort((a, b) => b.priority - a.priority)[0];
}

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

/**
 * A RabbitMQ definitions file for `vhost`, as `deno fmt` lays it out: the
 * topology with quorum queues (`topologyDefinitions`) and {@link POLICIES}.
 */
export function definitionsJson(vhost = "/"): string {
  const policies = POLICIES.map((policy) => ({ vhost, ...policy }));
  return JSON.stringify({ ...topologyDefinitions(vhost), policies }, null, 2) + "\n";
}
