/**
 * The closing prose of `docs/benchmarks.md`: what each setting trades, and
 * how the bench measures. Pure: only the settings' values come from the
 * results.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";

export function settingsSection(r: BenchResults): string {
  const s = r.settings;
  return `## What each setting trades

- **Prefetch** (\`PREFETCH\`; model ${s.prefetch.model}, metric ${s.prefetch.metric}): how many
  unacknowledged deliveries a consumer holds. Higher keeps the consumer busy while acks travel and
  lets the broker batch deliveries; it costs memory per held message, and on a crash or shutdown
  that many messages are redelivered (duplicates, which metric drops by id). Metric's must cover
  the skew between \`y_true\` and \`y_pred\` since it holds halves until they pair. For a slow model
  prefetch is its concurrency (section 4).
- **In-flight window** (\`MAX_IN_FLIGHT\`, ${s.maxInFlightSamples} samples = ${s.ceilingWindowMessages}
  unconfirmed messages): publishing without waiting for each confirm hides the confirm round trip.
  Wider is not faster here: the broker confirms a persistent message once it is on disk or once a
  consumer acked it, so a window wider than the consumers' pace lets features run ahead, the
  queues back up, and the broker writes the backlog to disk at ~30% more CPU per message. At the
  old default of 256 samples the pipeline settled at ~3,400 samples/s with seconds of latency;
  at 32 it stays near the consumers' pace (16 is too few: features itself becomes the limit). A
  broker far away (longer round trip) needs a wider window.
- **Log level** (\`LOG_LEVEL\`): at \`info\` every service writes a JSON line per message (features
  per sample, metric per delivery): a few µs of formatting and a write each, and at thousands of
  messages per second the terminal or log shipper becomes the bottleneck. The bench runs at
  \`${s.logLevel}\`; production keeps \`info\` at the default 1 sample per second.
- **Group commit** (\`metric/metric_log/writer.ts\`): the CSV rows of one burst of pairs go out in one
  \`write\`; each pair is acked only after its row's write returned, so a crash loses nothing and
  the acks of a burst leave together. The trade is a few microseconds of waiting per pair for one
  syscall per burst instead of one per row.
- **Write coalescing and \`TCP_NODELAY\`** (\`stack/transport.ts\`): the frames one event-loop turn
  produces (publishes, acks) leave in one socket write; Nagle's algorithm is off so a lone frame is
  never held back waiting for a TCP ACK (up to 40 ms). A frame waits for the end of the current
  turn; every promise still resolves only once its bytes are handed to the socket, and a publish
  still resolves only on the broker's confirm.
- **\`RATE_PER_SEC\`** (features): a steady offered rate finer than whole milliseconds; 0 leaves
  \`INTERVAL_MS\` in charge.`;
}

export function methodSection(r: BenchResults): string {
  const s = r.settings;
  return `## How it is measured

- \`deno task bench\` starts a throwaway RabbitMQ (\`ops/kit/local_broker.ts\`) unless \`AMQP_URL\` is
  set, then runs the ceiling and the throughput runs in alternating rounds (so each ratio compares
  runs made back to back), then the latency runs, then the scaling runs (1, 2, 3 replicas per
  round). \`--quick\` does one run of each with fewer samples as a smoke test.
- Before each run the three work queues are purged and metric gets a fresh log directory, so no
  run sees another's messages or recorded ids; dead letters are counted (a run that dead-letters
  anything is visible in \`benchmarks.json\`).
- The machine is shared with other work: a run starts once other processes have used less than
  ${s.quietThresholdCores} cores for a second (or after 2 minutes of waiting), and each run records the
  cores others used meanwhile ("others' load"): \`/proc/stat\` busy time minus the CPU of the
  broker, the services and the bench itself.
- Latency and throughput come from \`metric_log.csv\` itself (\`latency_ms\`, \`paired_at\`), i.e.
  what the pipeline recorded, not what the bench observed from outside.`;
}
