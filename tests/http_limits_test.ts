/**
 * serveLimited() on real sockets (loopback): requests go through, and the limits close what
 * would otherwise hold the listener forever.
 */
import assert from "node:assert/strict";
import { serveLimited } from "../stack/http_limits.ts";

const LIMITS = { maxConnections: 3, idleMs: 300, lifetimeMs: 1_500 };

function start(limits = LIMITS) {
  return serveLimited(
    { hostname: "127.0.0.1", port: 0, limits },
    (request) => new Response(`hello ${new URL(request.url).pathname}`),
  );
}

/** Reads until the peer closes or `ms` pass: the bytes, and whether it closed. */
async function readUntilClosed(conn: Deno.Conn, ms: number): Promise<[string, boolean]> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return [new TextDecoder().decode(concat(chunks)), false];
    const n = await Promise.race([
      conn.read(buffer).catch(() => null),
      new Promise<"late">((resolve) => setTimeout(() => resolve("late"), left)),
    ]);
    if (n === "late") return [new TextDecoder().decode(concat(chunks)), false];
    if (n === null) return [new TextDecoder().decode(concat(chunks)), true];
    chunks.push(buffer.slice(0, n));
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("serveLimited() serves requests, keep-alive included, as Deno.serve does", async () => {
  const server = start();
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    for (const path of ["/metrics", "/healthz", "/api/stats"]) {
      const response = await fetch(base + path);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `hello ${path}`);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveLimited() closes a connection that never finishes its request's head", async () => {
  const server = start();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    const started = Date.now();
    const [text, closed] = await readUntilClosed(conn, 3_000);
    assert.ok(closed, "closed");
    assert.equal(text, "", "no answer to half a request");
    assert.ok(Date.now() - started < 1_500, `closed after ${Date.now() - started} ms`);
    conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveLimited() closes a connection kept busy past its lifetime", async () => {
  const server = start();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const started = Date.now();
    // A byte of a header every 100 ms: never idle, never a whole request.
    const dribble = setInterval(
      () => conn.write(new TextEncoder().encode("X")).catch(() => {}),
      100,
    );
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nX-Slow: "));
    const [, closed] = await readUntilClosed(conn, 4_000);
    clearInterval(dribble);
    const took = Date.now() - started;
    assert.ok(closed, "closed");
    assert.ok(took >= 1_400 && took < 2_500, `closed after ${took} ms`);
    conn.close();
  } finally {
    await server.shutdown();
  }
});

Deno.test("serveLimited() closes connections beyond the cap, and serves again once they go", async () => {
  const server = start();
  try {
    const held = await Promise.all(
      [1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port })),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    const [, closed] = await readUntilClosed(extra, 1_000);
    assert.ok(closed, "the fourth connection is closed at once");
    assert.equal(server.refused(), 1);
    extra.close();
    for (const conn of held) conn.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
    assert.equal(await response.text(), "hello /healthz");
  } finally {
    await server.shutdown();
  }
});
