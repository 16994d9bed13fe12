import assert from "node:assert/strict";
import { AMQPClient } from "@cloudamqp/amqp-client";
import { clientUrl, openClient } from "./amqp_client.ts";

Deno.test("clientUrl() sets the connection name and keeps the other parameters", () => {
  assert.equal(
    clientUrl("amqp://u:p@rabbit:5672/vh?heartbeat=10", { name: "model@model-1" }),
    "amqp://u:p@rabbit:5672/vh?heartbeat=10&name=model%40model-1",
  );
});

Deno.test("clientUrl() replaces a name already in the URL and leaves a URL object as it was", () => {
  const url = new URL("amqp://rabbit/?name=old");
  assert.equal(clientUrl(url, { name: "dlq" }), "amqp://rabbit/?name=dlq");
  assert.equal(url.href, "amqp://rabbit/?name=old");
});

Deno.test("clientUrl() without a name changes nothing", () => {
  assert.equal(clientUrl("amqp://rabbit/?name=kept"), "amqp://rabbit/?name=kept");
});

Deno.test("openClient() names the connection and takes its settings from the URL", () => {
  const client = openClient(new URL("amqp://rabbit:5673/vh?heartbeat=7"), { name: "bench" });
  assert.equal(client.name, "bench");
  assert.equal(client.heartbeat, 7);
  assert.equal(client.port, 5673);
  assert.equal(client.vhost, "vh");
  assert.equal(client.closed, true, "not connected yet");
});

Deno.test("openClient() applies the patches that must be in place before connect()", () => {
  const client = openClient("amqp://rabbit");
  assert.equal(client.frameMax, 0, "the broker's frame_max is taken at tuning");
  const own = (field: string) => Object.hasOwn(client, field);
  assert.ok(own("onRead"), "the frame reassembler replaced the socket reader");
  assert.ok(own("connect"), "the frame reassembler wraps connect()");
  assert.ok(own("send"), "socket writes are coalesced");
  assert.equal(client.logger, undefined, "amqp-client logs nothing itself");
  assert.ok(!Object.hasOwn(new AMQPClient("amqp://rabbit"), "send"), "a plain client has none");
});
