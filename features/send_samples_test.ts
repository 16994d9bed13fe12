import assert from "node:assert/strict";
import { parseFeatureDrift, parseTargetDrift } from "./drift.ts";
import type { OutgoingMessage, Sample } from "./sampler.ts";
import { sendSamples, type SendSamplesOptions } from "./send_samples.ts";

interface Line {
  level: string;
  message: string;
  properties: Record<string, unknown>;
}

/** Ports over a fake clock that moves only when slept on; publishes confirm at once. */
function harness(overrides: Partial<SendSamplesOptions> = {}) {
  const published: OutgoingMessage[] = [];
  const lines: Line[] = [];
  const slept: number[] = [];
  const controller = new AbortController();
  let time = 0;
  let ids = 0;
  let rows = 0;
  const line = (level: string) => (message: string, properties: Record<string, unknown>) =>
    lines.push({ level, message, properties });
  const options: SendSamplesOptions = {
    count: 3,
    intervalMs: 0,
    maxInFlight: 4,
    progressEveryMs: 0,
    replica: "features-1",
    pickSample: (): Sample => ({ row: rows, features: [rows], target: 100 + rows++ }),
    newId: () => `id-${++ids}`,
    now: () => time,
    wallClockMs: () => 1_000_000 + time,
    sleep: (ms) => {
      slept.push(ms);
      time += ms;
      return Promise.resolve();
    },
    publish: (message) => {
      published.push(message);
      return Promise.resolve();
    },
    connected: () => true,
    log: { info: line("info"), warn: line("warn"), error: line("error") },
    signal: controller.signal,
    ...overrides,
  };
  return { options, published, lines, slept, controller, advance: (ms: number) => time += ms };
}

Deno.test("sendSamples() sends each sample's two messages", async (t) => {
  await t.step("COUNT samples, truth then features, one id each", async () => {
    const h = harness();
    await sendSamples(h.options);
    assert.deepEqual(
      h.published.map((m) => [m.queue, m.body, m.properties.messageId]),
      [
        ["y_true", "100", "id-1"],
        ["features", "[0]", "id-1"],
        ["y_true", "101", "id-2"],
        ["features", "[1]", "id-2"],
        ["y_true", "102", "id-3"],
        ["features", "[2]", "id-3"],
      ],
    );
    assert.deepEqual(h.published[0].properties.headers, {
      "sent-at-ms": 1_000_000,
      replica: "features-1",
    });
  });

  await t.step("each confirmed sample is logged, then the total", async () => {
    const h = harness({ count: 2 });
    await sendSamples(h.options);
    assert.deepEqual(h.lines.map((l) => [l.message, l.properties]), [
      ["sent sample {id}: row {row}, y_true {target}", { id: "id-1", row: 0, target: 100 }],
      ["sent sample {id}: row {row}, y_true {target}", { id: "id-2", row: 1, target: 101 }],
      ["sent {sent} samples in {seconds} s", { sent: 2, seconds: 0 }],
    ]);
  });

  await t.step("an interval spaces the samples", async () => {
    const h = harness({ count: 4, intervalMs: 250 });
    await sendSamples(h.options);
    assert.deepEqual(h.slept, [250, 250, 250]);
    assert.deepEqual(
      h.published.filter((m) => m.queue === "y_true").map((m) => m.properties.headers),
      [
        { "sent-at-ms": 1_000_000, replica: "features-1" },
        { "sent-at-ms": 1_000_250, replica: "features-1" },
        { "sent-at-ms": 1_000_500, replica: "features-1" },
        { "sent-at-ms": 1_000_750, replica: "features-1" },
      ],
    );
    assert.deepEqual(h.lines.at(-1)?.properties, { sent: 4, seconds: 0.75 });
  });

  await t.step("progress is logged every PROGRESS_EVERY_MS", async () => {
    const h = harness({ count: 5, intervalMs: 500, progressEveryMs: 1000 });
    await sendSamples(h.options);
    const progress = h.lines.filter((l) => l.message.startsWith("progress"));
    assert.deepEqual(progress.map((l) => l.properties), [
      { sent: 2, rate: 2 },
      { sent: 4, rate: 2 },
    ]);
  });
});

Deno.test("sendSamples() drifts the samples from the moment the plan says", async (t) => {
  const drift = {
    features: parseFeatureDrift("age*10"),
    target: parseTargetDrift("+50"),
    afterSamples: 2,
    afterMs: 0,
  };
  await t.step("after DRIFT_AFTER_SAMPLES, inputs and labels both shift", async () => {
    const h = harness({ count: 4, drift });
    await sendSamples(h.options);
    assert.deepEqual(h.published.map((m) => m.body), [
      "100",
      "[0]",
      "101",
      "[1]",
      "152",
      "[20]",
      "153",
      "[30]",
    ]);
    const warnings = h.lines.filter((l) => l.level === "warn");
    assert.deepEqual(warnings.map((l) => [l.message, l.properties]), [
      ["drift on from sample {n}: {drift}", { n: 3, drift: "age*10, target+50" }],
    ]);
  });
  await t.step("after DRIFT_AFTER_MS, by the loop's clock", async () => {
    const h = harness({
      count: 4,
      intervalMs: 100,
      drift: { ...drift, afterSamples: 0, afterMs: 250 },
    });
    await sendSamples(h.options);
    const truths = h.published.filter((m) => m.queue === "y_true").map((m) => m.body);
    assert.deepEqual(truths, ["100", "101", "102", "153"]);
  });
  await t.step("a plan that changes nothing sends the data set as it is", async () => {
    const h = harness({ count: 2, drift: { features: [], afterSamples: 0, afterMs: 0 } });
    await sendSamples(h.options);
    assert.deepEqual(h.published.map((m) => m.body), ["100", "[0]", "101", "[1]"]);
    assert.equal(h.lines.filter((l) => l.level === "warn").length, 0);
  });
});

Deno.test("sendSamples() keeps at most MAX_IN_FLIGHT samples unconfirmed", async () => {
  const confirms: PromiseWithResolvers<void>[] = [];
  const h = harness({
    count: 5,
    maxInFlight: 2,
    publish: (message) => {
      h.published.push(message);
      const confirm = Promise.withResolvers<void>();
      confirms.push(confirm);
      return confirm.promise;
    },
  });
  const done = sendSamples(h.options);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.published.length, 4, "two samples of two messages");
  confirms[0].resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.published.length, 4, "half a sample confirmed frees nothing");
  confirms[1].resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(h.published.length, 6);
  for (let i = 2; i < 10; i++) {
    confirms[i]?.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await done;
  assert.equal(h.published.length, 10);
  assert.deepEqual(h.lines.at(-1)?.properties, { sent: 5, seconds: 0 });
});

Deno.test("sendSamples() on shutdown", async (t) => {
  await t.step("stops picking samples once the signal aborts", async () => {
    const h = harness({ count: 0, intervalMs: 100 });
    h.options.sleep = (ms) => {
      h.slept.push(ms);
      h.advance(ms);
      if (h.slept.length === 3) h.controller.abort();
      return Promise.resolve();
    };
    await sendSamples(h.options);
    assert.equal(h.published.length, 6);
    assert.deepEqual(h.lines.at(-1)?.properties, { sent: 3, seconds: 0.3 });
  });

  await t.step("retries a failed publish while the broker is up", async () => {
    let failures = 2;
    const h = harness({ count: 1 });
    h.options.publish = (message) => {
      if (message.queue === "y_true" && failures-- > 0) return Promise.reject(new Error("nack"));
      h.published.push(message);
      return Promise.resolve();
    };
    await sendSamples(h.options);
    assert.deepEqual(h.published.map((m) => m.queue).sort(), ["features", "y_true"]);
    assert.equal(h.lines.filter((l) => l.level === "warn").length, 2);
    assert.deepEqual(h.slept.length, 2, "retry delays");
  });

  await t.step("gives a sample up only when shut down and the broker is gone", async () => {
    const h = harness({ count: 1, connected: () => false });
    h.options.publish = (message) => {
      h.controller.abort();
      return message.queue === "y_true" ? Promise.reject(new Error("gone")) : Promise.resolve();
    };
    await sendSamples(h.options);
    assert.deepEqual(
      h.lines.map((l) => [l.level, l.message, l.properties]),
      [
        ["error", "sample {id} not sent: {error}", { id: "id-1", error: "gone" }],
        ["info", "sent {sent} samples in {seconds} s", { sent: 0, seconds: 0 }],
      ],
    );
  });
});

Deno.test("sendSamples() reports each retried publish with its queue and reason, and still sends it", async () => {
  let refusals = 2;
  const retried: string[] = [];
  const h = harness({
    count: 1,
    publish(message) {
      if (message.queue === "y_true" && refusals-- > 0) {
        return Promise.reject(new Error("Message rejected"));
      }
      h.published.push(message);
      return Promise.resolve();
    },
    onRetry: (reason, queue) => retried.push(`${reason} ${queue}`),
  });
  await sendSamples(h.options);
  assert.deepEqual(retried, ["refused y_true", "refused y_true"]);
  assert.deepEqual(h.published.map((m) => m.queue).sort(), ["features", "y_true"]);
});
