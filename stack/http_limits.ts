/**
 * Bounds on a service's HTTP listener, which Deno's server does not have: it waits forever for a
 * request's head and holds any number of connections, so anyone on the stack's network could
 * tie it up with connections that never finish a request. `serveLimited()` puts a small relay
 * in front of `Deno.serve()`: it accepts on the service's port, closes a connection beyond
 * `maxConnections` at once, and closes one whose client has sent nothing for `idleMs` or that
 * has lived `lifetimeMs`; it copies bytes both ways to the server, which listens on loopback
 * only. HTTP itself stays Deno's.
 *
 * The limits are haproxy's in the gateway, in spirit: a request's head (and an idle keep-alive
 * connection) within the idle time, a whole connection within the lifetime, a cap on how many.
 * Prometheus re-opens a closed keep-alive connection by itself.
 *
 * @module
 */

/** How many connections, how long idle, how long in all. */
export interface ListenerLimits {
  /** Connections held at once; one more is closed as soon as it is accepted. */
  readonly maxConnections: number;
  /** A connection whose client sent nothing for this long is closed (ms). */
  readonly idleMs: number;
  /** A connection is closed this long after it was accepted, whatever it is doing (ms). */
  readonly lifetimeMs: number;
}

/**
 * The services' limits: scrapes and health checks come every few seconds and take
 * milliseconds; people reach the pages through the gateway, a handful at a time.
 */
export const LISTENER_LIMITS: ListenerLimits = {
  maxConnections: 64,
  idleMs: 30_000,
  lifetimeMs: 120_000,
};

/** A listener started by {@link serveLimited}. */
export interface LimitedServer {
  /** Where it accepts. */
  readonly addr: Deno.NetAddr;
  /** Connections closed at accept because `maxConnections` were open. */
  readonly refused: () => number;
  /** Stops accepting, closes every connection, and stops the server behind. */
  shutdown(): Promise<void>;
}

/** Serves `handler` on `hostname:port` within `limits` (see the module's doc). */
export function serveLimited(
  options: {
    hostname: string;
    port: number;
    limits?: ListenerLimits;
    onListen?: (addr: Deno.NetAddr) => void;
  },
  handler: Deno.ServeHandler,
): LimitedServer {
  const limits = options.limits ?? LISTENER_LIMITS;
  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  const innerPort = inner.addr.port;
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  options.onListen?.(addr);
  const open = new Set<() => void>();
  let refused = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (open.size >= limits.maxConnections) {
          refused++;
          closeQuietly(conn);
          continue;
        }
        const close = relay(conn, innerPort, limits, () => open.delete(close));
        open.add(close);
      }
    } catch {
      // the listener was closed: shutdown() is under way
    }
  })();
  return {
    addr,
    refused: () => refused,
    async shutdown() {
      listener.close();
      await accepting;
      for (const close of open) close();
      await inner.shutdown();
    },
  };
}

/**
 * Copies `client` to a connection to `port` on loopback and back, until either side ends or
 * the limits close it; `done` runs once it is over. Returns what closes it from outside.
 */
function relay(
  client: Deno.Conn,
  port: number,
  limits: ListenerLimits,
  done: () => void,
): () => void {
  let server: Deno.Conn | undefined;
  let over = false;
  let lastFromClient = Date.now();
  const close = () => {
    if (over) return;
    over = true;
    clearTimeout(lifetime);
    clearInterval(idle);
    closeQuietly(client);
    if (server) closeQuietly(server);
    done();
  };
  const lifetime = setTimeout(close, limits.lifetimeMs);
  const idle = setInterval(() => {
    if (Date.now() - lastFromClient >= limits.idleMs) close();
  }, Math.min(limits.idleMs, 1_000));
  (async () => {
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port });
      if (over) return closeQuietly(server);
      // The server closing its side (after a response it was asked to close with, or a keep-alive
      // it gave up on) ends the whole connection.
      server.readable.pipeTo(client.writable, { preventClose: true }).catch(() => {}).finally(
        close,
      );
      const buffer = new Uint8Array(16 * 1024);
      for (;;) {
        const n = await client.read(buffer);
        if (n === null) break;
        lastFromClient = Date.now();
        let written = 0;
        while (written < n) written += await server.write(buffer.subarray(written, n));
      }
      // The client is done sending: the response may still be on its way.
      await server.closeWrite();
    } catch {
      // either side went away, or close() ran
      close();
    }
  })();
  return close;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
