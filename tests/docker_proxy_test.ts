/**
 * The Docker API filter the controller talks to, tested with the real thing: Debian's `haproxy`
 * binary runs ops/images/docker-proxy/haproxy.cfg, the file the image ships, in front of a Deno
 * HTTP server on a unix socket standing in for dockerd. The calls the controller makes pass
 * through unchanged; every other method, path and create's body gets 403 and never reaches the
 * socket.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { candidateSpec, type ServiceSpec } from "../controller/rollout/start.ts";
import { MODEL_TARGET, modelConfigName } from "../stack/model_service.ts";
import { startHaproxy } from "./haproxy.ts";

const CONFIG = new URL("../ops/images/docker-proxy/haproxy.cfg", import.meta.url).pathname;

/** haproxy's buffer, which a create's whole body must fit in (with the headers). */
const BUFSIZE = Number(
  /^\s*tune\.bufsize\s+(\d+)/m.exec(Deno.readTextFileSync(CONFIG))?.[1] ?? 16384,
);

/** `<stack>_model` as the engine returns its spec (a 20.10 engine, the stack's model service). */
const STABLE: ServiceSpec = {
  Name: "ml_model",
  Labels: {
    "com.docker.stack.image": "registry.example:5000/ml-model:2026-12-05",
    "com.docker.stack.namespace": "ml",
    "ml.autoscale.busy-ratio": "0.8",
    "ml.autoscale.down-window": "300",
    "ml.autoscale.drain-seconds": "60",
    "ml.autoscale.max": "6",
    "ml.autoscale.min": "2",
    "ml.autoscale.queue": "features",
    "ml.autoscale.slots": "50",
    "ml.autoscale.state.last-change": "1764931200000",
    "ml.rollout.state":
      '{"candidate":"sha256-5a0c31d2e9b84f17","stable":"sha256-07e481bfe459c331","phase":"promoted","startedAtMs":1764931200000,"origin":"drift"}',
  },
  TaskTemplate: {
    ContainerSpec: {
      Image: "registry.example:5000/ml-model:2026-12-05@sha256:" +
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      Labels: { "com.docker.stack.namespace": "ml" },
      Env: [
        "AMQP_CA_FILE=/run/secrets/broker_ca",
        "AMQP_PASSWORD_FILE=/run/secrets/broker_model_password",
        "AMQP_URL=amqps://rabbitmq:5671",
        "AMQP_USER=model",
        "HTTP_TOKEN_FILE=/run/secrets/telemetry_token",
        "INFERENCE_DELAY_MS=",
        "LOG_FORMAT=json",
        "LOG_LEVEL=info",
        "PREFETCH=",
        "REPLICA={{.Service.Name}}.{{.Task.Slot}}",
        "SHUTDOWN_TIMEOUT_MS=10000",
      ],
      Init: true,
      Privileges: { CredentialSpec: null, SELinuxContext: null },
      ReadOnly: true,
      StopGracePeriod: 20000000000,
      DNSConfig: {},
      Secrets: ["broker_model_password", "broker_ca", "telemetry_token"].map((name, i) => ({
        File: { Name: name, UID: "1000", GID: "1000", Mode: 0o400 },
        SecretID: `q8w3ne1xk2v7hy0${i}zt5mbl4rc`,
        SecretName: `ml_${name}`,
      })),
      Configs: [{
        File: { Name: MODEL_TARGET, UID: "1000", GID: "1000", Mode: 0o400 },
        ConfigID: "t4nb0e7y2kq9w1m3xv6hz8pc5",
        ConfigName: "ml_model_sha256-07e481bfe459c331",
      }],
      Isolation: "default",
      CapabilityDrop: ["ALL"],
    },
    Resources: {
      Limits: { NanoCPUs: 500000000, MemoryBytes: 134217728, Pids: 128 },
      Reservations: { NanoCPUs: 50000000, MemoryBytes: 33554432 },
    },
    RestartPolicy: { Condition: "any", Delay: 5000000000, MaxAttempts: 0 },
    Placement: { Platforms: [{ Architecture: "amd64", OS: "linux" }] },
    Networks: [{ Target: "kx1n9q3w7e5r2t8y4u6i0o3pl", Aliases: ["model"] }],
    LogDriver: { Name: "json-file", Options: { "max-file": "3", "max-size": "10m" } },
    ForceUpdate: 0,
    Runtime: "container",
  },
  Mode: { Replicated: { Replicas: 2 } },
  UpdateConfig: {
    Parallelism: 1,
    Delay: 5000000000,
    FailureAction: "rollback",
    Monitor: 30000000000,
    MaxFailureRatio: 0,
    Order: "start-first",
  },
  RollbackConfig: {
    Parallelism: 1,
    FailureAction: "pause",
    Monitor: 30000000000,
    MaxFailureRatio: 0,
    Order: "start-first",
  },
  EndpointSpec: { Mode: "dnsrr" },
};

const VERSION = "sha256-5a0c31d2e9b84f17";

/** The controller's POST /configs/create: the model's artifact, its name first. */
const CONFIG_BODY = JSON.stringify({
  Name: modelConfigName(VERSION),
  Data: btoa(Deno.readTextFileSync(new URL("../model/model.json", import.meta.url))),
});

/** The controller's POST /services/create: the stable spec as candidateSpec() clones it. */
const CANDIDATE_BODY = JSON.stringify(candidateSpec(STABLE, {
  stack: "ml",
  version: VERSION,
  configId: "c0nf1g1d9w2e3r4t5y6u7i8o9",
  configName: modelConfigName(VERSION),
}));

/** A candidate's spec padded (a long Env entry) to `bytes`. */
function candidateOf(bytes: number): string {
  const spec = JSON.parse(CANDIDATE_BODY);
  const env: string[] = spec.TaskTemplate.ContainerSpec.Env;
  env.push("PAD=");
  env[env.length - 1] = `PAD=${"x".repeat(Math.max(0, bytes - JSON.stringify(spec).length))}`;
  return JSON.stringify(spec);
}

/** Longer than the buffer: only its first part would be there to check. */
const OVERSIZED = candidateOf(BUFSIZE + 4096);

/** What the stand-in engine received: method, path with query, and body. */
interface Seen {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/**
 * The spec of what passes: the controller's calls on API 1.41, with or without the prefix; a
 * create when its body names a model's config or a candidate first. `body` is either well within
 * the buffer or beyond it (the exact bound depends on the headers).
 */
function allowed(method: string, path: string, body = ""): boolean {
  const bare = path.split("?")[0].replace(/^\/v1\.41(?=\/)/, "");
  const id = "[A-Za-z0-9_-][A-Za-z0-9_.-]*";
  const name = "[A-Za-z0-9_-]+";
  const whole = new TextEncoder().encode(body).length < BUFSIZE / 2;
  if (method === "GET") {
    return new RegExp(`^/(services|tasks|nodes)(/${id})?$|^/configs/${id}$`).test(bare);
  }
  if (method === "POST") {
    if (bare === "/configs/create") {
      return whole && new RegExp(`^\\{"Name":"${name}_model_[A-Za-z0-9_.-]+"`).test(body);
    }
    if (bare === "/services/create") {
      return whole && new RegExp(`^\\{"Name":"${name}_model_candidate",`).test(body);
    }
    return new RegExp(`^/services/${id}/update$`).test(bare);
  }
  if (method === "DELETE") return new RegExp(`^/services/${id}_model_candidate$`).test(bare);
  return false;
}

/** The proxy: `ask` through fetch, `raw` as bytes on a socket, so no client tidies the path. */
interface Proxy {
  ask(method: string, path: string, body?: string): Promise<Response>;
  /** Sends `method path HTTP/1.1` as written, with `body`; the status code of the answer. */
  raw(method: string, path: string, body?: string): Promise<number>;
  /**
   * Sends `request` as is, or its parts 100 ms apart (then half-closes with `closeWrite`); the
   * status code of the answer, 0 for none.
   */
  send(request: string | string[], options?: { closeWrite?: boolean }): Promise<number>;
}

function request(method: string, path: string, body = ""): string {
  const length = new TextEncoder().encode(body).length;
  return `${method} ${path} HTTP/1.1\r\nHost: docker\r\nContent-Length: ${length}\r\n` +
    `Connection: close\r\n\r\n${body}`;
}

async function rawRequest(
  port: number,
  request: string | string[],
  options: { closeWrite?: boolean } = {},
): Promise<number> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const [i, part] of [request].flat().entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
      await connection.write(new TextEncoder().encode(part));
    }
    if (options.closeWrite) await connection.closeWrite();
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
      // A body that never arrived whole is recorded too.
      body: await request.text().catch(() => "(cut short)"),
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
        raw: (method, path, body) => rawRequest(port, request(method, path, body)),
        send: (bytes, options) => rawRequest(port, bytes, options),
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
  // The creates are what the controller sends: a real spec and artifact, well within the buffer.
  assert.ok(
    CANDIDATE_BODY.length > 2000 && CANDIDATE_BODY.length < 6000,
    `${CANDIDATE_BODY.length}`,
  );
  assert.ok(CANDIDATE_BODY.startsWith('{"Name":"ml_model_candidate",'));
  assert.ok(CONFIG_BODY.startsWith('{"Name":"ml_model_sha256-5a0c31d2e9b84f17","Data":"'));
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
      // A config, by name (before a create) and by ID (the serving model's, on drift).
      ["GET", `/v1.41/configs/${modelConfigName(VERSION)}`],
      ["GET", "/configs/t4nb0e7y2kq9w1m3xv6hz8pc5"],
      ["POST", "/v1.41/configs/create", CONFIG_BODY],
      ["POST", "/configs/create", '{"Name":"test_model_v1.2","Data":"e30=","Labels":{"a":"b"}}'],
      ["POST", "/v1.41/services/create", CANDIDATE_BODY],
      ["POST", "/v1.41/services/create", candidateOf(4096)],
      // Headroom: three quarters of the buffer still pass whole.
      ["POST", "/services/create", candidateOf(Math.floor(BUFSIZE * 0.75))],
    ];
    for (const [method, path, body] of calls) {
      const response = await proxy.ask(method, path, body);
      assert.equal(response.status, 200, `${method} ${path}`);
      assert.deepEqual(await response.json(), { engine: "stand-in" });
      assert.deepEqual(seen.at(-1), { method, path, body: body ?? "" });
    }
    assert.equal(seen.length, calls.length);
    // A body that arrives after its headers, in parts, as a slow client's would: waited for.
    const whole = request("POST", "/v1.41/services/create", CANDIDATE_BODY);
    const headers = whole.indexOf("\r\n\r\n") + 4;
    const parts = [
      whole.slice(0, headers),
      whole.slice(headers, headers + 100),
      whole.slice(headers + 100),
    ];
    assert.equal(await proxy.send(parts), 200);
    assert.deepEqual(seen.at(-1), {
      method: "POST",
      path: "/v1.41/services/create",
      body: CANDIDATE_BODY,
    });
  });
});

Deno.test("the Docker API filter refuses everything else with 403, before the socket", async (t) => {
  await withProxy(async (proxy, seen) => {
    const candidate = CANDIDATE_BODY.slice('{"Name":"ml_model_candidate"'.length);
    const refused: [string, string, string?][] = [
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
      // Configs: never the list, never removed or changed, only a model's created.
      ["GET", "/v1.41/configs"],
      ["GET", "/configs"],
      ["GET", `/v1.41/configs?filters=${encodeURIComponent('{"name":["ml"]}')}`],
      ["GET", "/v1.41/configs/.."],
      ["HEAD", "/v1.41/configs/ml_model_x"],
      ["DELETE", "/v1.41/configs/ml_model_sha256-07e481bfe459c331"],
      ["DELETE", "/configs/gateway_r3"],
      ["POST", "/v1.41/configs/ml_model_x/update", '{"Name":"ml_model_x"}'],
      ["PUT", "/v1.41/configs/create", CONFIG_BODY],
      ["POST", "/v1.41/configs/create"],
      ["POST", "/v1.41/configs/create", '{"Name":"gateway_r3","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"Name":"ml_gateway","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"Name":"ml_model_","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"Name":"_model_x","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"Data":"e30=","Name":"ml_model_sha256-aaaa"}'],
      ["POST", "/v1.41/configs/create", ' {"Name":"ml_model_x","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"name":"ml_model_x","Data":"e30="}'],
      ["POST", "/v1.41/configs/create", '{"Name":"ml_model_x/../y","Data":"e30="}'],
      ["POST", "/v1.41/configs/create/x", CONFIG_BODY],
      ["POST", "/v1.41/secrets/create", '{"Name":"ml_model_x","Data":"e30="}'],
      ["POST", "/secrets/create", CONFIG_BODY],
      // Services: a create only of a candidate, named first, whole.
      ["POST", "/v1.41/services/create", `{"Name":"ml_evil"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Name":"ml_model"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Name":"ml_model_candidate_x"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Name":"ml_evil_candidate"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Name":"ml/model_candidate"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Name": "ml_model_candidate"${candidate}`],
      ["POST", "/v1.41/services/create", `{"Labels":{},"Name":"ml_model_candidate"${candidate}`],
      ["POST", "/v1.41/services/create", '{"Name":"ml_model_candidate"}'],
      ["POST", "/v1.41/services/create", CONFIG_BODY],
      ["POST", "/v1.41/services/create", OVERSIZED],
      ["POST", "/v1.41/configs/create", `{"Name":"ml_model_x","Data":"${"A".repeat(BUFSIZE)}"}`],
      ["POST", "/v1.41/containers/create", CANDIDATE_BODY],
      ["PUT", "/v1.41/services/create", CANDIDATE_BODY],
    ];
    for (const [method, path, body] of refused) {
      const shown = body === undefined ? "" : ` ${body.slice(0, 40)}… (${body.length} B)`;
      await t.step(`${method} ${path}${shown}`, async () => {
        assert.equal(await proxy.raw(method, path, body), 403);
      });
    }
    const small = '{"Name":"ml_model_candidate","TaskTemplate":{}}';
    await t.step("a create's body chunked, whole and named right", async () => {
      const chunked = (body: string) =>
        `POST /v1.41/services/create HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n` +
        `Connection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      assert.equal(await proxy.send(chunked(small)), 403);
      assert.equal(await proxy.send(chunked(OVERSIZED)), 403);
    });
    await t.step("a create's body cut short of its Content-Length", async () => {
      const whole = request("POST", "/v1.41/services/create", CANDIDATE_BODY);
      const status = await proxy.send(whole.slice(0, -1000), { closeWrite: true });
      assert.notEqual(status, 200);
    });
    assert.deepEqual(seen, [], "a refused call reached the socket");
  });
});

Deno.test("property: the Docker API filter lets through exactly the controller's calls", async () => {
  const segment = fc.oneof(
    fc.constantFrom(
      "services",
      "tasks",
      "nodes",
      "configs",
      "secrets",
      "create",
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
  const path = fc.oneof(
    fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
    fc.constantFrom(
      "/v1.41/services/create",
      "/services/create",
      "/v1.41/configs/create",
      "/configs/create?x=1",
      "/v1.41/secrets/create",
      "/v1.41/services/create/update",
    ),
  );
  // POST often: the creates are where the bodies matter.
  const method = fc.oneof(
    { arbitrary: fc.constant("POST"), weight: 2 },
    { arbitrary: fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"), weight: 3 },
  );
  const name = fc.oneof(
    fc.constantFrom("ml_model_candidate", "ml_model", "ml_model_v1.2", "gateway_r3", "ml_evil"),
    fc.stringMatching(/^[A-Za-z0-9_.\/-]{0,10}(_model_(candidate)?)?[A-Za-z0-9_.-]{0,6}$/),
  );
  const body = fc.oneof(
    fc.constantFrom("", CANDIDATE_BODY, CONFIG_BODY, OVERSIZED),
    name.map((n) => `{"Name":"${n}","Data":"e30="}`),
    name.map((n) => `{"Name":"${n}","TaskTemplate":{}}`),
    name.map((n) => `{"Data":"e30=","Name":"${n}"}`),
  );
  await withProxy(async (proxy, seen) => {
    await fc.assert(
      fc.asyncProperty(method, path, body, async (m, p, b) => {
        const before = seen.length;
        const status = await proxy.raw(m, p, b);
        const passed = seen.length > before;
        if (allowed(m, p, b)) return status === 200 && passed;
        return status === 403 && !passed;
      }),
      { numRuns: 400 },
    );
  });
});
