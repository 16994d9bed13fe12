/**
 * Liveness, readiness and failover against real brokers: a broker
 * outage leaves `/healthz` at 200 while `/readyz` and `ml_broker_connected`
 * say "not ready", and a service given a cluster's members moves to a live
 * one when its own goes away. The services are subprocesses with their real
 * permission flags.
 */
import assert from "node:assert/strict";
import { startMember } from "../stack/broker_members.ts";
import { brokerAddress } from "../stack/common_config.ts";
import type { ServiceName } from "../ops/launch.ts";
import { freePort, type LocalBroker, startLocalBroker } from "../ops/kit/local_broker.ts";
import {
  httpStatus,
  type ServiceProcess,
  spawnService,
  stopAll,
  waitFor,
  waitReady,
} from "../ops/kit/process.ts";
import { metricLogPath } from "../metric/metric_log/format.ts";
import { MetricLogTail } from "../metric/metric_log/reader.ts";
import {
  assertExactlyOnce,
  EXTERNAL_BROKER,
  Pipeline,
  sentSamples,
  sharedBroker,
  stopSharedBroker,
} from "./harness.ts";

// Subprocesses and sockets outlive single awaits by design here.
const integration = { sanitizeOps: false, sanitizeResources: false };

function status(service: ServiceProcess, path: string): Promise<number> {
  return httpStatus(`http://127.0.0.1:${service.httpPort}${path}`);
}

/** The value of the sample `series` (name and labels, as written) on `service`'s /metrics. */
async function gauge(service: ServiceProcess, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
  // prom-client puts the default labels (service, replica) after the metric's own.
  const open = series.endsWith("}") ? series.slice(0, -1) : `${series}{`;
  const line = text.split("\n").find((l) => l.startsWith(open));
  return line === undefined ? Number.NaN : Number(line.split(/\s+/).pop());
}

/** Whether `service` logged a line starting with `text` whose `host` field is `host`. */
function logged(service: ServiceProcess, text: string, host: string): boolean {
  return service.logs().some((line) => String(line.message).startsWith(text) && line.host === host);
}

if (EXTERNAL_BROKER) {
  console.log("skipping the outage test: AMQP_URL names a broker these tests cannot stop");
}

Deno.test({
  name: "a broker outage: alive (/healthz 200) but not ready (/readyz 503), nothing lost after",
  ignore: EXTERNAL_BROKER,
  ...integration,
  async fn() {
    const broker = await sharedBroker();
    const pipeline = await Pipeline.create(broker, "outage");
    try {
      const services = [
        pipeline.spawn("metric", {}, { httpPort: freePort() }),
        pipeline.spawn("model", {}, { httpPort: freePort() }),
      ];
      await Promise.all(services.map((service) => waitReady(service)));
      // 1000 samples at 10 ms: still sending when the broker goes down.
      const features = pipeline.spawn("features", { COUNT: "1000", INTERVAL_MS: "10" }, {
        httpPort: freePort(),
      });
      const all = [...services, features];
      await waitFor("some rows", async () => (await pipeline.rows()).length >= 30);

      await broker.local!.restart(async () => {
        for (const service of all) {
          await waitFor(
            `${service.name} not ready`,
            async () => await status(service, "/readyz") === 503,
          );
          assert.equal(await gauge(service, "ml_broker_connected"), 0, service.name);
        }
        // Long enough for Swarm to have killed them under the old /healthz (three probes).
        const until = Date.now() + 3_000;
        while (Date.now() < until) {
          for (const service of all) {
            assert.equal(await status(service, "/healthz"), 200, `${service.name} stays live`);
            assert.equal(await status(service, "/readyz"), 503, `${service.name} stays not ready`);
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      });

      await Promise.all(services.map((service) => waitReady(service, { timeoutMs: 60_000 })));
      for (const service of services) {
        assert.equal(await gauge(service, "ml_broker_connected"), 1, service.name);
        assert.equal(await status(service, "/healthz"), 200, service.name);
      }
      assert.equal((await features.exit()).code, 0, features.lines.slice(-20).join("\n"));
      const sent = sentSamples(features.logs());
      assert.equal(sent.size, 1000);
      await waitFor("1000 rows", async () => (await pipeline.rows()).length >= 1000, {
        timeoutMs: 90_000,
      });
      await assertExactlyOnce(await pipeline.rows(), sent);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });

Deno.test({
  name: "given two brokers, the services move to the live one when theirs stops, and serve",
  ...integration,
  async fn() {
    const brokers: LocalBroker[] = [];
    const running: ServiceProcess[] = [];
    const logDir = await Deno.makeTempDir({ prefix: "ml-failover-logs-" });
    try {
      brokers.push(...await Promise.all([startLocalBroker(), startLocalBroker()]));
      const [first, second] = brokers.map((broker) => brokerAddress(broker.url));
      /** Spawns `service` listing both brokers, ordered so that it starts at the first. */
      const spawn = (service: ServiceName, replica: string) => {
        const urls = brokers.map((broker) => broker.url);
        if (startMember(replica, 2) === 1) urls.reverse();
        const httpPort = freePort();
        const process = spawnService(service, {
          broker: [first, second],
          httpPort,
          paths: { logDir },
        }, {
          env: {
            AMQP_URL: urls.join(","),
            HTTP_PORT: String(httpPort),
            LOG_DIR: logDir,
            REPLICA: replica,
            SHUTDOWN_TIMEOUT_MS: "5000",
          },
        });
        running.push(process);
        return process;
      };
      /** features against one broker only, sending `count` samples; its sent ids. */
      const send = async (broker: LocalBroker, count: number) => {
        const features = spawnService("features", {
          broker: brokerAddress(broker.url),
          httpPort: 0,
        }, {
          env: { AMQP_URL: broker.url, HTTP_PORT: "0", COUNT: String(count), INTERVAL_MS: "5" },
        });
        running.push(features);
        assert.equal((await features.exit()).code, 0, features.lines.join("\n"));
        return sentSamples(features.logs());
      };
      const rows = new MetricLogTail(metricLogPath(logDir));
      const services = [spawn("metric", "metric-1"), spawn("model", "model-1")];
      await Promise.all(services.map((service) => waitReady(service)));
      for (const service of services) {
        assert.ok(logged(service, "connected to rabbitmq", first), service.lines.join("\n"));
        assert.equal(await gauge(service, `ml_broker_member{member="${first}"}`), 1);
        assert.equal(await gauge(service, `ml_broker_member{member="${second}"}`), 0);
      }
      const sent = await send(brokers[0], 10);
      await waitFor(
        "10 rows through the first broker",
        async () => (await rows.read()).length >= 10,
      );

      await brokers[0].stop();
      for (const service of services) {
        await waitFor(
          `${service.name} to connect to the second broker`,
          () => logged(service, "connected to rabbitmq", second),
          { timeoutMs: 30_000 },
        );
        await waitReady(service);
        assert.equal(await status(service, "/healthz"), 200, service.name);
        assert.equal(await gauge(service, `ml_broker_member{member="${first}"}`), 0);
        assert.equal(await gauge(service, `ml_broker_member{member="${second}"}`), 1);
        assert.ok(logged(service, "lost the connection to rabbitmq", first), service.name);
      }
      // The second broker had never seen these services: they declared their queues there.
      for (const [id, row] of await send(brokers[1], 10)) sent.set(id, row);
      await waitFor(
        "10 more rows through the second",
        async () => (await rows.read()).length >= 20,
      );
      await assertExactlyOnce(await rows.read(), sent);
    } finally {
      await stopAll(running, { graceMs: 5_000 });
      await Promise.all(brokers.map((broker) => broker.stop()));
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
    }
  },
});
