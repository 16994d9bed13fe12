import assert from "node:assert/strict";
import { Counter, Registry } from "prom-client";
import {
  AlertLog,
  AlertMessageError,
  KEPT_ALERTS,
  MAX_ALERT_BODY_BYTES,
  parseAlertMessage,
  receiveAlerts,
} from "./alerts.ts";

/** A webhook message as Alertmanager 0.25 sends it (fields the controller ignores included). */
function message(alerts: unknown[]): Record<string, unknown> {
  return {
    receiver: "controller",
    status: "firing",
    alerts,
    groupLabels: { alertname: "ModelDrift" },
    commonLabels: {},
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    version: "4",
    groupKey: '{}:{alertname="ModelDrift"}',
    truncatedAlerts: 0,
  };
}

const DRIFT = {
  status: "firing",
  labels: { alertname: "ModelDrift", severity: "warning", version: "v2" },
  annotations: { summary: "live MAE is 1.6 x the training MAE" },
  startsAt: "2026-12-05T12:00:00.000Z",
  endsAt: "0001-01-01T00:00:00Z",
  generatorURL: "/prometheus/graph",
  fingerprint: "c0ffee",
};

Deno.test("an Alertmanager message gives each alert's name, state, labels and summary", () => {
  const resolved = { ...DRIFT, status: "resolved", annotations: {} };
  assert.deepEqual(parseAlertMessage(JSON.stringify(message([DRIFT, resolved])), 7), [
    {
      name: "ModelDrift",
      status: "firing",
      labels: DRIFT.labels,
      summary: "live MAE is 1.6 x the training MAE",
      startsAt: "2026-12-05T12:00:00.000Z",
      receivedAt: 7,
    },
    {
      name: "ModelDrift",
      status: "resolved",
      labels: DRIFT.labels,
      summary: "",
      startsAt: "2026-12-05T12:00:00.000Z",
      receivedAt: 7,
    },
  ]);
});

Deno.test("a body that is not an Alertmanager message is refused with what is wrong", () => {
  const cases: [string, RegExp][] = [
    ["{", /^not JSON/],
    ["[]", /not a JSON object/],
    [JSON.stringify({ ...message([]), version: "3" }), /version "3", not "4"/],
    [JSON.stringify({ ...message([]), alerts: {} }), /alerts is not a list/],
    [
      JSON.stringify(message([{ ...DRIFT, status: "pending" }])),
      /alerts\[0\]\.status is "pending"/,
    ],
    [JSON.stringify(message([{ ...DRIFT, labels: {} }])), /alerts\[0\] has no alertname/],
    [
      JSON.stringify(message([DRIFT, { ...DRIFT, labels: { alertname: 1 } }])),
      /alerts\[1\]\.labels\.alertname is not a string/,
    ],
    [JSON.stringify(message([{ ...DRIFT, annotations: "x" }])), /annotations is not an object/],
  ];
  for (const [body, reason] of cases) {
    assert.throws(() => parseAlertMessage(body, 0), (error: Error) => {
      assert.ok(error instanceof AlertMessageError, body);
      assert.match(error.message, reason, body);
      return true;
    });
  }
});

Deno.test("the alert log keeps the newest alerts, oldest first", () => {
  const kept = new AlertLog();
  const alerts = parseAlertMessage(JSON.stringify(message([DRIFT])), 0);
  for (let i = 0; i < KEPT_ALERTS + 5; i++) kept.add(alerts.map((a) => ({ ...a, receivedAt: i })));
  const list = kept.toJSON();
  assert.equal(list.length, KEPT_ALERTS);
  assert.equal(list[0].receivedAt, 5);
  assert.equal(list.at(-1)!.receivedAt, KEPT_ALERTS + 4);
});

/** receiveAlerts with a recording log and a fresh counter. */
function receiver() {
  const lines: string[] = [];
  const registry = new Registry();
  const received = new Counter({
    name: "received_total",
    help: "h",
    labelNames: ["alertname", "status"],
    registers: [registry],
  });
  const kept = new AlertLog();
  const record = (level: string) => (text: string, properties: Record<string, unknown>) =>
    lines.push(`${level} ${text} ${JSON.stringify(properties)}`);
  const heard: string[] = [];
  const sink = {
    log: { info: record("info"), warn: record("warn") },
    received,
    kept,
    hear: (alerts: readonly { name: string; status: string }[]) =>
      heard.push(...alerts.map((a) => `${a.name} ${a.status}`)),
  };
  const post = (body: BodyInit, method = "POST") =>
    receiveAlerts(new Request("http://controller/alerts", { method, body }), sink);
  const count = async () => (await registry.getMetricsAsJSON())[0].values;
  return { lines, kept, post, count, heard };
}

Deno.test("POST /alerts logs and counts each alert, keeps it for /alerts.json, and passes it on", async () => {
  const { lines, kept, post, count, heard } = receiver();
  const response = await post(JSON.stringify(message([DRIFT, { ...DRIFT, status: "resolved" }])));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "received 2 alerts\n");
  assert.deepEqual(
    (await count()).map(({ labels, value }) => [labels.status, value]),
    [["firing", 1], ["resolved", 1]],
  );
  assert.match(lines[0], /^warn alert \{alert\} firing since \{startsAt\}.*"alert":"ModelDrift"/);
  assert.match(lines[1], /^info alert \{alert\} resolved/);
  assert.deepEqual(kept.toJSON().map((a) => a.status), ["firing", "resolved"]);
  assert.deepEqual(heard, ["ModelDrift firing", "ModelDrift resolved"]);
});

Deno.test("POST /alerts refuses a bad or oversized message, or another method, and says why", async () => {
  const { lines, kept, post, count, heard } = receiver();
  const bad = await post("{");
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /^not an Alertmanager webhook message: not JSON/);
  const big = await post(
    JSON.stringify(message([{ ...DRIFT, pad: "x".repeat(MAX_ALERT_BODY_BYTES) }])),
  );
  assert.equal(big.status, 413);
  await big.body?.cancel();
  const get = await receiveAlerts(new Request("http://controller/alerts"), {
    log: { info() {}, warn() {} },
    received: new Counter({
      name: "unused_total",
      help: "h",
      labelNames: ["alertname", "status"],
      registers: [],
    }),
    kept,
  });
  assert.equal(get.status, 405);
  await get.body?.cancel();
  assert.deepEqual(await count(), []);
  assert.deepEqual(kept.toJSON(), []);
  assert.deepEqual(heard, []);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /refused an alert message: \{reason\}.*not JSON/);
  assert.match(lines[1], /refused an alert message over \{max\} bytes/);
});
