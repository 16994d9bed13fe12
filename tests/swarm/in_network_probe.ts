/**
 * The deployed stack seen from inside its own network, as a compromised or stray container sees
 * it. `tests/swarm/outside_in.ts` runs this file in a container it starts on the stack's
 * `pipeline` network, from the features image (mounted at `/app/tests/swarm/`, so the imports
 * below resolve to the image's own code and its cached dependencies):
 *
 * ```sh
 * docker run --rm --network ml_pipeline --entrypoint deno \
 *   -v "$PWD/tests/swarm/in_network_probe.ts:/app/tests/swarm/in_network_probe.ts:ro" \
 *   -e PROBE_CA -e PROBE_FEATURES_PASSWORD ml-features:latest \
 *   run --cached-only --allow-net --allow-env=PROBE_CA,PROBE_FEATURES_PASSWORD \
 *   tests/swarm/in_network_probe.ts
 * ```
 *
 * It tries every port a service of the stack listens on, without credentials and with another
 * service's (features' broker login), and prints one JSON line per try. It judges nothing: the
 * caller holds what may answer.
 *
 * @module
 */
import type { AMQPChannel } from "@cloudamqp/amqp-client";
import { connectClient } from "../../stack/amqp_client.ts";
import { withTimeout } from "../../stack/async.ts";
import { QUEUES } from "../../stack/contracts.ts";
import { publishExchange } from "../../stack/topology.ts";

/** One try and what came back, as the probe prints it. */
export interface Try {
  readonly target: string;
  readonly what: string;
  readonly credentials: string;
  readonly answer: string;
}

/** How long one try may take: a port that drops packets is as closed as one that refuses. */
const TRY_MS = 5_000;

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return withTimeout(promise, TRY_MS, `no answer in ${TRY_MS} ms (${what})`);
}

/** What a failed connection says, shortened to the kind of failure. */
function failure(error: unknown): string {
  const text = String(error);
  // fetch() says "tcp connect error" for a refused connection (its cause has no errno kind).
  if (error instanceof Deno.errors.ConnectionRefused || /tcp connect error/.test(text)) {
    return "refused";
  }
  if (/failed to lookup|Name or service not known|dns error|NotFound/i.test(text)) {
    return "no such host";
  }
  if (/ACCESS_REFUSED|403/.test(text)) return "refused (403)";
  if (/no answer in/.test(text)) return "no answer";
  return text.split("\n")[0].slice(0, 120);
}

/** A TCP connection's answer: "accepted a connection", or the kind of failure. */
export async function tcpAnswer(hostname: string, port: number): Promise<string> {
  try {
    const connection = await within(Deno.connect({ hostname, port }), `${hostname}:${port}`);
    connection.close();
    return "accepted a connection";
  } catch (error) {
    return failure(error);
  }
}

/**
 * A TLS handshake with `ca` but no certificate of its own, then a read: what a peer that knows the
 * Erlang cookie but holds no certificate from the stack's CA gets from the distribution port.
 */
async function tlsWithoutCertificate(hostname: string, port: number, ca: string): Promise<string> {
  try {
    const connection = await within(
      Deno.connectTls({ hostname, port, caCerts: [ca] }),
      `${hostname}:${port}`,
    );
    try {
      await within(connection.handshake(), "the handshake");
      const read = await within(connection.read(new Uint8Array(1)), "a first byte");
      return read === null ? "closed" : "answered";
    } finally {
      try {
        connection.close();
      } catch { /* closed by the peer */ }
    }
  } catch (error) {
    return /certificate ?required/i.test(String(error))
      ? "refused (certificate required)"
      : failure(error);
  }
}

/**
 * An HTTP GET's status (and where it redirects), with `login` ("user:password") as Basic; a POST
 * of `body` when there is one.
 */
export async function httpAnswer(
  url: string,
  client?: Deno.HttpClient,
  login?: string,
  body?: string,
): Promise<string> {
  try {
    const response = await fetch(url, {
      client,
      method: body === undefined ? "GET" : "POST",
      body,
      redirect: "manual",
      headers: login === undefined ? {} : { authorization: `Basic ${btoa(login)}` },
      signal: AbortSignal.timeout(TRY_MS),
    });
    await response.body?.cancel();
    const location = response.headers.get("location");
    return `${response.status}${location ? ` to ${location}` : ""}`;
  } catch (error) {
    return failure(error instanceof TypeError && error.cause ? error.cause : error);
  }
}

/**
 * Logs in over AMQP and, when that works, tries `action` on a confirm channel: "logged in" and
 * "done" mean the broker let it through.
 */
export async function amqpAnswer(
  url: string,
  ca: string,
  action?: (channel: AMQPChannel) => Promise<unknown>,
): Promise<string> {
  let client;
  try {
    client = await within(connectClient(url, { ca, name: "port probe" }), url);
  } catch (error) {
    return failure(error);
  }
  try {
    if (action === undefined) return "logged in";
    const channel = await client.channel();
    await channel.confirmSelect();
    await within(action(channel), "the broker's answer");
    return "done";
  } catch (error) {
    return failure(error);
  } finally {
    await client.close().catch(() => {});
  }
}

/** Every try, in order; `ca` is the stack's CA, `featuresPassword` features' broker password. */
export async function probe(ca: string, featuresPassword: string): Promise<Try[]> {
  const tries: Try[] = [];
  const add = (target: string, what: string, credentials: string, answer: string) =>
    tries.push({ target, what, credentials, answer });
  const features = `features:${featuresPassword}`;

  // The services' own HTTP listeners (health, metrics, pages), and Prometheus', without a
  // login and with features' broker login (HTTP Basic), which none of them takes.
  const pages: [string, string[]][] = [
    ["features:8001", ["/healthz", "/metrics"]],
    ["model:8002", ["/healthz", "/metrics"]],
    ["metric:8003", ["/healthz", "/metrics", "/", "/api/stats", "/records"]],
    ["controller:8004", ["/healthz", "/metrics", "/"]],
    ["prometheus:9090", ["/-/healthy", "/api/v1/targets"]],
    ["alertmanager:9093", ["/-/healthy", "/api/v2/alerts"]],
    ["rabbitmq:15692", ["/metrics"]],
  ];
  for (const [target, paths] of pages) {
    for (const path of paths) {
      add(target, `GET ${path}`, "none", await httpAnswer(`http://${target}${path}`));
      if (path === "/healthz" || path === "/-/healthy") continue;
      add(
        target,
        `GET ${path}`,
        "features'",
        await httpAnswer(`http://${target}${path}`, undefined, features),
      );
    }
  }

  // A forged alert to the controller's receiver: only Alertmanager's token may send one.
  const forged = JSON.stringify({
    version: "4",
    alerts: [{ status: "firing", labels: { alertname: "ModelDrift" }, annotations: {} }],
  });
  for (const [credentials, login] of [["none", undefined], ["features'", features]] as const) {
    add(
      "controller:8004",
      "POST /alerts",
      credentials,
      await httpAnswer("http://controller:8004/alerts", undefined, login, forged),
    );
  }

  // The broker's metrics over TLS: they want a client certificate from the stack's CA.
  add(
    "rabbitmq:15691",
    "TLS without a client certificate",
    "none",
    await tlsWithoutCertificate("rabbitmq", 15691, ca),
  );

  const client = Deno.createHttpClient({ caCerts: [ca] });
  try {
    for (const login of [undefined, features]) {
      const credentials = login === undefined ? "none" : "features'";
      add(
        "rabbitmq:15671",
        "GET /api/queues",
        credentials,
        await httpAnswer("https://rabbitmq:15671/rabbitmq/api/queues", client, login),
      );
      add(
        "gateway:8443",
        "GET /dashboard/",
        credentials,
        await httpAnswer("https://gateway:8443/dashboard/", client, login),
      );
    }
    add("gateway:8443", "GET /", "none", await httpAnswer("https://gateway:8443/", client));
  } finally {
    client.close();
  }

  // Plain AMQP, the Erlang distribution's port mapper, the Docker API's proxy. (The
  // distribution's port, 25672, is tried below as what it is: TLS that wants a certificate.)
  for (
    const [hostname, port] of [["rabbitmq", 5672], ["rabbitmq", 4369], [
      "docker-proxy",
      2375,
    ]] as const
  ) {
    add(`${hostname}:${port}`, "TCP", "none", await tcpAnswer(hostname, port));
  }

  add(
    "rabbitmq:25672",
    "TLS without a client certificate",
    "none",
    await tlsWithoutCertificate("rabbitmq", 25672, ca),
  );

  const broker = "rabbitmq:5671";
  add(broker, "AMQP login", "guest", await amqpAnswer(`amqps://guest:guest@${broker}`, ca));
  add(
    broker,
    "AMQP login",
    "a wrong password",
    await amqpAnswer(`amqps://features:wrong@${broker}`, ca),
  );
  const asFeatures = `amqps://${features}@${broker}`;
  add(
    broker,
    "read y_true",
    "features'",
    await amqpAnswer(asFeatures, ca, (channel) => channel.basicGet(QUEUES.yTrue, { noAck: false })),
  );
  add(
    broker,
    "publish to y_pred",
    "features'",
    await amqpAnswer(
      asFeatures,
      ca,
      (channel) =>
        channel.basicPublish(publishExchange(QUEUES.yPred), "", new TextEncoder().encode("{}")),
    ),
  );
  add(
    broker,
    "delete dead_letter",
    "features'",
    await amqpAnswer(
      asFeatures,
      ca,
      (channel) => channel.queueDelete(QUEUES.deadLetter, { ifEmpty: true }),
    ),
  );
  return tries;
}

if (import.meta.main) {
  const need = (name: string) => {
    const value = Deno.env.get(name);
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  for (const t of await probe(need("PROBE_CA"), need("PROBE_FEATURES_PASSWORD"))) {
    console.log(JSON.stringify(t));
  }
  Deno.exit(0); // a try that timed out may still hold a socket open
}
