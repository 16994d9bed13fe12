/**
 * Who may read a service's HTTP listener. In the stack, everything but the health checks asks
 * for `Authorization: Bearer <HTTP_TOKEN>`: the Docker secret `telemetry_token`, which Prometheus
 * scrapes with and the gateway adds for people it has logged in. Another container on the
 * stack's network (attachable, for debugging) gets 401 from `/metrics`, the dashboard and its
 * API. `/healthz` and `/readyz` stay open: Swarm's health check and `deno task start` call them,
 * and they say only whether the process is live and connected.
 *
 * An empty token means no check: a service run by hand (`deno task model`) or by the tests
 * serves on its own machine, as Prometheus' exporters do by default.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Paths anyone may ask: what health checks need, and nothing else. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/**
 * A check for `token`: `undefined` when `request` may go on, else the 401 to answer. Compares
 * digests in constant time, so the answer's timing says nothing about how much of a guess was
 * right.
 */
export function tokenGate(
  token: string,
  secret = "telemetry_token",
): (request: Request) => Response | undefined {
  if (token === "") return () => undefined;
  const expected = digest(token);
  return (request) => {
    if (OPEN_PATHS.has(new URL(request.url).pathname)) return undefined;
    const given = /^Bearer (\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (given !== undefined && timingSafeEqual(digest(given), expected)) return undefined;
    return new Response(`a bearer token is required (the secret ${secret})\n`, {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="ml-pipeline"' },
    });
  };
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}
