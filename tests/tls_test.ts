/**
 * AMQP over TLS against a real RabbitMQ with the stack's own certificates
 * (`ops/secrets/tls.sh`, as `init.sh` makes them for the Swarm stack): the
 * broker door connects, declares and carries messages when it trusts the
 * stack's CA, and refuses a broker it cannot verify.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";
import { connectClient } from "../stack/amqp_client.ts";
import { Broker } from "../stack/broker.ts";
import { QUEUES } from "../stack/contracts.ts";
import { createTelemetry } from "../stack/telemetry.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const TLS_SCRIPT = new URL("../ops/secrets/tls.sh", import.meta.url).pathname;

/** The stack's CA and the broker's certificate, made by the stack's own script into a temp dir. */
async function makeCertificates(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ml-tls-" });
  const made = await new Deno.Command("bash", { args: [TLS_SCRIPT, dir], stdout: "null" })
    .output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  // The node runs as the rabbitmq user, which must read the certificate and the key.
  if (Deno.uid() === 0) {
    await new Deno.Command("chown", { args: ["-R", "rabbitmq", dir] }).output();
  }
  await Deno.chmod(dir, 0o755);
  return dir;
}

Deno.test({
  name: "the broker door speaks AMQP over TLS to a broker signed by the stack's CA, and only then",
  ...integration,
  async fn(t) {
    const dir = await makeCertificates();
    let broker: LocalBroker | undefined;
    try {
      broker = await startLocalBroker({
        tls: {
          certFile: `${dir}/broker_tls_cert.pem`,
          keyFile: `${dir}/broker_tls_key.pem`,
          caFile: `${dir}/broker_ca.pem`,
        },
      });
      const ca = await Deno.readTextFile(`${dir}/broker_ca.pem`);
      const url = `amqps://guest:guest@localhost:${broker.tlsPort}`;

      await t.step(
        "with the CA: connected, topology declared, a message there and back",
        async () => {
          const telemetry = createTelemetry("model", "tls-test");
          const door = new Broker({
            urls: [url],
            ca,
            connectionName: "model@tls-test",
            replica: "tls-test",
            prefetch: 10,
            log: getLogger(["tls-test"]),
            telemetry,
          });
          const received: string[] = [];
          door.consume(QUEUES.features, (delivery) => {
            received.push(delivery.properties.messageId ?? "");
          });
          try {
            await door.start();
            assert.equal(door.connected, true);
            await door.publish(QUEUES.features, "[1]", { messageId: "over-tls" });
            await waitFor("the message back", () => received.includes("over-tls"));
            // The broker sees one connection, over TLS: rabbitmqctl lists it with its protocol.
            const connections = await broker!.ctl("list_connections", "ssl", "ssl_protocol", "-q");
            assert.match(connections, /^true\s+tlsv1\.3$/m, connections);
            assert.doesNotMatch(connections, /^false/m, connections);
          } finally {
            await door.close();
          }
        },
      );

      await t.step(
        "without the CA: refused, as the certificate is not one the system trusts",
        async () => {
          await assert.rejects(connectClient(url), /self[- ]signed certificate|UnknownIssuer/i);
        },
      );

      await t.step("another CA: refused", async () => {
        const other = await makeCertificates();
        try {
          const otherCa = await Deno.readTextFile(`${other}/broker_ca.pem`);
          await assert.rejects(connectClient(url, { ca: otherCa }), /certificate/i);
        } finally {
          await Deno.remove(other, { recursive: true });
        }
      });
    } finally {
      await broker?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
