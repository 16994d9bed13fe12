import assert from "node:assert/strict";
import { dockerClient, serviceOf, updatedSpec } from "./docker_api.ts";

const RAW = {
  ID: "abc",
  Version: { Index: 42 },
  Spec: {
    Name: "ml_model",
    Labels: { "ml.autoscale.min": "1" },
    Mode: { Replicated: { Replicas: 2 } },
    TaskTemplate: { ContainerSpec: { Image: "ml-model:latest", Env: ["PREFETCH=1"] } },
    EndpointSpec: { Mode: "dnsrr" },
  },
  UpdateStatus: { State: "completed" },
};

/** A fetch that records each request and answers from `reply`. */
function fakeFetch(reply: (url: URL, init: RequestInit) => Response) {
  const calls: { method: string; url: URL; body?: string }[] = [];
  const f = ((input: URL, init: RequestInit = {}) => {
    calls.push({ method: init.method ?? "GET", url: input, body: init.body as string | undefined });
    return Promise.resolve(reply(input, init));
  }) as typeof fetch;
  return { f, calls };
}

const BASE = new URL("http://docker-proxy:2375");

Deno.test("dockerClient() asks only the calls the proxy allows, on API 1.41", async () => {
  const { f, calls } = fakeFetch((url) =>
    Response.json(
      url.pathname.endsWith("/services")
        ? [RAW]
        : url.pathname.endsWith("/tasks")
        ? [{ Status: { State: "running" } }, { Status: { State: "starting" } }]
        : url.pathname.endsWith("/nodes")
        ? [{
          Description: { Hostname: "n1" },
          Spec: { Role: "manager" },
          Status: { State: "ready" },
        }]
        : {},
    )
  );
  const docker = dockerClient(BASE, { timeoutMs: 1000, fetch: f });
  const [service] = await docker.services();
  assert.equal(await docker.runningTasks("ml_model"), 1);
  assert.deepEqual(await docker.nodes(), [{ hostname: "n1", role: "manager", state: "ready" }]);
  await docker.update(service, { replicas: 3, labels: { a: "b" } });
  await docker.updateSpec(service, { Name: "ml_model", Labels: { c: "d" } });
  await docker.removeService("ml_model_candidate");
  assert.deepEqual(calls.map((c) => `${c.method} ${c.url.pathname}`), [
    "GET /v1.41/services",
    "GET /v1.41/tasks",
    "GET /v1.41/nodes",
    "POST /v1.41/services/abc/update",
    "POST /v1.41/services/abc/update",
    "DELETE /v1.41/services/ml_model_candidate",
  ]);
  assert.equal(calls[4].url.searchParams.get("version"), "42");
  assert.deepEqual(JSON.parse(calls[4].body!), { Name: "ml_model", Labels: { c: "d" } });
  assert.deepEqual(JSON.parse(calls[1].url.searchParams.get("filters")!), {
    service: ["ml_model"],
    "desired-state": ["running"],
  });
  assert.equal(calls[3].url.searchParams.get("version"), "42");
  const sent = JSON.parse(calls[3].body!);
  assert.deepEqual(sent.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(sent.Labels, { a: "b" });
  assert.deepEqual(
    sent.TaskTemplate,
    RAW.Spec.TaskTemplate,
    "the rest of the spec goes back as read",
  );
  assert.deepEqual(sent.EndpointSpec, RAW.Spec.EndpointSpec);
});

Deno.test("dockerClient() quotes the engine's or the proxy's refusal", async () => {
  const refusing = dockerClient(BASE, {
    timeoutMs: 1000,
    fetch: fakeFetch(() => Response.json({ message: "update out of sequence" }, { status: 500 })).f,
  });
  await assert.rejects(
    refusing.update(serviceOf(RAW), { replicas: 1, labels: {} }),
    /Cannot POST \/v1.41\/services\/abc\/update: HTTP 500, update out of sequence/,
  );
  const proxy = dockerClient(BASE, {
    timeoutMs: 1000,
    fetch: fakeFetch(() => new Response("<html>403 Forbidden</html>", { status: 403 })).f,
  });
  await assert.rejects(proxy.services(), /HTTP 403, <html>403 Forbidden<\/html>/);
  await assert.rejects(proxy.removeService("ml_model_candidate"), /HTTP 403/);
});

Deno.test("dockerClient() takes a candidate already gone as removed", async () => {
  const gone = dockerClient(BASE, {
    timeoutMs: 1000,
    fetch: fakeFetch(() => Response.json({ message: "service not found" }, { status: 404 })).f,
  });
  await gone.removeService("ml_model_candidate");
});

Deno.test("serviceOf() reads what the controller needs and keeps the spec", () => {
  const service = serviceOf(RAW);
  assert.deepEqual(
    [service.id, service.version, service.name, service.replicas, service.updateState],
    ["abc", 42, "ml_model", 2, "completed"],
  );
  assert.deepEqual(service.env, ["PREFETCH=1"]);
  const global = serviceOf({
    ...RAW,
    Spec: { ...RAW.Spec, Mode: { Global: {} } } as unknown as typeof RAW.Spec,
  });
  assert.equal(global.replicas, undefined);
  const rolledBack = serviceOf({
    ...RAW,
    UpdateStatus: {
      State: "rollback_completed",
      StartedAt: "2026-12-04T10:00:00.5Z",
      Message: "rollback completed",
    },
  });
  assert.equal(rolledBack.updateStartedAtMs, Date.UTC(2026, 11, 4, 10, 0, 0, 500));
  assert.equal(rolledBack.updateMessage, "rollback completed");
  assert.equal(service.updateStartedAtMs, undefined);
});

Deno.test("updatedSpec() changes the count and labels and nothing else", () => {
  const service = serviceOf(RAW);
  const spec = updatedSpec(service, { replicas: 5, labels: { x: "y" } });
  assert.deepEqual(spec, {
    ...RAW.Spec,
    Labels: { x: "y" },
    Mode: { Replicated: { Replicas: 5 } },
  });
  assert.equal(RAW.Spec.Mode.Replicated.Replicas, 2, "the read spec is left as it was");
});
