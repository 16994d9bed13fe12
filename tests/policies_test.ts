/**
 * The broker image's entrypoint on a real RabbitMQ node:
 * - the three ways the pipeline's policies reach a broker give the same
 *   policies, read back: the entrypoint (its `definitions.json`, imported
 *   once the node is up), `startLocalBroker` (`rabbitmqctl set_policy`) and
 *   the management API (external brokers);
 * - it creates the pipeline's broker users from their secrets
 *   (`users.tsv`, `stack/broker_roles.ts`), and each is refused what its
 *   service must not do, over AMQP.
 */
import assert from "node:assert/strict";
import { ManagementApi } from "../ops/kit/management.ts";
import { DEFINITIONS_PATH } from "../ops/definitions.ts";
import { nodeCtl, prepareLocalNode } from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";
import { POLICIES, setPolicyArgs } from "../stack/policies.ts";
import { connectClient } from "../stack/amqp_client.ts";
import { BROKER_ROLES, passwordSecret } from "../stack/broker_roles.ts";
import { QUEUES } from "../stack/contracts.ts";
import {
  DEAD_LETTER_EXCHANGE,
  ensureTopology,
  openShadowCopy,
  publishExchange,
} from "../stack/topology.ts";
import { USERS_PATH } from "../ops/definitions.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const ENTRYPOINT = new URL("../ops/images/rabbitmq/docker-entrypoint.sh", import.meta.url)
  .pathname;

type Channel = Awaited<ReturnType<Awaited<ReturnType<typeof connectClient>>["channel"]>>;

/** One AMQP action a user tries, on a confirm channel of its own. */
type Attempt = [what: string, action: (channel: Channel) => Promise<unknown>];

const body = new TextEncoder().encode("{}");
const publishTo = (exchange: string, key = ""): Attempt[1] => (channel) =>
  channel.basicPublish(exchange, key, body, { deliveryMode: 2 });
const get = (queue: string): Attempt[1] => (channel) => channel.basicGet(queue, { noAck: false });
const remove = (queue: string): Attempt[1] => (channel) => channel.queueDelete(queue);

/** What each service's user may do, and what it must be refused. */
const ALLOWED: Record<string, Attempt[]> = {
  features: [
    ["publish to features", publishTo(publishExchange(QUEUES.features))],
    ["publish to y_true", publishTo(publishExchange(QUEUES.yTrue))],
  ],
  model: [
    ["read features", get(QUEUES.features)],
    ["publish to y_pred", publishTo(publishExchange(QUEUES.yPred))],
    ["dead-letter", publishTo(DEAD_LETTER_EXCHANGE, QUEUES.features)],
    // As a candidate in shadow: open the copy, read it, publish its predictions; its own
    // queue of copies is the one it may delete.
    ["open the shadow copy", openShadowCopy],
    ["read features_shadow", get(QUEUES.featuresShadow)],
    ["publish to y_pred_shadow", publishTo(publishExchange(QUEUES.yPredShadow))],
    ["delete features_shadow", remove(QUEUES.featuresShadow)],
  ],
  metric: [
    ["read y_true", get(QUEUES.yTrue)],
    ["read y_pred", get(QUEUES.yPred)],
    ["read y_pred_shadow", get(QUEUES.yPredShadow)],
    ["dead-letter", publishTo(DEAD_LETTER_EXCHANGE, QUEUES.yPred)],
  ],
  operator: [
    ["read dead_letter", get(QUEUES.deadLetter)],
    ["replay to features", publishTo(publishExchange(QUEUES.features))],
  ],
};
const REFUSED: Record<string, Attempt[]> = {
  features: [
    ["read y_true", get(QUEUES.yTrue)],
    ["publish to y_pred", publishTo(publishExchange(QUEUES.yPred))],
    ["publish through the default exchange", publishTo("", QUEUES.yPred)],
    ["delete features", remove(QUEUES.features)],
  ],
  model: [
    ["publish to y_true", publishTo(publishExchange(QUEUES.yTrue))],
    ["publish y_true through the default exchange", publishTo("", QUEUES.yTrue)],
    ["read y_true", get(QUEUES.yTrue)],
    ["delete y_pred", remove(QUEUES.yPred)],
    ["declare a queue of its own", (channel) => channel.queueDeclare("model_own")],
    // Binding needs write on the queue: the copy can go to features_shadow only.
    [
      "bind y_true to features' exchange",
      (channel) => channel.queueBind(QUEUES.yTrue, publishExchange(QUEUES.features), ""),
    ],
  ],
  metric: [
    ["delete y_pred", remove(QUEUES.yPred)],
    ["publish to y_pred", publishTo(publishExchange(QUEUES.yPred))],
    ["read features", get(QUEUES.features)],
    ["read dead_letter", get(QUEUES.deadLetter)],
    ["open the shadow copy", openShadowCopy],
  ],
  operator: [
    ["read y_true", get(QUEUES.yTrue)],
    ["delete dead_letter", remove(QUEUES.deadLetter)],
    ["publish through the default exchange", publishTo("", QUEUES.yTrue)],
  ],
};

Deno.test({
  name: "the image's entrypoint sets the same policies as rabbitmqctl and the management API, " +
    "and creates each service's user with only what it needs",
  ...integration,
  async fn(t) {
    const node = await prepareLocalNode({ management: true });
    const ctl = nodeCtl(node);
    // The secrets, as Swarm mounts them: a file per user, no trailing newline.
    const secrets = await Deno.makeTempDir({ prefix: "ml-secrets-" });
    for (const role of BROKER_ROLES) {
      await Deno.writeTextFile(`${secrets}/${passwordSecret(role)}`, `pw-${role.user}`);
    }
    // The image's entrypoint, in the foreground as in a container, on a private node.
    const server = new Deno.Command("sh", {
      args: [ENTRYPOINT, "rabbitmq-server"],
      env: {
        ...node.env,
        HOME: "/var/lib/rabbitmq",
        RABBITMQ_DEFAULT_USER: "ml",
        RABBITMQ_DEFAULT_PASS: "s3cret",
        ML_DEFINITIONS_FILE: DEFINITIONS_PATH.pathname,
        ML_USERS_FILE: USERS_PATH.pathname,
        ML_BROKER_SECRETS_DIR: secrets,
      },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let said = "";
    const reading = (async () => {
      for (;;) {
        const { value, done } = await stderr.read();
        if (done) return;
        said += value;
      }
    })();
    try {
      await waitFor(
        "the entrypoint to import the definitions",
        () => said.includes("imported the pipeline's policies"),
        { timeoutMs: 120_000 },
      );
      // The user from the secrets exists: the import did not stop its creation.
      assert.match(await ctl("list_users", "-q"), /^ml\s/m);
      const api = new ManagementApi({
        url: `http://127.0.0.1:${node.managementPort}`,
        user: "ml",
        password: "s3cret",
      });
      for (const vhost of ["by-ctl", "by-api"]) {
        await ctl("add_vhost", vhost);
        await ctl("set_permissions", "-p", vhost, "ml", ".*", ".*", ".*");
      }
      for (const policy of POLICIES) {
        await ctl(...setPolicyArgs(policy, "by-ctl"));
        await api.putPolicy("by-api", policy);
      }
      const expected = POLICIES.map((policy) => ({ ...policy }));
      for (const vhost of ["/", "by-ctl", "by-api"]) {
        const held = (await api.policies(vhost)).map(({ vhost: _, ...policy }) => policy);
        assert.deepEqual(held, expected, `policies of vhost ${vhost}`);
      }

      await waitFor("the broker users", () => said.includes("broker users ready:"));
      const amqp = (user: string) => `amqp://${user}:pw-${user}@127.0.0.1:${node.port}`;
      await t.step("each user has its role's tags and permissions, and no more", async () => {
        const permissions = await ctl("list_permissions", "-p", "/", "-q");
        for (const role of BROKER_ROLES) {
          const line = permissions.split("\n").find((l) => l.startsWith(`${role.user}\t`));
          assert.equal(line, [role.user, role.configure, role.write, role.read].join("\t"));
        }
        const users = await ctl("list_users", "-q");
        assert.match(users, /^operator\s+\[management\]$/m);
        assert.match(users, /^model\s+\[\]$/m);
      });
      await t.step("a service's user only checks the topology it may not declare", async () => {
        const client = await connectClient(amqp("model"));
        try {
          assert.equal(await ensureTopology(() => client.channel()), "checked");
        } finally {
          await client.close().catch(() => {});
        }
      });
      await t.step(
        "the operator reads queues in the management API and may not delete one",
        async () => {
          const queue = `http://127.0.0.1:${node.managementPort}/api/queues/%2F/${QUEUES.features}`;
          const headers = { authorization: `Basic ${btoa("operator:pw-operator")}` };
          const read = await fetch(queue, { headers });
          assert.equal(read.status, 200);
          assert.equal((await read.json()).name, QUEUES.features);
          const deleted = await fetch(queue, { method: "DELETE", headers });
          await deleted.body?.cancel();
          assert.equal(deleted.status, 401);
        },
      );
      for (const role of BROKER_ROLES) {
        await t.step(`${role.user} may do its work and is refused the rest`, async () => {
          const client = await connectClient(amqp(role.user));
          const attempt = async (action: Attempt[1]) => {
            const channel = await client.channel();
            await channel.confirmSelect();
            try {
              await action(channel);
            } finally {
              if (!channel.closed) await channel.close().catch(() => {});
            }
          };
          try {
            for (const [what, action] of ALLOWED[role.user]) {
              await attempt(action).catch((error) => {
                throw new Error(`${role.user} could not ${what}: ${error.message}`);
              });
            }
            for (const [what, action] of REFUSED[role.user]) {
              await assert.rejects(attempt(action), /ACCESS_REFUSED/, `${role.user} may ${what}`);
            }
          } finally {
            await client.close().catch(() => {});
          }
        });
      }
    } finally {
      await Deno.remove(secrets, { recursive: true }).catch(() => {});
      await ctl("stop").catch(() => {});
      await server.status;
      await reading.catch(() => {});
      await Deno.remove(node.dir, { recursive: true }).catch(() => {});
    }
  },
});
