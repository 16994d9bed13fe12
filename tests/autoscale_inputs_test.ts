/**
 * The autoscaler's one PromQL query (controller/inputs.ts), evaluated by Prometheus's own engine
 * (`promtool test rules`, Debian package `prometheus`) on series shaped like the broker's
 * rabbitmq_prometheus plugin (its /metrics/detailed queue families) and the model replicas'
 * handler histogram: each input comes out
 * with the value the decision core expects, and the queue, vhost and job filters hold.
 */
import assert from "node:assert/strict";
import { inputsQuery } from "../controller/inputs.ts";
import type { Policy } from "../controller/policy.ts";

const POLICY = { queue: "features", vhost: "/", job: "model" } as Policy;

/** `promtool test rules` on a test file evaluating `query` over `series`, expecting `samples`. */
async function promtoolExpect(
  series: Record<string, string>,
  query: string,
  evalTime: string,
  samples: Record<string, number>,
): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ml-autoscale-inputs-" });
  const yaml = [
    "rule_files: []",
    "evaluation_interval: 5s",
    "tests:",
    "  - interval: 5s",
    "    input_series:",
    ...Object.entries(series).flatMap(([name, values]) => [
      `      - series: ${JSON.stringify(name)}`,
      `        values: ${JSON.stringify(values)}`,
    ]),
    "    promql_expr_test:",
    `      - expr: ${JSON.stringify(query)}`,
    `        eval_time: ${evalTime}`,
    "        exp_samples:",
    ...Object.entries(samples).flatMap(([input, value]) => [
      `          - labels: '{input="${input}"}'`,
      `            value: ${value}`,
    ]),
  ].join("\n");
  await Deno.writeTextFile(`${dir}/inputs_test.yml`, yaml + "\n");
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["test", "rules", "inputs_test.yml"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

/** A minute of the stack, scraped every 5 s: 60/s arriving, two replicas settling 8/s each. */
const SERIES = {
  'rabbitmq_detailed_queue_messages_ready{vhost="/",queue="features"}': "0+10x12",
  'rabbitmq_detailed_queue_messages_unacked{vhost="/",queue="features"}': "2x12",
  'rabbitmq_detailed_queue_messages_published_total{channel="<0.1.0>",queue_vhost="/",queue="features",exchange=""}':
    "0+300x12",
  'ml_handler_seconds_count{job="model",queue="features",replica="ml_model.1"}': "0+40x12",
  'ml_handler_seconds_count{job="model",queue="features",replica="ml_model.2"}': "0+40x12",
  'ml_handler_seconds_sum{job="model",queue="features",replica="ml_model.1"}': "0+2.5x12",
  'ml_handler_seconds_sum{job="model",queue="features",replica="ml_model.2"}': "0+2.5x12",
  // Other queues, vhosts and jobs, which must not count.
  'rabbitmq_detailed_queue_messages_ready{vhost="/",queue="y_pred"}': "500x12",
  'rabbitmq_detailed_queue_messages_ready{vhost="other",queue="features"}': "900x12",
  'ml_handler_seconds_count{job="metric",queue="y_pred",replica="ml_metric.1"}': "0+999x12",
};

Deno.test("the autoscaler's query gives each input from the broker's and the replicas' series", async () => {
  const { code, output } = await promtoolExpect(SERIES, inputsQuery(POLICY, 20), "60s", {
    ready: 120,
    unacked: 2,
    arrivals: 60,
    recent_arrivals: 60,
    handled: 16,
    busy: 1,
    backlog_age: 0,
    handler_age: 0,
  });
  assert.equal(code, 0, output);
});

Deno.test("the autoscaler's query reports how old the newest samples are", async () => {
  // The handler series stop at 30 s (the replicas' target is gone); evaluated at 45 s, the
  // newest handler sample is 15 s old, the broker's still fresh.
  const series = {
    ...SERIES,
    'ml_handler_seconds_count{job="model",queue="features",replica="ml_model.1"}': "0+40x6",
    'ml_handler_seconds_count{job="model",queue="features",replica="ml_model.2"}': "0+40x6",
  };
  const ages = inputsQuery(POLICY, 20).split(" or ").filter((part) => part.includes("_age"))
    .join(" or ");
  const { code, output } = await promtoolExpect(series, ages, "45s", {
    backlog_age: 0,
    handler_age: 15,
  });
  assert.equal(code, 0, output);
});
