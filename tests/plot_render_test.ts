/**
 * A PNG render in progress does not hold up pairing and acknowledging: metric's recorder and
 * dashboard, wired as `metric/main.ts` wires them, consume from a throwaway RabbitMQ while
 * someone asks the dashboard for `error_distribution.png`, and the PNG worker (started by that
 * request) is replaced by one whose render keeps its thread busy for 1.5 s. Pairs published
 * meanwhile must be recorded and acked within a fraction of that, which they could not be if the
 * render ran on the event loop.
 *
 * Self-contained on purpose (no shared harness): it owns its broker and log directory, and
 * cleans them up in `finally`.
 */
import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { startLocalBroker } from "../ops/kit/local_broker.ts";
import { waitFor } from "../ops/kit/process.ts";
import { Broker, type Delivery } from "../stack/broker.ts";
import { HEADERS, QUEUES } from "../stack/contracts.ts";
import { createTelemetry } from "../stack/telemetry.ts";
import { PNG_FILE, startDashboard } from "../metric/dashboard/dashboard.ts";
import type { WorkerLike } from "../metric/dashboard/png_worker_host.ts";
import type { PairRecord } from "../metric/metric_log/format.ts";
import { Pairer } from "../metric/pairing/pairer.ts";
import { ErrorStats } from "../metric/pairing/stats.ts";
import { Recorder } from "../metric/recorder.ts";
import { createRecorderMetrics } from "../metric/telemetry.ts";

const RENDER_MS = 1500;
const PAIRS_PER_SECOND = 200;
const SECONDS = 3;

/** A PNG worker whose every render holds its own thread for {@link RENDER_MS}. */
function slowWorker(): WorkerLike {
  const source = `
    self.onmessage = ({ data }) => {
      if (data.kind === "load") return self.postMessage({ kind: "loaded", ms: 0 });
      const until = performance.now() + ${RENDER_MS};
      while (performance.now() < until) { /* a render that takes its time */ }
      self.postMessage({ kind: "rendered", id: data.id, png: new Uint8Array([137, 80]), ms: ${RENDER_MS} });
    };`;
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  return new Worker(url, { type: "module", name: "slow-png" });
}

function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

Deno.test({
  name: "a slow PNG render does not hold up pairing and acks",
  // The broker's subprocess and the door's socket outlive single awaits by design here.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const broker = await startLocalBroker();
    const logDir = await Deno.makeTempDir({ prefix: "ml-plot-render-" });
    const log = getLogger(["plot-render-test"]);
    const telemetry = createTelemetry("metric", "plot-render-test");
    const door = new Broker({
      urls: [broker.url],
      connectionName: "metric@plot-render-test",
      replica: "plot-render-test",
      prefetch: 1000,
      log,
      telemetry,
    });
    const stats = new ErrorStats();
    const records: PairRecord[] = [];
    const pairer = new Pairer<Delivery>({ ttlMs: 60_000, seenCapacity: 20_000 });
    const metrics = createRecorderMetrics(telemetry.registry);
    const dashboard = startDashboard({
      stats,
      unpaired: () => pairer.pendingCount,
      telemetry,
      log,
      logDir,
      plotEveryMs: 0,
      hops: metrics,
      png: { createWorker: slowWorker },
    });
    const recorder = new Recorder({
      pairer,
      stats: {
        add(record) {
          stats.add(record);
          records.push(record);
        },
      },
      metrics,
      appendRow: () => Promise.resolve(),
      appendLabel: () => Promise.resolve(),
      csvPath: `${logDir}/metric_log.csv`,
      exit: (code) => {
        throw new Error(`exit ${code}`);
      },
      log,
      now: () => performance.now(),
      wallClockMs,
      maxBodyBytes: 4096,
      unpairedTtlMs: 60_000,
    });
    door.consume(QUEUES.yTrue, recorder.handler("y_true"), { manualSettle: true });
    door.consume(QUEUES.yPred, recorder.handler("y_pred"), { manualSettle: true });
    try {
      await door.start();
      const total = PAIRS_PER_SECOND * SECONDS;
      const publishes: Promise<void>[] = [];
      let render: { started: number; finished?: number; status?: number } | undefined;
      const begin = performance.now();
      for (let n = 0; n < total; n++) {
        const due = begin + (n * 1000) / PAIRS_PER_SECOND;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
        if (!render && n === PAIRS_PER_SECOND / 2) {
          // Half a second in: samples are recorded, so the picture has something to draw.
          const started = wallClockMs();
          render = { started };
          const url = new URL(`http://localhost/${PNG_FILE}`);
          void Promise.resolve(dashboard.route(new Request(url), url)).then(async (response) => {
            render!.finished = wallClockMs();
            render!.status = response?.status;
            await response?.body?.cancel();
          });
        }
        const id = `pair-${n}`;
        const headers = { [HEADERS.sentAtMs]: wallClockMs() };
        publishes.push(
          door.publish(QUEUES.yTrue, "150", { messageId: id, headers }),
          door.publish(QUEUES.yPred, "140", { messageId: id, correlationId: id, headers }),
        );
      }
      await Promise.all(publishes);
      await waitFor(`${total} pairs recorded`, () => Promise.resolve(records.length === total), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      await waitFor("the slow render to finish", () => Promise.resolve(!!render?.finished), {
        timeoutMs: 10_000,
        intervalMs: 50,
      });

      const { started, finished, status } = render!;
      assert.equal(status, 200, "the PNG was served, rendered by the slow worker");
      assert.ok(finished! - started >= RENDER_MS, `the render took ${finished! - started} ms`);
      const during = records.filter((r) => r.pairedAtMs > started && r.pairedAtMs < finished!);
      const expected = ((finished! - started) / 1000) * PAIRS_PER_SECOND;
      assert.ok(
        during.length >= expected / 2,
        `${during.length} pairs recorded during the render, ${Math.round(expected)} published`,
      );
      const worst = Math.max(...records.map((r) => r.latencyMs));
      assert.ok(worst < RENDER_MS / 3, `a pair waited ${worst.toFixed(1)} ms for its row`);
      // Acks kept flowing: every delivery of both queues settled, none waiting on the render.
      const settled = async (queue: string, le?: number) => {
        const { values } = await telemetry.handlerSeconds.get();
        return values.find((v) =>
          le === undefined
            ? v.metricName === "ml_handler_seconds_count" && v.labels.queue === queue
            : v.metricName === "ml_handler_seconds_bucket" && v.labels.queue === queue &&
              (v.labels as Record<string, unknown>).le === le
        )?.value ?? 0;
      };
      for (const queue of [QUEUES.yTrue, QUEUES.yPred]) {
        await waitFor(
          `every ${queue} delivery acked`,
          async () => (await settled(queue)) === total,
        );
        assert.equal(await settled(queue, 1), total, `${queue} deliveries acked within 1 s`);
      }
      assert.equal(door.inFlight, 0);
    } finally {
      await door.drain(5_000);
      await dashboard.close();
      await door.close();
      await broker.stop();
      await Deno.remove(logDir, { recursive: true }).catch(() => {});
    }
  },
});
