import assert from "node:assert/strict";
import { prometheusClient } from "./prometheus.ts";

const BASE = new URL("http://prometheus:9090");

function client(reply: () => Response | Promise<Response>) {
  const urls: URL[] = [];
  const prometheus = prometheusClient(BASE, {
    timeoutMs: 1000,
    fetch: ((url: URL) => {
      urls.push(url);
      return Promise.resolve(reply());
    }) as typeof fetch,
  });
  return { prometheus, urls };
}

Deno.test("prometheusClient() asks /api/v1/query and reads the vector", async () => {
  const { prometheus, urls } = client(() =>
    Response.json({
      status: "success",
      data: { resultType: "vector", result: [{ metric: { input: "ready" }, value: [1, "3"] }] },
    })
  );
  assert.deepEqual(await prometheus.query("up"), [{ metric: { input: "ready" }, value: [1, "3"] }]);
  assert.equal(urls[0].pathname, "/api/v1/query");
  assert.equal(urls[0].searchParams.get("query"), "up");
});

Deno.test("prometheusClient() sends its login as HTTP Basic, and none without one", async () => {
  const seen: (string | null)[] = [];
  const fetchRecording = ((_url: URL, init?: RequestInit) => {
    seen.push(new Headers(init?.headers).get("authorization"));
    return Promise.resolve(
      Response.json({ status: "success", data: { resultType: "vector", result: [] } }),
    );
  }) as typeof fetch;
  const login = { user: "ml", password: "s3cret" };
  await prometheusClient(BASE, { timeoutMs: 1000, fetch: fetchRecording, login }).query("up");
  await prometheusClient(BASE, { timeoutMs: 1000, fetch: fetchRecording }).query("up");
  assert.deepEqual(seen, [`Basic ${btoa("ml:s3cret")}`, null]);
});

Deno.test("prometheusClient() says why it got nothing", async (t) => {
  const cases: [string, () => Response | Promise<Response>, RegExp][] = [
    [
      "unreachable",
      () => Promise.reject(new TypeError("dns error")),
      /Cannot query Prometheus at http:\/\/prometheus:9090: dns error/,
    ],
    [
      "a bad query",
      () => Response.json({ status: "error", error: "parse error" }, { status: 400 }),
      /HTTP 400, parse error/,
    ],
    ["not JSON", () => new Response("oops", { status: 502 }), /HTTP 502, not JSON: "oops"/],
    [
      "a matrix",
      () => Response.json({ status: "success", data: { resultType: "matrix", result: [] } }),
      /current value is "matrix"/,
    ],
  ];
  for (const [name, reply, error] of cases) {
    await t.step(name, async () => {
      await assert.rejects(client(reply).prometheus.query("up"), error);
    });
  }
});
