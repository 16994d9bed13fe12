/**
 * The three ways the pipeline's policies reach a broker give the same
 * policies, read back from a real RabbitMQ: the broker image's entrypoint
 * (its `definitions.json`, imported once the node is up), `startLocalBroker`
 * (`rabbitmqctl set_policy`) and the management API (external brokers).
 */
import assert from "node:assert/strict";
import { ManagementApi } from "../ops/kit/management.ts";
import { DEFINITIONS_PATH } from "../ops/definitions.ts";
import { nodeCtl, prepareLocalNode } from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";
import { POLICIES, setPolicyArgs } from "../stack/policies.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const ENTRYPOINT = new URL("../ops/images/rabbitmq/docker-entrypoint.sh", import.meta.url)
  .pathname;

Deno.test({
  name: "the image's entrypoint, rabbitmqctl and the management API set the same policies",
  ...integration,
  async fn() {
    const node = await prepareLocalNode({ management: true });
    const ctl = nodeCtl(node);
    // The image's entrypoint, in the foreground as in a container, on a private node.
    const server = new Deno.Command("sh", {
      args: [ENTRYPOINT, "rabbitmq-server"],
      env: {
        ...node.env,
        HOME: "/var/lib/rabbitmq",
        RABBITMQ_DEFAULT_USER: "ml",
        RABBITMQ_DEFAULT_PASS: "s3cret",
        ML_DEFINITIONS_FILE: DEFINITIONS_PATH.pathname,
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
    } finally {
      await ctl("stop").catch(() => {});
      await server.status;
      await reading.catch(() => {});
      await Deno.remove(node.dir, { recursive: true }).catch(() => {});
    }
  },
});
