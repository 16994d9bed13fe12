/**
 * Who may do what on the broker: one RabbitMQ user per service and one for
 * operators, each with only the permissions its work needs. The Swarm
 * broker's entrypoint creates them from Docker secrets on every start
 * (`ops/images/rabbitmq/users.tsv`, written from {@link BROKER_ROLES} by
 * `deno task definitions`); the administrator from `rabbitmq_user` is kept
 * for bootstrap and tests only.
 *
 * RabbitMQ grants three rights per resource name, each a regular expression
 * over queue *and* exchange names: configure (declare, delete), write
 * (publish to an exchange, bind a queue) and read (consume, get, purge,
 * bind from an exchange). Two consequences shape the topology:
 * - Publishing checks the exchange only, and the default exchange reaches
 *   every queue, so whoever may write to it may write to any queue. Each
 *   work queue is therefore published through an exchange of its own
 *   ({@link publishExchange}), and no role may write to the default one.
 * - Declaring a queue needs configure, which also allows deleting it, so no
 *   service may configure the pipeline's queues: the broker's definitions
 *   declare the topology, and a service whose declare is refused only checks
 *   that it exists (`stack/topology.ts`, `ensureTopology`). The one
 *   exception is `features_shadow`, which a candidate declares as an
 *   auto-delete queue so that the broker ends the copy when the candidate
 *   goes (`SHADOW_COPY`): model may configure that one name.
 *
 * Read also allows purge: a consumer may empty the queues it consumes, which
 * it could do by consuming anyway.
 *
 * @module
 */
import { QUEUES } from "./contracts.ts";
import { DEAD_LETTER_EXCHANGE, PUBLISH_EXCHANGES, publishExchange } from "./topology.ts";

/** A broker user and what it may do in the pipeline's vhost. */
export interface BrokerRole {
  /** User name; its password is the Docker secret `broker_<user>_password`. */
  readonly user: string;
  /** RabbitMQ user tags: `management` lets a user log in to the management UI. */
  readonly tags: readonly string[];
  /** Regular expressions over queue and exchange names. */
  readonly configure: string;
  readonly write: string;
  readonly read: string;
  /** Why it needs what it has, for the docs. */
  readonly why: string;
}

/** A pattern matching exactly `names` (dots escaped). */
function only(...names: string[]): string {
  return `^(${names.map((name) => name.replaceAll(".", "\\.")).join("|")})$`;
}

/** Matches no name a client can use (the empty name is the default exchange's, in AMQP only). */
export const NOTHING = "^$";

/** The pipeline's broker users. */
export const BROKER_ROLES: readonly BrokerRole[] = [
  {
    user: "features",
    tags: [],
    configure: NOTHING,
    write: only(publishExchange(QUEUES.features), publishExchange(QUEUES.yTrue)),
    read: NOTHING,
    why: "publishes samples and their truth; reads nothing",
  },
  {
    user: "model",
    tags: [],
    // A candidate in shadow runs as model too: it declares features_shadow (configure, which
    // also lets it delete that queue of copies, and nothing else), binds it to features'
    // exchange (write on the queue, read on the exchange: `SHADOW_COPY`), consumes it and
    // publishes to y_pred_shadow. Binding is all those write and read rights allow.
    configure: only(QUEUES.featuresShadow),
    write: only(
      publishExchange(QUEUES.yPred),
      publishExchange(QUEUES.yPredShadow),
      QUEUES.featuresShadow,
      DEAD_LETTER_EXCHANGE,
    ),
    read: only(QUEUES.features, QUEUES.featuresShadow, publishExchange(QUEUES.features)),
    why:
      "consumes features, publishes predictions and its dead letters; as a candidate, the same on the shadow queues",
  },
  {
    user: "metric",
    tags: [],
    configure: NOTHING,
    write: only(DEAD_LETTER_EXCHANGE),
    read: only(QUEUES.yTrue, QUEUES.yPred, QUEUES.yPredShadow),
    why: "consumes truth and predictions (a candidate's too), publishes its dead letters",
  },
  {
    user: "operator",
    tags: ["management"],
    configure: NOTHING,
    write: only(...PUBLISH_EXCHANGES),
    read: only(QUEUES.deadLetter),
    why: "`deno task dlq` (reads dead letters, replays them to their queue) and the management UI",
  },
];

/** The role named `user`; throws a RangeError naming the known ones. */
export function brokerRole(user: string): BrokerRole {
  const role = BROKER_ROLES.find((candidate) => candidate.user === user);
  if (!role) {
    const known = BROKER_ROLES.map((candidate) => candidate.user).join(", ");
    throw new RangeError(`Cannot find broker role '${user}': known roles are ${known}`);
  }
  return role;
}

/** The Docker secret holding `role`'s password. */
export function passwordSecret(role: BrokerRole): string {
  return `broker_${role.user}_password`;
}

/** The `rabbitmqctl` arguments that set `role`'s permissions in `vhost`. */
export function setPermissionsArgs(role: BrokerRole, vhost: string): string[] {
  return ["set_permissions", "-p", vhost, role.user, role.configure, role.write, role.read];
}

/** The `rabbitmqctl` arguments that set `role`'s tags (none clears them). */
export function setUserTagsArgs(role: BrokerRole): string[] {
  return ["set_user_tags", role.user, ...role.tags];
}

/**
 * The broker image's `users.tsv`: a line per role, `user tags configure
 * write read` separated by tabs, tags comma-separated or `-`. The
 * entrypoint reads it with `read`, so no field may hold a tab or a newline.
 */
export function usersTsv(roles: readonly BrokerRole[] = BROKER_ROLES): string {
  const lines = roles.map((role) => {
    const fields = [
      role.user,
      role.tags.length === 0 ? "-" : role.tags.join(","),
      role.configure,
      role.write,
      role.read,
    ];
    for (const field of fields) {
      if (/[\t\n\r ]/.test(field)) {
        throw new RangeError(`Cannot write role '${role.user}': field '${field}' holds whitespace`);
      }
    }
    return fields.join("\t");
  });
  return [
    "# Written by `deno task definitions` from stack/broker_roles.ts: do not edit.",
    "# user\ttags\tconfigure\twrite\tread",
    ...lines,
  ].join("\n") + "\n";
}
