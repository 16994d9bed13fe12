import assert from "node:assert/strict";
import { tokenGate } from "./http_auth.ts";

function get(path: string, authorization?: string): Request {
  return new Request(`http://model:8002${path}`, {
    headers: authorization === undefined ? {} : { authorization },
  });
}

Deno.test("tokenGate() refuses /metrics and pages without the bearer token", async () => {
  const gate = tokenGate("s3cret");
  for (const path of ["/metrics", "/", "/api/stats", "/plot.svg"]) {
    const refused = gate(get(path));
    assert.equal(refused?.status, 401, path);
    assert.equal(refused?.headers.get("www-authenticate"), 'Bearer realm="ml-pipeline"');
    assert.match(await refused!.text(), /bearer token is required/);
  }
});

Deno.test("tokenGate() lets the right token through and refuses a wrong or a Basic one", () => {
  const gate = tokenGate("s3cret");
  assert.equal(gate(get("/metrics", "Bearer s3cret")), undefined);
  assert.equal(gate(get("/metrics", "bearer s3cret")), undefined, "the scheme is case-insensitive");
  for (
    const wrong of ["Bearer s3cre", "Bearer s3crett", "Bearer ", "Basic czNjcmV0", "s3cret"]
  ) {
    assert.equal(gate(get("/metrics", wrong))?.status, 401, wrong);
  }
});

Deno.test("tokenGate() leaves the health checks open", () => {
  const gate = tokenGate("s3cret");
  assert.equal(gate(get("/healthz")), undefined);
  assert.equal(gate(get("/readyz")), undefined);
  assert.equal(gate(get("/healthz/x"))?.status, 401, "only the exact paths");
});

Deno.test("tokenGate() with no token checks nothing", () => {
  assert.equal(tokenGate("")(get("/metrics")), undefined);
});
