/**
 * What the integration tests share: one broker per test file (a throwaway
 * RabbitMQ, or the one `AMQP_URL` names), a fresh vhost per test (isolated
 * queues without a broker restart), and the services spawned as real
 * subprocesses with their real permission flags.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { AMQPProperties } from "@cloudamqp/amqp-client";
import { connectClient } from "../stack/amqp_client.ts";
import type { LocalBroker } from "../ops/kit/local_broker.ts";
import { ManagementApi, managementEndpoint } from "../ops/kit/management.ts";
import type { ServiceName } from "../ops/launch.ts";
import { brokerAddress } from "../stack/common_config.ts";
import { POLICIES } from "../stack/policies.ts";
import { publishExchange } from "../stack/topology.ts";
import { PipelineDriver, startBroker, withVhost } from "../ops/kit/pipeline.ts";
import type { ServiceProcess } from "../ops/kit/process.ts";
import { metricLogPath, type PairRecord } from "../metric/metric_log/format.ts";
import { MetricLogTail } from "../metric/metric_log/reader.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import { type ModelArtifact, predict } from "../model/linear.ts";
import { type Dataset, loadDiabetes } from "../stack/dataset.ts";

/** The broker the tests of a file run against. */
export interface TestBroker {
  /** AMQP URL with credentials, without a vhost. */
  readonly url: string;
  /** `host:port`, for the services' `--allow-net`. */
  readonly address: string;
  readonly hostname: string;
  readonly port: number;
  /** The throwaway broker this file started; undefined for `AMQP_URL`'s, which it cannot restart. */
  readonly local?: LocalBroker;
  /** Creates `vhost` with the pipeline's policies and lets the URL's user do everything in it. */
  addVhost(vhost: string): Promise<void>;
  deleteVhost(vhost: string): Promise<void>;
  /**
   * Messages in each queue of `vhost`: ready and unacknowledged on a local
   * broker, ready only on an external one (the management API's counts lag).
   */
  depths(vhost: string): Promise<Record<string, number>>;
  /** Stops the broker when this file started it. */
  stop(): Promise<void>;
}

/** True when the tests run against the broker `AMQP_URL` names rather than their own. */
export const EXTERNAL_BROKER = Deno.env.get("AMQP_URL") !== undefined;

function testBroker(
  url: string,
  admin: Pick<TestBroker, "addVhost" | "deleteVhost" | "depths" | "stop">,
  local?: LocalBroker,
): TestBroker {
  const address = brokerAddress(url);
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  return {
    url: withVhost(url, ""),
    address,
    hostname: new URL(url).hostname,
    port,
    local,
    ...admin,
  };
}

/** A throwaway broker, administered with rabbitmqctl. */
function localTestBroker(broker: LocalBroker): TestBroker {
  return testBroker(broker.url, {
    async addVhost(vhost) {
      await broker.ctl("add_vhost", vhost);
      await broker.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*");
      await broker.applyPolicies(vhost);
    },
    async deleteVhost(vhost) {
      await broker.ctl("delete_vhost", vhost);
    },
    async depths(vhost) {
      // Names from rabbitmqctl; counts from the broker over AMQP (queue.declare-ok), because
      // list_queues' `messages` of a quorum queue lags by its statistics interval.
      const out = await broker.ctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name");
      const names = out.trim().split("\n").map((line) => line.trim()).filter(Boolean);
      return await queueDepths(withVhost(broker.url, vhost), names);
    },
    stop: () => broker.stop(),
  }, broker);
}

/**
 * The broker at `url`, administered through its management HTTP API
 * (`AMQP_MANAGEMENT_URL`, by default port 15672 of the AMQP host).
 */
function externalBroker(url: string, managementUrl?: string): TestBroker {
  const api = new ManagementApi(managementEndpoint(url, managementUrl));
  const user = decodeURIComponent(new URL(url).username) || "guest";
  return testBroker(url, {
    async addVhost(vhost) {
      await api.addVhost(vhost);
      await api.setPermissions(vhost, user);
      for (const policy of POLICIES) await api.putPolicy(vhost, policy);
    },
    deleteVhost: (vhost) => api.deleteVhost(vhost),
    async depths(vhost) {
      // The API's message counts lag by its statistics interval (5 s): take the
      // names from it and the counts from the broker itself.
      const names = (await api.queues(vhost)).map((queue) => queue.name);
      return await queueDepths(withVhost(url, vhost), names);
    },
    stop: () => Promise.resolve(),
  });
}

/** Messages ready in each of `queues`. */
async function queueDepths(
  url: string,
  queues: readonly string[],
): Promise<Record<string, number>> {
  const client = await connectClient(url);
  try {
    const channel = await client.channel();
    const depths: Record<string, number> = {};
    for (const name of queues) {
      depths[name] = (await channel.queueDeclare(name, { passive: true })).messageCount;
    }
    return depths;
  } finally {
    await client.close();
  }
}

/** A test's slice of the shared broker: its own vhost, log directory and processes. */
export class Pipeline {
  readonly broker: TestBroker;
  readonly vhost: string;
  readonly url: string;
  readonly logDir: string;
  readonly #services: PipelineDriver;
  readonly #metricLog: MetricLogTail;

  private constructor(broker: TestBroker, vhost: string, logDir: string) {
    this.broker = broker;
    this.vhost = vhost;
    this.url = withVhost(broker.url, vhost);
    this.logDir = logDir;
    this.#services = new PipelineDriver({
      urls: [this.url],
      paths: { logDir },
      env: { LOG_DIR: logDir, SHUTDOWN_TIMEOUT_MS: "5000" },
      graceMs: 5_000,
    });
    this.#metricLog = new MetricLogTail(metricLogPath(logDir));
  }

  /** A fresh vhost on `broker` (its URL's user may use it) and a fresh log directory. */
  static async create(broker: TestBroker, name: string): Promise<Pipeline> {
    const vhost = `${name}-${crypto.randomUUID().slice(0, 8)}`;
    await broker.addVhost(vhost);
    const logDir = await Deno.makeTempDir({ prefix: "ml-test-logs-" });
    return new Pipeline(broker, vhost, logDir);
  }

  /** Every process this test spawned. */
  get processes(): readonly ServiceProcess[] {
    return this.#services.processes;
  }

  /**
   * Spawns `service` with its real permissions (this broker, no HTTP
   * listener unless `httpPort` is given) and `env` on top of the test
   * defaults; `args` replaces the `deno` arguments.
   */
  spawn(
    service: ServiceName,
    env: Record<string, string> = {},
    options: { httpPort?: number; args?: string[] } = {},
  ): ServiceProcess {
    return this.#services.start(service, { env, httpPort: options.httpPort, args: options.args });
  }

  /** The rows of metric_log.csv so far. */
  rows(): Promise<PairRecord[]> {
    return this.#metricLog.read();
  }

  /** Messages in each queue of this vhost. */
  depths(): Promise<Record<string, number>> {
    return this.broker.depths(this.vhost);
  }

  /**
   * Publishes one raw message (confirmed) to `queue` of this vhost, through the default exchange
   * or, with `via: "exchange"`, through the queue's own as the services do (a shadow copy too).
   */
  publish(
    queue: string,
    body: string | Uint8Array,
    properties: AMQPProperties = {},
    via: "default" | "exchange" = "default",
  ): Promise<void> {
    const exchange = via === "exchange" ? publishExchange(queue) : "";
    return publishConfirmed(this.url, queue, body, properties, exchange);
  }

  /** Takes every message now in `queue` (acking them) and returns body and headers. */
  async take(queue: string): Promise<{ body: string; properties: AMQPProperties }[]> {
    const client = await connectClient(this.url);
    const taken: { body: string; properties: AMQPProperties }[] = [];
    try {
      const channel = await client.channel();
      for (;;) {
        // Acked one by one: a quorum queue counts a no-ack get as delivered, not gone.
        const message = await channel.basicGet(queue, { noAck: false });
        if (!message) break;
        taken.push({ body: message.bodyToString() ?? "", properties: message.properties });
        await message.ack();
      }
    } finally {
      await client.close();
    }
    return taken;
  }

  /** Stops every process still running and removes the log directory and the vhost. */
  async dispose(): Promise<void> {
    await this.#services.stopAll();
    await Deno.remove(this.logDir, { recursive: true }).catch(() => {});
    await this.broker.deleteVhost(this.vhost).catch(() => {});
  }
}

/** The sample ids features logged as sent, with their data set row. */
export function sentSamples(features: Iterable<Record<string, unknown>>): Map<string, number> {
  const sent = new Map<string, number>();
  for (const line of features) {
    if (typeof line.message === "string" && line.message.startsWith("sent sample")) {
      sent.set(String(line.id), Number(line.row));
    }
  }
  return sent;
}

let truth: Promise<{ dataset: Dataset; model: ModelArtifact }> | undefined;

/**
 * The data set, and the model versions a row may name: `models`, or the trained artifact alone.
 * Loaded once per test process.
 */
async function groundTruth(
  models?: ReadonlyMap<string, ModelArtifact>,
): Promise<{ dataset: Dataset; known: ReadonlyMap<string, ModelArtifact> }> {
  truth ??= Promise.all([loadDiabetes(), loadModelArtifact()]).then(([dataset, model]) => ({
    dataset,
    model,
  }));
  const { dataset, model } = await truth;
  return { dataset, known: models ?? new Map([[model.version, model]]) };
}

/**
 * Asserts that `rows` are exactly the samples of `sent` (id → data set row): none lost, none
 * recorded twice, none that was never sent; each with the data set's true value, the prediction
 * of the model version the row names (`models`; default the trained artifact alone), and their
 * absolute difference.
 */
export async function assertExactlyOnce(
  rows: readonly PairRecord[],
  sent: ReadonlyMap<string, number>,
  models?: ReadonlyMap<string, ModelArtifact>,
): Promise<void> {
  const { dataset, known } = await groundTruth(models);
  const ids = new Set(rows.map((r) => r.id));
  const duplicated = rows.length - ids.size;
  const lost = [...sent.keys()].filter((id) => !ids.has(id)).length;
  const unknown = [...ids].filter((id) => !sent.has(id)).length;
  assert.equal(duplicated, 0, `${duplicated} samples were recorded more than once`);
  assert.equal(lost, 0, `${lost} of ${sent.size} samples sent were never recorded`);
  assert.equal(unknown, 0, `${unknown} rows are of samples never sent`);
  for (const row of rows) {
    const index = sent.get(row.id)!;
    assert.equal(row.yTrue, dataset.y[index]);
    const version = known.get(row.modelVersion);
    assert.ok(version, `unknown model version ${row.modelVersion}`);
    assert.ok(
      Math.abs(row.yPred - predict(version, dataset.X[index])) < 1e-9,
      `prediction of row ${index}`,
    );
    assert.ok(Math.abs(row.absoluteError - Math.abs(row.yTrue - row.yPred)) < 1e-9);
  }
}

/**
 * Exactly-once by count, for runs too fast for a log line per sample (features' log is bounded
 * and drops lines under load; the container's log rotates): `sentCount` samples confirmed, and
 * `rows` holds exactly that many, none twice, each one a data set row's true value with the
 * prediction of the model version it names and their absolute difference. With a single
 * producer, N confirmed sends and N distinct valid rows mean none lost and none duplicated.
 */
export async function assertCountedOnce(
  rows: readonly PairRecord[],
  sentCount: number,
  models?: ReadonlyMap<string, ModelArtifact>,
): Promise<void> {
  const { dataset, known } = await groundTruth(models);
  const duplicated = rows.length - new Set(rows.map((r) => r.id)).size;
  assert.equal(duplicated, 0, `${duplicated} samples were recorded more than once`);
  assert.equal(
    rows.length,
    sentCount,
    `${sentCount} samples sent, ${rows.length} recorded (${sentCount - rows.length} lost)`,
  );
  const rowsOf = new Map<number, number[]>();
  dataset.y.forEach((y, i) => rowsOf.set(y, [...rowsOf.get(y) ?? [], i]));
  let wrong = 0;
  for (const row of rows) {
    const version = known.get(row.modelVersion);
    const fits = version !== undefined &&
      (rowsOf.get(row.yTrue) ?? []).some((i) =>
        Math.abs(row.yPred - predict(version, dataset.X[i])) < 1e-9
      ) &&
      Math.abs(row.absoluteError - Math.abs(row.yTrue - row.yPred)) < 1e-9;
    if (!fits) wrong++;
  }
  assert.equal(wrong, 0, `${wrong} rows match no data set row and model version`);
}

let shared: Promise<TestBroker> | undefined;

/**
 * The broker this test file shares: the one `AMQP_URL` names (administered
 * through the management API at `AMQP_MANAGEMENT_URL`), else a throwaway
 * RabbitMQ started on first use.
 */
export function sharedBroker(): Promise<TestBroker> {
  shared ??= startBroker({ amqpUrl: Deno.env.get("AMQP_URL") }).then((broker) =>
    broker.local
      ? localTestBroker(broker.local)
      : externalBroker(broker.urls[0].href, Deno.env.get("AMQP_MANAGEMENT_URL"))
  );
  return shared;
}

/** Stops the shared broker (when this file started it); call from the last test of the file. */
export async function stopSharedBroker(): Promise<void> {
  if (shared) await (await shared).stop();
  shared = undefined;
}

/**
 * Publishes one persistent message to `queue` as `url`'s user and waits for
 * the broker's confirm. The connection takes the broker's frame size
 * (`connectClient`): amqp-client's own 8 KiB cannot carry the large header
 * tables the hostile tests send.
 */
export async function publishConfirmed(
  url: string,
  queue: string,
  body: string | Uint8Array,
  properties: AMQPProperties = {},
  exchange = "",
): Promise<void> {
  const client = await connectClient(url);
  try {
    const channel = await client.channel();
    await channel.confirmSelect();
    await channel.basicPublish(exchange, queue, body, { deliveryMode: 2, ...properties });
  } finally {
    await client.close();
  }
}
