import assert from "node:assert/strict";
import { brokerAddress } from "../stack/common_config.ts";
import { dlqPermissionFlags } from "./dlq.ts";

Deno.test("dlqPermissionFlags() grants the broker's address and the broker settings only", () => {
  assert.equal(brokerAddress(new URL("amqp://u:p@rabbitmq/vh")), "rabbitmq:5672");
  assert.equal(brokerAddress(new URL("amqps://broker.example:5999")), "broker.example:5999");
  assert.deepEqual(dlqPermissionFlags(new URL("amqp://localhost:5673/"), ["/run/secrets"]), [
    "--allow-net=localhost:5673",
    "--allow-env=AMQP_URL,AMQP_USER,AMQP_USER_FILE,AMQP_PASSWORD,AMQP_PASSWORD_FILE,AMQP_CA," +
    "AMQP_CA_FILE",
    "--allow-read=/run/secrets",
  ]);
});
