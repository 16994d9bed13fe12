/**
 * The stack's bounds are said in several files: the policies (`stack/policies.ts`), the broker's
 * configuration, the stack files, the alert rules and the disk budget in docs/operations.md. Each
 * number said twice is checked here against the place it comes from, so that none drifts.
 */
import assert from "node:assert/strict";
import { parseMemorySize } from "../bench/v8_sizing.ts";
import { metricSchema } from "../metric/config.ts";
import { logBudgetBytes } from "../metric/metric_log/rotation.ts";
import { SHADOW_RETAIN_BYTES } from "../metric/shadow/shadow_store.ts";
import {
  OTHER_FILES_BUDGET_BYTES,
  rotationOf,
  volumeBudgetBytes,
} from "../metric/metric_log/store.ts";
import { loadConfig } from "../stack/config.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../stack/contracts.ts";
import { DEAD_LETTER_LIMITS } from "../stack/dead_letter.ts";
import { policyOf } from "../stack/policies.ts";

const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));
const conf = await read("ops/images/rabbitmq/rabbitmq.conf");
const stack = await read("docker-stack.yml");
const cluster = await read("docker-stack.cluster.yml");
const alerts = await read("ops/images/prometheus/alerts.yml");
const operations = await read("docs/operations.md");
const budget = operations.slice(operations.indexOf("## Bounds and disk budget"));
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** The value of `key = value` in rabbitmq.conf. */
function setting(key: string): string {
  const match = new RegExp(`^${key.replaceAll(".", "\\.")} = (.+)$`, "m").exec(conf);
  assert.ok(match, `rabbitmq.conf sets ${key}`);
  return match[1].trim();
}

/** Bytes of a RabbitMQ size: `600MiB`, `2GB`, `65536`. */
function rabbitmqBytes(text: string): number {
  const match = /^(\d+)(KiB|MiB|GiB|kB|MB|GB)?$/.exec(text);
  assert.ok(match, `a size: ${text}`);
  const unit = { KiB: 1024, MiB, GiB, kB: 1e3, MB: 1e6, GB: 1e9, "": 1 }[match[2] ?? ""]!;
  return Number(match[1]) * unit;
}

/** `1,234` as written in the docs. */
const thousands = (n: number) => n.toLocaleString("en-US");

Deno.test("the broker's memory watermark sits inside its container's limit, on every member", () => {
  const watermark = rabbitmqBytes(setting("vm_memory_high_watermark.absolute"));
  const limits = [...`${stack}\n${cluster}`.matchAll(/memory: "\$\{RABBITMQ_MEMORY:-([^}]+)\}"/g)]
    .map((m) => parseMemorySize(m[1]));
  // docker-stack.yml's member 1, and members 2 and 3 of the cluster.
  assert.equal(limits.length, 3, "a limit on every member");
  for (const limit of limits) {
    assert.ok(watermark <= 0.6 * limit, `watermark ${watermark} in a limit of ${limit}`);
  }
  assert.match(budget, new RegExp(`limited to ${limits[0] / GiB} GiB`));
  assert.match(budget, new RegExp(`watermark of ${watermark / MiB} MiB`));
  // Quorum queues' write-ahead log rolls over well below the watermark.
  assert.ok(rabbitmqBytes(setting("raft.wal_max_size_bytes")) <= watermark / 4);
});

Deno.test("the broker admits every message the services send, and no larger", () => {
  const max = rabbitmqBytes(setting("max_message_size"));
  assert.ok(max >= DEFAULT_MAX_BODY_BYTES);
  assert.equal(max, DEAD_LETTER_LIMITS.maxBodyBytes, "a dead letter's copy is cut to fit");
  assert.match(budget, new RegExp(`\`max_message_size\` is ${max / 1024} KiB`));
});

Deno.test("the broker's free-disk limit is what the alert and the docs say", () => {
  const limit = setting("disk_free_limit.absolute");
  assert.equal(limit, "2GB");
  assert.match(alerts, /Below disk_free_limit \(2 GB\)/);
  assert.match(budget, /needs 2 GB free for the broker \(`disk_free_limit`\)/);
});

Deno.test("the alerts divide by the queues' own limits", () => {
  for (
    const [rule, key] of [["max_length", "max-length"], ["max_length_bytes", "max-length-bytes"]]
  ) {
    const expr = new RegExp(`- record: queue:ml_${rule}:policy\\n\\s+expr: \\|\\n((?: {10}.*\\n)+)`)
      .exec(alerts)?.[1];
    assert.ok(expr, `alerts.yml records queue:ml_${rule}:policy`);
    const said = Object.fromEntries(
      [...expr.matchAll(/vector\((\d+)\), "queue", "(\w+)"/g)].map((m) => [m[2], Number(m[1])]),
    );
    const policies = Object.fromEntries(
      ["features", "y_true", "y_pred", "dead_letter"].map((q) => [q, policyOf(q)!.definition[key]]),
    );
    assert.deepEqual(said, policies, rule);
  }
});

Deno.test("docs/operations.md states each queue's limits as the policies set them", () => {
  const [work, predictions, deadLetters] = ["features", "y_pred", "dead_letter"].map((q) =>
    policyOf(q)!.definition
  );
  assert.match(budget, new RegExp(`\`y_true\` ${thousands(Number(work["max-length"]))} messages`));
  assert.match(budget, new RegExp(`\`y_pred\`\\s+${thousands(Number(predictions["max-length"]))}`));
  assert.match(budget, new RegExp(`${Number(work["max-length-bytes"]) / MiB} MiB of bodies each`));
  assert.match(
    budget,
    new RegExp(
      `\`dead_letter\`\\s+${thousands(Number(deadLetters["max-length"]))} and ${
        Number(deadLetters["max-length-bytes"]) / MiB
      } MiB`,
    ),
  );
});

Deno.test("docs/operations.md states metric's disk budget as its defaults give it", () => {
  const defaults = loadConfig(metricSchema, () => undefined);
  const total = volumeBudgetBytes(defaults);
  const perLog = logBudgetBytes(rotationOf(defaults));
  const row = budget.split("\n").find((line) => line.startsWith("| `metric-logs`"))!;
  const gibMib = (bytes: number) =>
    `${Math.floor(bytes / GiB)} GiB and ${Math.round((bytes % GiB) / MiB)} MiB`;
  assert.ok(row.includes(`${gibMib(total)}: each log ${gibMib(perLog)}`), row);
  assert.ok(row.includes(`shadow_log.csv\` ${(SHADOW_RETAIN_BYTES + MiB) / MiB} MiB`), row);
  assert.ok(row.includes(`the snapshot and plots ${OTHER_FILES_BUDGET_BYTES / MiB} MiB`), row);
  assert.ok(row.includes(`(${defaults.logRetentionBytes / GiB} GiB a log)`), row);
  assert.ok(row.includes(`(${defaults.logRetentionMs / 86_400_000} days)`), row);
});

Deno.test("Prometheus keeps what docs/operations.md says, by size as well as by time", () => {
  const size = /--storage\.tsdb\.retention\.size=\$\{PROMETHEUS_RETENTION_SIZE:-(\d+)GB\}/.exec(
    stack,
  );
  const time = /--storage\.tsdb\.retention\.time=\$\{PROMETHEUS_RETENTION:-(\d+)d\}/.exec(stack);
  assert.ok(size && time, "both retentions in docker-stack.yml");
  const row = budget.split("\n").find((line) => line.startsWith("| `prometheus-data`"))!;
  assert.ok(row.includes(`${size[1]} GB, or ${time[1]} days`), row);
});
