/**
 * The Docker API filter the controller talks to, tested with the real thing: Debian's `haproxy`
 * binary runs ops/images/docker-proxy/haproxy.cfg, the file the image ships, in front of a Deno
 * HTTP server on a unix socket standing in for dockerd. The calls the controller makes pass
 * through unchanged; every other method and path gets 403 and never reaches the socket.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { startHaproxy } from "./haproxy.ts";

const CONFIG = new URL("../ops/images/docker-proxy/haproxy.cfg", import.meta.url).pathname;

/** What the stand-in engine received: method, path with query, and body. */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** The spec of what passes: the controller's calls on API 1.41, with or without the prefix. */
function allowed(method: string, path: string): boolean {
  const bare = path.split("?")[0].replace(/^\/v1\.41(?=\/)/, "");
  const id = "[A-Za-z0-9_-][A-Za-z0-9_.-]*";
  if (method === "GET") return new RegExp(`^/(services|tasks|nodes)(/${id})?$`).test(bare);
  if (method === "POST") return new RegExp(`^/services/${id}/update$`).test(bare);
  if (method === "DELETE") return new RegExp(`^/services/${id}_model_candidate$`).test(bare);
  return false;
}

/** The proxy: `ask` through fetch, `raw` as bytes on a socket, so no client tidies the path. */
interface Proxy {
  ask(method: string, path: string, body?: string): Promise<Response>;
  /** Sends `method path HTTP/1.1` as written; the status code of the answer. */
  raw(method: string, path: string): Promise<number>;
}

async function rawRequest(port: number, method: string, path: string): Promise<number> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await connection.write(
      new TextEncoder().encode(
        `${method} ${path} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      ),
    );
    const answer = await new Response(connection.readable).text();
    return Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? "0");
  } catch (error) {
    try {
      connection.close();
    } catch { /* closed by the stream */ }
    throw error;
  }
}

async function withProxy(fn: (proxy: Proxy, seen: Seen[]) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ml-docker-proxy-" });
  const socket = `${dir}/docker.sock`;
  const seen: Seen[] = [];
  const engine = Deno.serve({ path: socket, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    seen.push({
      method: request.method,
      path: url.pathname + url.search,
      body: await request.text(),
    });
    return Response.json({ engine: "stand-in" });
  });
  const haproxy = await startHaproxy([CONFIG], { DOCKER_SOCKET: socket });
  const { port } = haproxy;
  try {
    const client = Deno.createHttpClient({});
    try {
      await fn({
        ask: (method, path, body) =>
          fetch(`http://127.0.0.1:${port}${path}`, { method, body, client }),
        raw: (method, path) => rawRequest(port, method, path),
      }, seen);
    } finally {
      client.close();
    }
  } finally {
    await haproxy.stop();
    await engine.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the Docker API filter passes the controller's calls through unchanged", async () => {
  await withProxy(async (proxy, seen) => {
    const calls: [string, string, string?][] = [
      ["GET", "/v1.41/services"],
      ["GET", "/services"],
      ["GET", "/v1.41/services/ml_model"],
      ["GET", `/v1.41/tasks?filters=${encodeURIComponent('{"service":["ml_model"]}')}`],
      ["GET", "/tasks/x1y2z3"],
      ["GET", "/v1.41/nodes"],
      ["GET", "/v1.41/nodes/node-1.example"],
      ["POST", "/v1.41/services/abc123/update?version=42", '{"Name":"ml_model"}'],
      ["POST", "/services/ml_model/update?version=7", "{}"],
      ["DELETE", "/v1.41/services/ml_model_candidate"],
      ["DELETE", "/services/test_model_candidate"],
    ];
    for (const [method, path, body] of calls) {
      const response = await proxy.ask(method, path, body);
      assert.equal(response.status, 200, `${method} ${path}`);
      assert.deepEqual(await response.json(), { engine: "stand-in" });
      assert.deepEqual(seen.at(-1), { method, path, body: body ?? "" });
    }
    assert.equal(seen.length, calls.length);
  });
});

Deno.test("the Docker API filter refuses everything else with 403, before the socket", async (t) => {
  await withProxy(async (proxy, seen) => {
    const refused: [string, string][] = [
      ["POST", "/v1.41/containers/create"],
      ["GET", "/v1.41/containers/json"],
      ["POST", "/v1.41/containers/abc/exec"],
      ["POST", "/v1.41/services/create"],
      ["DELETE", "/v1.41/services/ml_model"],
      ["DELETE", "/v1.41/services/abc123"],
      ["DELETE", "/v1.41/services/ml_model_candidate/update"],
      ["DELETE", "/v1.41/services/ml_model_candidate_x"],
      ["DELETE", "/v1.41/services/_model_candidate/../ml_model"],
      ["DELETE", "/v1.41/containers/ml_model_candidate"],
      ["PUT", "/v1.41/services/ml_model/update"],
      ["GET", "/v1.41/services/ml_model/update"],
      ["GET", "/v1.41/services/ml_model/logs"],
      ["POST", "/v1.41/services/ml_model/update/extra"],
      ["POST", "/v1.41/nodes/n1/update"],
      ["POST", "/v1.41/tasks"],
      ["HEAD", "/v1.41/services"],
      ["GET", "/v1.41/secrets"],
      ["GET", "/v1.41/info"],
      ["GET", "/_ping"],
      ["POST", "/v1.41/swarm/leave"],
      ["GET", "/v1.40/services"],
      ["GET", "/v1.41//services"],
      ["GET", "/v1.41/services/../containers/json"],
      ["GET", "/v1.41/services/.."],
      ["GET", "/v1.41/services/%2e%2e"],
      ["POST", "/v1.41/services/a%2Fb/update"],
      ["GET", "/v1.41/events"],
      ["get", "/v1.41/services"],
      ["GET", "/v1.41/services/ml_model/../../containers/json"],
    ];
    for (const [method, path] of refused) {
      await t.step(`${method} ${path}`, async () => {
        assert.equal(await proxy.raw(method, path), 403);
      });
    }
    assert.deepEqual(seen, [], "a refused call reached the socket");
  });
});

Deno.test("property: the Docker API filter lets through exactly the four calls", async () => {
  const segment = fc.oneof(
    fc.constantFrom(
      "services",
      "tasks",
      "nodes",
      "update",
      "containers",
      "v1.41",
      "v1.40",
      "..",
      ".",
      "",
    ),
    fc.stringMatching(/^[A-Za-z0-9_.%-]{1,12}$/),
  );
  const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) =>
    `/${parts.join("/")}`
  );
  const method = fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS");
  await withProxy(async (proxy, seen) => {
    await fc.assert(
      fc.asyncProperty(method, path, async (m, p) => {
        const before = seen.length;
        const status = await proxy.raw(m, p);
        const passed = seen.length > before;
        if (allowed(m, p)) return status === 200 && passed;
        return status === 403 && !passed;
      }),
      { numRuns: 300 },
    );
  });
});
