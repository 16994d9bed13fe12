import assert from "node:assert/strict";
import { ManagementApi, managementEndpoint } from "./management.ts";

Deno.test("managementEndpoint() derives the endpoint from the AMQP URL", async (t) => {
  await t.step("port 15672 of the AMQP host, with its credentials", () => {
    assert.deepEqual(managementEndpoint("amqp://ml:s%3Acret@rabbit:5672/"), {
      url: "http://rabbit:15672",
      user: "ml",
      password: "s:cret",
    });
  });
  await t.step("guest/guest when the AMQP URL has no credentials", () => {
    assert.deepEqual(managementEndpoint("amqp://localhost"), {
      url: "http://localhost:15672",
      user: "guest",
      password: "guest",
    });
  });
  await t.step("AMQP_MANAGEMENT_URL wins, with the AMQP credentials unless it has its own", () => {
    assert.deepEqual(managementEndpoint("amqp://ml:pw@rabbit", "http://127.0.0.1:8080/"), {
      url: "http://127.0.0.1:8080",
      user: "ml",
      password: "pw",
    });
    assert.deepEqual(managementEndpoint("amqp://ml:pw@rabbit", "https://admin:x@mq.test/r/"), {
      url: "https://mq.test/r",
      user: "admin",
      password: "x",
    });
  });
});

Deno.test("ManagementApi sends each call with basic auth and names a failure", async () => {
  const calls: [string, string, string | null, unknown][] = [];
  const fake = (input: string | URL | Request, init?: RequestInit) => {
    calls.push([
      init?.method ?? "GET",
      String(input),
      new Headers(init?.headers).get("authorization"),
      init?.body === undefined ? undefined : JSON.parse(String(init.body)),
    ]);
    const status = String(input).endsWith("/missing") ? 404 : 200;
    return Promise.resolve(new Response(status === 200 ? "[]" : "Not Found", { status }));
  };
  const api = new ManagementApi({ url: "http://mq:15672", user: "u", password: "p" }, {
    fetch: fake as typeof fetch,
  });
  await api.addVhost("t-1");
  await api.setPermissions("t-1", "u");
  assert.deepEqual(await api.queues("t-1"), []);
  await api.deleteVhost("t-1");
  const auth = `Basic ${btoa("u:p")}`;
  assert.deepEqual(calls, [
    ["PUT", "http://mq:15672/api/vhosts/t-1", auth, {}],
    [
      "PUT",
      "http://mq:15672/api/permissions/t-1/u",
      auth,
      { configure: ".*", write: ".*", read: ".*" },
    ],
    ["GET", "http://mq:15672/api/queues/t-1", auth, undefined],
    ["DELETE", "http://mq:15672/api/vhosts/t-1", auth, undefined],
  ]);
  await assert.rejects(api.deleteVhost("missing"), {
    message:
      "Cannot DELETE http://mq:15672/api/vhosts/missing: the management API answered 404 Not Found",
  });
});
