/**
 * The stack's front door, tested with the real thing: Debian's `haproxy` runs
 * ops/images/gateway/haproxy.cfg, the file the stack mounts, with certificates
 * from the stack's own script (ops/secrets/tls.sh) and a userlist hashed as
 * ops/secrets/init.sh hashes it, in front of Deno servers standing in for the
 * dashboard, Prometheus, the autoscaler and RabbitMQ's UI (over TLS).
 */
import assert from "node:assert/strict";
import { freePort } from "../ops/kit/local_broker.ts";
import { startHaproxy } from "./haproxy.ts";
import { runCommand } from "../ops/kit/command.ts";

const CONFIG = new URL("../ops/images/gateway/haproxy.cfg", import.meta.url).pathname;
const TLS_SCRIPT = new URL("../ops/secrets/tls.sh", import.meta.url).pathname;
const PASSWORD = "s3cret-for-people";
const TOKEN = "t0ken-for-backends";
/** What each backend gets in place of the people's login (the secret gateway_upstream). */
const UPSTREAM: Record<string, string> = {
  dashboard: `Bearer ${TOKEN}`,
  autoscaler: `Bearer ${TOKEN}`,
  prometheus: `Basic ${btoa(`ml:${TOKEN}`)}`,
};

/** What a stand-in backend saw: its name, the path with query, the Authorization header. */
interface Seen {
  readonly backend: string;
  readonly path: string;
  readonly authorization: string | null;
}

async function run(command: string, args: string[], stdin?: string): Promise<string> {
  const output = await runCommand(command, args, { stdin });
  assert.ok(output.ok, output.stderr);
  return output.stdout;
}

interface Gateway {
  /** GET `path` over HTTPS, trusting the stack's CA, with `user:password` if given. */
  get(path: string, login?: string): Promise<Response>;
  readonly seen: Seen[];
}

async function withGateway(fn: (gateway: Gateway) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ml-gateway-" });
  await run("bash", [TLS_SCRIPT, dir]);
  const hash = (await run("openssl", ["passwd", "-6", "-stdin"], PASSWORD)).trim();
  await Deno.writeTextFile(
    `${dir}/gateway_users`,
    `userlist people\n    user operator password ${hash}\n`,
  );
  // As ops/secrets/init.sh writes it: one line per backend, the header's value after its name.
  await Deno.writeTextFile(
    `${dir}/gateway_upstream`,
    Object.entries(UPSTREAM).map(([backend, header]) => `${backend} ${header}\n`).join(""),
  );
  const seen: Seen[] = [];
  const stand = (backend: string) => (request: Request) => {
    const url = new URL(request.url);
    seen.push({
      backend,
      path: url.pathname + url.search,
      authorization: request.headers.get("authorization"),
    });
    return Response.json({ backend });
  };
  const servers = ["dashboard", "prometheus", "autoscaler"].map((name) => {
    const port = freePort();
    return {
      name,
      port,
      server: Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, stand(name)),
    };
  });
  const uiPort = freePort();
  const ui = Deno.serve({
    port: uiPort,
    hostname: "127.0.0.1",
    cert: await Deno.readTextFile(`${dir}/broker_tls_cert.pem`),
    key: await Deno.readTextFile(`${dir}/broker_tls_key.pem`),
    onListen() {},
  }, stand("rabbitmq"));
  const haproxy = await startHaproxy([CONFIG, `${dir}/gateway_users`], {
    TLS_PEM: `${dir}/gateway_tls.pem`,
    BROKER_CA: `${dir}/broker_ca.pem`,
    DASHBOARD: `127.0.0.1:${servers[0].port}`,
    PROMETHEUS: `127.0.0.1:${servers[1].port}`,
    AUTOSCALER: `127.0.0.1:${servers[2].port}`,
    RABBITMQ_UI: `127.0.0.1:${uiPort}`,
    RABBITMQ_NAME: "localhost",
    RESOLVER: "127.0.0.1:53",
    UPSTREAM_AUTH: `${dir}/gateway_upstream`,
  });
  const { port } = haproxy;
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(`${dir}/broker_ca.pem`)],
  });
  try {
    await fn({
      get: (path, login) =>
        fetch(`https://localhost:${port}${path}`, {
          client,
          redirect: "manual",
          headers: login ? { authorization: `Basic ${btoa(login)}` } : {},
        }),
      seen,
    });
  } finally {
    client.close();
    await haproxy.stop();
    for (const { server } of servers) await server.shutdown();
    await ui.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the gateway asks for a login, then serves each tool on its path with the tool's credentials, not the password", async () => {
  await withGateway(async (gateway) => {
    const login = `operator:${PASSWORD}`;
    for (const path of ["/dashboard/", "/prometheus/api/v1/alerts", "/autoscaler/history.json"]) {
      const anonymous = await gateway.get(path);
      await anonymous.body?.cancel();
      assert.equal(anonymous.status, 401, `${path} without a login`);
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Basic realm="ml-pipeline"/);
      const wrong = await gateway.get(path, "operator:guess");
      await wrong.body?.cancel();
      assert.equal(wrong.status, 401, `${path} with a wrong password`);
    }
    assert.equal(gateway.seen.length, 0, "nothing reached a backend without the login");

    const cases: [string, string, string][] = [
      ["/dashboard/", "dashboard", "/"],
      ["/dashboard/api/stats?x=1", "dashboard", "/api/stats?x=1"],
      ["/prometheus/api/v1/alerts", "prometheus", "/api/v1/alerts"],
      ["/autoscaler/history.json", "autoscaler", "/history.json"],
    ];
    for (const [path, backend, upstream] of cases) {
      const response = await gateway.get(path, login);
      assert.equal(response.status, 200, path);
      assert.deepEqual(await response.json(), { backend });
      assert.deepEqual(gateway.seen.at(-1), {
        backend,
        path: upstream,
        authorization: UPSTREAM[backend],
      });
      assert.match(response.headers.get("strict-transport-security") ?? "", /max-age=/);
    }
  });
});

Deno.test("the gateway passes /rabbitmq/ to the broker's UI over verified TLS, path and login as sent", async () => {
  await withGateway(async (gateway) => {
    const path = "/rabbitmq/api/queues/%2F/features";
    const response = await gateway.get(path, "operator:broker-password");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { backend: "rabbitmq" });
    assert.deepEqual(gateway.seen.at(-1), {
      backend: "rabbitmq",
      path,
      authorization: `Basic ${btoa("operator:broker-password")}`,
    });
  });
});

Deno.test("the gateway sends / to the dashboard and refuses every other path", async () => {
  await withGateway(async (gateway) => {
    const root = await gateway.get("/");
    await root.body?.cancel();
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/dashboard/");
    const bare = await gateway.get("/prometheus");
    await bare.body?.cancel();
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get("location"), "/prometheus/");
    for (const path of ["/metrics", "/api/stats", "/dashboardx/", "/v2/_catalog"]) {
      const response = await gateway.get(path, `operator:${PASSWORD}`);
      await response.body?.cancel();
      assert.equal(response.status, 404, path);
    }
    assert.equal(gateway.seen.length, 0);
  });
});
