/**
 * The deployed stack seen from the host, as a stranger sees it: every port the stack published
 * before its front door, and the two it publishes now, tried without credentials and with
 * another role's. What answered is printed as a table and checked against the one allowed
 * shape: the gateway asks for its login, AMQP over TLS refuses a login it does not know, and
 * nothing else answers at all.
 *
 * @module
 */
import assert from "node:assert/strict";
import { amqpAnswer, httpAnswer, tcpAnswer, type Try } from "./in_network_probe.ts";
import { sh } from "./swarm_shell.ts";

/** One try and what came back. */
export interface Answer {
  readonly port: number;
  readonly what: string;
  readonly credentials: string;
  readonly answer: string;
}

/**
 * The ports the stack published before its front door. (Plain 5672 and 15672 are not tried by
 * connecting: a broker installed on the host may listen there; the stack's published ports are
 * checked from its services' specs instead.)
 */
export const CLOSED_PORTS = [15671, 15691, 8003, 8004, 9090] as const;

/**
 * Tries every port from the host; `secret` reads a file of ops/secrets/. Returns the answers
 * after asserting them.
 */
export async function outsideIn(options: {
  gatewayPort: number;
  amqpPort: number;
  secret(name: string): Promise<string>;
}): Promise<Answer[]> {
  const { gatewayPort, amqpPort, secret } = options;
  const ca = await secret("broker_ca.pem");
  const client = Deno.createHttpClient({ caCerts: [ca] });
  const gateway = `https://127.0.0.1:${gatewayPort}`;
  // Another role's credentials: a service's broker password at the people's door.
  const model = `model:${await secret("broker_model_password")}`;
  const answers: Answer[] = [];
  const add = (port: number, what: string, credentials: string, answer: string) =>
    answers.push({ port, what, credentials, answer });
  try {
    for (const port of CLOSED_PORTS) add(port, "TCP", "none", await tcpAnswer("127.0.0.1", port));
    add(gatewayPort, "GET /", "none", await httpAnswer(`${gateway}/`, client));
    for (const path of ["/dashboard/", "/prometheus/api/v1/targets", "/autoscaler/metrics"]) {
      add(gatewayPort, `GET ${path}`, "none", await httpAnswer(gateway + path, client));
      add(gatewayPort, `GET ${path}`, "model's", await httpAnswer(gateway + path, client, model));
    }
    const queues = "/rabbitmq/api/queues";
    add(gatewayPort, `GET ${queues}`, "none", await httpAnswer(gateway + queues, client));
    add(
      gatewayPort,
      `GET ${queues}`,
      "model's",
      await httpAnswer(gateway + queues, client, model),
    );
    const amqp = `amqps://127.0.0.1:${amqpPort}`;
    add(
      amqpPort,
      "AMQP login",
      "guest",
      await amqpAnswer(`amqps://guest:guest@127.0.0.1:${amqpPort}`, ca),
    );
    add(
      amqpPort,
      "AMQP login",
      "a wrong password",
      await amqpAnswer(amqp.replace("//", "//model:wrong@"), ca),
    );
  } finally {
    client.close();
  }
  console.log(
    [
      "port  | what | credentials | answer",
      ...answers.map((a) => `${a.port} | ${a.what} | ${a.credentials} | ${a.answer}`),
    ].join("\n"),
  );
  for (const a of answers) {
    const allowed = CLOSED_PORTS.includes(a.port as typeof CLOSED_PORTS[number])
      ? a.answer === "refused"
      : a.what === "GET /"
      ? a.answer === "302 to /dashboard/"
      : a.port === gatewayPort
      ? a.answer === "401"
      : a.answer === "refused (403)";
    assert.ok(allowed, `${a.port} ${a.what} with ${a.credentials} credentials: ${a.answer}`);
  }
  return answers;
}

/**
 * What may still answer anyone on the stack's own network beyond the allowed answers: nothing
 * now. (The broker's epmd, 4369, listens on loopback only in the one-broker stack; a cluster's
 * members must reach each other's, docs/security.md.) A try that answers and is neither here
 * nor an allowed answer fails the test.
 */
export const STILL_OPEN_INSIDE: readonly string[] = [];

/** Whether a try from inside got what anyone may get: a health check, a login page, a refusal. */
export function allowedInside(t: Try): boolean {
  if (/^(refused|refused \(.+\)|no such host|no answer|closed)$/.test(t.answer)) return true;
  if (/^40[134]$/.test(t.answer)) return true; // asked to log in, forbidden, or nothing there
  if (t.what === "GET /healthz" || t.what === "GET /-/healthy") return t.answer === "200";
  return t.target === "gateway:8443" && t.what === "GET /" && t.answer === "302 to /dashboard/";
}

/**
 * Runs tests/swarm/in_network_probe.ts in a container on the stack's `network`, from `image`
 * (one of the services', which holds the code and dependencies the probe imports); prints what
 * answered and asserts that nothing answered beyond the allowed answers and
 * {@link STILL_OPEN_INSIDE}.
 */
export async function insideOut(options: {
  network: string;
  image: string;
  secret(name: string): Promise<string>;
}): Promise<Try[]> {
  const probe = new URL("./in_network_probe.ts", import.meta.url).pathname;
  const env = {
    PROBE_CA: await options.secret("broker_ca.pem"),
    PROBE_FEATURES_PASSWORD: await options.secret("broker_features_password"),
  };
  const { stdout } = await sh("docker", [
    "run",
    "--rm",
    "--network",
    options.network,
    "--entrypoint",
    "deno",
    "-v",
    `${probe}:/app/tests/swarm/in_network_probe.ts:ro`,
    "-e",
    "PROBE_CA",
    "-e",
    "PROBE_FEATURES_PASSWORD",
    options.image,
    "run",
    "--cached-only",
    "--frozen",
    "--allow-net",
    "--allow-env=PROBE_CA,PROBE_FEATURES_PASSWORD",
    "tests/swarm/in_network_probe.ts",
  ], { env });
  const tries = stdout.trim().split("\n").map((line) => JSON.parse(line) as Try);
  const key = (t: Try) => `${t.target} ${t.what}`;
  const verdict = (t: Try) =>
    allowedInside(t)
      ? "allowed"
      : STILL_OPEN_INSIDE.includes(key(t))
      ? "still open"
      : "NOT ALLOWED";
  console.log(
    [
      "target | what | credentials | answer | verdict",
      ...tries.map((t) =>
        `${t.target} | ${t.what} | ${t.credentials} | ${t.answer} | ${verdict(t)}`
      ),
    ].join("\n"),
  );
  assert.ok(tries.length >= 38, `the probe printed ${tries.length} tries:\n${stdout}`);
  const unexpected = tries.filter((t) => verdict(t) === "NOT ALLOWED");
  assert.deepEqual(
    unexpected,
    [],
    "answers from inside the stack's network beyond what is allowed",
  );
  return tries;
}
