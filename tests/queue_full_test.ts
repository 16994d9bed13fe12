/**
 * A full queue against a real RabbitMQ: the pipeline's policies (`stack/policies.ts`), with
 * limits small enough to reach in seconds, make the broker refuse what does not fit; features,
 * or model when `y_pred` is full, then waits and retries, counting each refusal, and once the
 * consumers come back every sample is recorded exactly once. Nothing is dropped, and no good
 * sample is dead-lettered.
 */
import assert from "node:assert/strict";
import { freePort } from "../ops/kit/local_broker.ts";
import { ManagementApi, managementEndpoint } from "../ops/kit/management.ts";
import { type ServiceProcess, waitFor } from "../ops/kit/process.ts";
import { QUEUES } from "../stack/contracts.ts";
import { pipelinePolicies, type QueueLimits, setPolicyArgs } from "../stack/policies.ts";
import {
  assertCountedOnce,
  Pipeline,
  publishConfirmed,
  sharedBroker,
  stopSharedBroker,
} from "./harness.ts";

const integration = { sanitizeOps: false, sanitizeResources: false };

const LIMITS: QueueLimits = {
  workQueueMaxLength: 20,
  predictionsMaxLength: 30,
  workQueueMaxBytes: 1024 * 1024,
  deadLetterMaxLength: 5,
  deadLetterMaxBytes: 1024 * 1024,
};
const SAMPLES = 120;
const IN_FLIGHT = 4;

/** Sets the pipeline's policies with `limits` in the pipeline's vhost. */
async function smallLimits(pipeline: Pipeline, limits = LIMITS): Promise<void> {
  const policies = pipelinePolicies(limits);
  if (pipeline.broker.local) {
    for (const policy of policies) {
      await pipeline.broker.local.ctl(...setPolicyArgs(policy, pipeline.vhost));
    }
  } else {
    const url = Deno.env.get("AMQP_URL")!;
    const api = new ManagementApi(managementEndpoint(url, Deno.env.get("AMQP_MANAGEMENT_URL")));
    for (const policy of policies) await api.putPolicy(pipeline.vhost, policy);
  }
}

/** The value of `name{labels,...}` in a Prometheus exposition, 0 when absent. */
function sample(exposition: string, name: string, labels: string): number {
  const line = exposition.split("\n").find((l) =>
    l.startsWith(`${name}{${labels},`) || l.startsWith(`${name}{${labels}}`)
  );
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : 0;
}

/**
 * Waits (up to a minute) until `refused()`, a counter `service` exports, reaches `minimum`; on a
 * timeout the error carries the service's last lines.
 */
async function refusals(
  service: ServiceProcess,
  refused: () => Promise<number>,
  minimum: number,
): Promise<void> {
  await waitFor(`${service.name} to be refused`, async () => await refused() >= minimum, {
    timeoutMs: 60_000,
  }).catch((error) => {
    throw new Error(`${error.message}\n${service.lines.slice(-20).join("\n")}`);
  });
}

/** The refusals `service` logged with their retry (`stack/publish_until_confirmed.ts`). */
function refusalsLogged(service: ServiceProcess): number {
  return service.logs().filter((l) =>
    String(l.message).includes("not confirmed") && l.error === "Message rejected"
  ).length;
}

/** Waits (up to a minute) for the {@link SAMPLES} rows: each recorded once, none dead-lettered. */
async function allRecordedOnce(pipeline: Pipeline): Promise<void> {
  await waitFor(`${SAMPLES} rows`, async () => (await pipeline.rows()).length >= SAMPLES, {
    timeoutMs: 60_000,
  });
  await assertCountedOnce(await pipeline.rows(), SAMPLES);
  assert.equal((await pipeline.take(QUEUES.deadLetter)).length, 0, "nothing dead-lettered");
}

Deno.test({
  name: "a full queue refuses features, which waits and counts it; nothing is lost or doubled",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "full");
    try {
      await smallLimits(pipeline);
      const httpPort = freePort();
      // Nobody consumes yet: features fills features and y_true to their limit.
      const features = pipeline.spawn("features", {
        COUNT: String(SAMPLES),
        INTERVAL_MS: "0",
        MAX_IN_FLIGHT: String(IN_FLIGHT),
      }, { httpPort });
      const metrics = async () =>
        await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const refused = async () =>
        sample(
          await metrics(),
          "ml_features_publish_retries_total",
          'queue="y_true",reason="refused"',
        ) +
        sample(
          await metrics(),
          "ml_features_publish_retries_total",
          'queue="features",reason="refused"',
        );
      await refusals(features, refused, 4);
      // It waits: still running a few seconds later, the queues held at their limit.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.equal(features.exitStatus, undefined, "features waits, it does not give up");
      // Held at the limit: a quorum queue refuses once it is past it, so the publishes already
      // on their way (MAX_IN_FLIGHT) may land first.
      const full = await pipeline.depths();
      for (const queue of [QUEUES.features, QUEUES.yTrue]) {
        assert.ok(full[queue] <= LIMITS.workQueueMaxLength + IN_FLIGHT, JSON.stringify(full));
      }
      assert.ok(
        Math.max(full[QUEUES.features], full[QUEUES.yTrue]) >= LIMITS.workQueueMaxLength,
        JSON.stringify(full),
      );
      const retries = await refused();
      assert.ok(retries >= 4, `${retries} refusals counted`);
      assert.ok(refusalsLogged(features) > 0, "each refusal is logged with its retry");

      // The consumers come back: the backlog drains and features finishes.
      pipeline.spawn("model");
      pipeline.spawn("metric");
      assert.equal((await features.exit()).code, 0, features.lines.slice(-20).join("\n"));
      const sent = features.logs().findLast((l) => /^sent \d+ samples in/.test(String(l.message)))
        ?.sent;
      assert.equal(sent, SAMPLES);
      await allRecordedOnce(pipeline);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name:
    "a full y_pred refuses model, which holds each sample and publishes it again; none is dead-lettered",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "full-pred");
    // Room for every sample in features and y_true, and in dead_letter: only y_pred is small.
    const limits = { ...LIMITS, workQueueMaxLength: 1_000, deadLetterMaxLength: 1_000 };
    try {
      await smallLimits(pipeline, limits);
      const httpPort = freePort();
      const model = pipeline.spawn("model", {}, { httpPort });
      const refused = async () =>
        sample(
          await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
          "ml_model_publish_retries_total",
          'queue="y_pred",reason="refused"',
        );
      // No metric yet: y_pred fills to its limit, then the broker refuses model's predictions.
      const features = pipeline.spawn("features", {
        COUNT: String(SAMPLES),
        INTERVAL_MS: "0",
        MAX_IN_FLIGHT: String(IN_FLIGHT),
      });
      assert.equal((await features.exit()).code, 0, features.lines.slice(-20).join("\n"));
      await refusals(model, refused, 3);
      // It holds on: still running, y_pred at its limit, nothing dead-lettered.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(model.exitStatus, undefined, "model holds on, it does not give up");
      const held = await pipeline.depths();
      assert.ok(held[QUEUES.yPred] >= limits.predictionsMaxLength, JSON.stringify(held));
      assert.equal(held[QUEUES.deadLetter], 0, JSON.stringify(held));
      assert.ok(refusalsLogged(model) > 0, "each refusal is logged with its retry");

      // metric drains y_pred: model's held samples go through, each recorded once.
      pipeline.spawn("metric");
      await allRecordedOnce(pipeline);
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({
  name: "dead_letter is bounded too: a dead letter past its limit is refused, not dropped",
  ...integration,
  async fn() {
    const pipeline = await Pipeline.create(await sharedBroker(), "full-dlq");
    try {
      await smallLimits(pipeline);
      // model declares the topology, dead_letter included.
      const model = pipeline.spawn("model");
      await waitFor(
        "dead_letter declared",
        async () => QUEUES.deadLetter in await pipeline.depths(),
      );
      await model.stop();
      // A quorum queue refuses once it is past its limit: one past it here, one publish at a time.
      const accepted: string[] = [];
      let refusal: unknown;
      for (let i = 0; i < LIMITS.deadLetterMaxLength + 2 && !refusal; i++) {
        await publishConfirmed(pipeline.url, QUEUES.deadLetter, `letter ${i}`).then(
          () => accepted.push(`letter ${i}`),
          (error) => refusal = error,
        );
      }
      assert.match(String(refusal), /Message rejected/);
      assert.ok(accepted.length <= LIMITS.deadLetterMaxLength + 1, `${accepted.length} accepted`);
      const kept = await pipeline.take(QUEUES.deadLetter);
      assert.deepEqual(
        kept.map((m) => m.body),
        accepted,
        "what was accepted is kept, none dropped",
      );
    } finally {
      await pipeline.dispose();
    }
  },
});

Deno.test({ name: "stop the shared broker", ...integration, fn: stopSharedBroker });
