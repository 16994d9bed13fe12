/**
 * A candidate in shadow, on a real RabbitMQ: a second model process with
 * `MODEL_ROLE=candidate` and another artifact gets a copy of every sample,
 * metric pairs its predictions apart in shadow_log.csv (once each, through a
 * metric SIGKILL), the stable pipeline's rows and MAE never see them, and the
 * copy stops when the last candidate does.
 */
import assert from "node:assert/strict";
import { serializeModelArtifact } from "../model/artifact.ts";
import { fit, type ModelArtifact, predict } from "../model/linear.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import { SHADOW_HEADER } from "../metric/shadow/shadow_log.ts";
import { parseShadowRecord, type ShadowRecord } from "../metric/shadow/shadow_log.ts";
import { freePort } from "../ops/kit/local_broker.ts";
import { waitFor, waitReady } from "../ops/kit/process.ts";
import { runArgs } from "../ops/launch.ts";
import { QUEUES } from "../stack/contracts.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import {
  assertExactlyOnce,
  Pipeline,
  sentSamples,
  sharedBroker,
  stopSharedBroker,
} from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };
const dataset = await loadDiabetes();

async function shadowRows(logDir: string): Promise<ShadowRecord[]> {
  try {
    const text = await Deno.readTextFile(`${logDir}/shadow_log.csv`);
    assert.ok(text.startsWith(`${SHADOW_HEADER}\n`), text.slice(0, 200));
    return text.split("\n").flatMap((line) => parseShadowRecord(line) ?? []);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function scrape(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    signal: AbortSignal.timeout(2_000),
  });
  return await response.text();
}

Deno.test({
  name:
    "a candidate in shadow is paired apart, once per sample, and never touches the stable record",
  ...integration,
  async fn(t) {
    const stable = await loadModelArtifact();
    // Another version: fitted on 400 of the 442 rows, so its errors differ from the stable one's.
    const candidate: ModelArtifact = await fit({
      ...dataset,
      X: dataset.X.slice(0, 400),
      y: dataset.y.slice(0, 400),
    });
    assert.notEqual(candidate.version, stable.version);
    const artifact = await Deno.makeTempFile({ prefix: "ml-candidate-", suffix: ".json" });
    await Deno.writeTextFile(artifact, serializeModelArtifact(candidate));
    const pipeline = await Pipeline.create(await sharedBroker(), "shadow");
    try {
      const metricPort = freePort();
      // A short TTL: predictions whose stable outcome died with the killed metric go soon.
      const metricEnv = { REPLICA: "metric-1", UNPAIRED_TTL_MS: "3000" };
      let metric = pipeline.spawn("metric", metricEnv, { httpPort: metricPort });
      const model = pipeline.spawn("model", { REPLICA: "model-a" }, { httpPort: freePort() });
      const candidatePort = freePort();
      const { hostname, port } = pipeline.broker;
      const shadow = pipeline.spawn("model", {
        REPLICA: "candidate-1",
        MODEL_ROLE: "candidate",
        MODEL_PATH: artifact,
      }, {
        httpPort: candidatePort,
        args: runArgs("model", {
          broker: `${hostname}:${port}`,
          httpPort: candidatePort,
          paths: { model: artifact },
        }),
      });
      await Promise.all([metric, model, shadow].map((p) => waitReady(p)));
      assert.ok(shadow.lines.some((l) => l.includes("shadowing as a candidate")));

      await t.step(
        "a copy that is not a sample: dead-lettered once, by the stable model",
        async () => {
          await pipeline.publish(
            QUEUES.features,
            "{not json",
            { messageId: "bad-1" },
            "exchange",
          );
          await waitFor(
            "the candidate to skip it",
            () => shadow.lines.some((l) => l.includes("skipped a copy that is not a sample")),
          );
          await waitFor("one dead letter", async () => (await pipeline.depths()).dead_letter === 1);
          const letters = await pipeline.take(QUEUES.deadLetter);
          assert.equal(letters.length, 1);
          assert.equal(letters[0].properties.headers?.["dead-letter-queue"], QUEUES.features);
        },
      );

      const features = pipeline.spawn("features", { COUNT: "400", INTERVAL_MS: "5", SEED: "7" });
      await t.step(
        "metric killed mid-stream: every shadow pair once, the stable rows once",
        async () => {
          await waitFor(
            "some shadow rows",
            async () => (await shadowRows(pipeline.logDir)).length >= 80,
          );
          metric.kill("SIGKILL");
          await metric.exit();
          metric = pipeline.spawn("metric", metricEnv, { httpPort: metricPort });
          assert.equal((await features.exit()).code, 0);
          await waitFor("400 rows", async () => (await pipeline.rows()).length >= 400, {
            timeoutMs: 60_000,
          });
          // Every candidate prediction is paired or given up (acked) within the TTL.
          await waitFor("y_pred_shadow emptied", async () => {
            const depths = await pipeline.depths();
            return depths.y_pred_shadow === 0 && depths.features_shadow === 0;
          }, { timeoutMs: 30_000 });
          await waitReady(metric);
        },
      );

      const rows = await pipeline.rows();
      await assertExactlyOnce(rows, sentSamples(features.logs()));
      await t.step("the stable record holds the stable version only", () => {
        assert.deepEqual([...new Set(rows.map((r) => r.modelVersion))], [stable.version]);
      });

      await t.step(
        "each shadow row: once, the candidate's own prediction, the stable error beside it",
        async () => {
          const shadowed = await shadowRows(pipeline.logDir);
          const ids = shadowed.map((r) => r.id);
          assert.equal(new Set(ids).size, ids.length, "a sample paired twice");
          // Most samples are paired; those whose stable pair was recorded just before the kill
          // may be given up (their outcome died with the process), never written twice.
          assert.ok(shadowed.length >= 360, `${shadowed.length} of 400 paired`);
          const byId = new Map(rows.map((r) => [r.id, r]));
          for (const s of shadowed) {
            const row = byId.get(s.id);
            assert.ok(row, `shadow row ${s.id} has no stable row`);
            assert.equal(s.candidateVersion, candidate.version);
            assert.equal(s.stableVersion, stable.version);
            assert.equal(s.candidateReplica, "candidate-1");
            assert.equal(s.yTrue, row.yTrue);
            assert.equal(s.stableError, row.absoluteError);
            const expected = predict(candidate, row.inputs!);
            assert.ok(Math.abs(s.yCandidate - expected) < 1e-9, `${s.id}: ${s.yCandidate}`);
            assert.ok(Math.abs(s.candidateError - Math.abs(expected - row.yTrue)) < 1e-9);
          }
          // The restarted metric rebuilt the summary from the file: pairs = rows written.
          const metrics = await scrape(metricPort);
          const pairs = new RegExp(
            `ml_metric_shadow_paired_errors\\{candidate_version="${candidate.version}",moment="pairs"[^}]*\\} (\\d+)`,
          ).exec(metrics);
          const shadowSeries = metrics.split("\n").filter((l) => l.startsWith("ml_metric_shadow"));
          assert.equal(Number(pairs?.[1]), shadowed.length, shadowSeries.join("\n"));
          const mean = shadowed.reduce((sum, s) => sum + s.candidateError, 0) / shadowed.length;
          const meanCandidate = new RegExp(
            `moment="mean_candidate"[^}]*\\} ([0-9.e+-]+)`,
          ).exec(metrics);
          assert.ok(
            Math.abs(Number(meanCandidate?.[1]) - mean) < 1e-6,
            `${meanCandidate?.[1]} vs ${mean}\n${shadowSeries.join("\n")}`,
          );
        },
      );

      await t.step(
        "a candidate killed outright takes the copy with it; the stable pipeline goes on",
        async () => {
          // No goodbye from the candidate: the broker deletes its auto-delete queue, and the
          // binding with it, when its connection closes.
          shadow.kill("SIGKILL");
          await shadow.exit();
          await waitFor(
            "features_shadow gone",
            async () => !(QUEUES.featuresShadow in await pipeline.depths()),
            { timeoutMs: 10_000 },
          );
          const more = pipeline.spawn("features", { COUNT: "50", INTERVAL_MS: "5", SEED: "8" });
          assert.equal((await more.exit()).code, 0);
          await waitFor("450 rows", async () => (await pipeline.rows()).length >= 450);
          assert.equal(
            (await pipeline.depths())[QUEUES.featuresShadow],
            undefined,
            "no copy without a candidate",
          );
        },
      );
    } finally {
      await pipeline.dispose();
      await Deno.remove(artifact).catch(() => {});
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
