/**
 * What TLS costs the pipeline's broker hops: `deno task bench --tls`. One
 * broker listens both in clear and over TLS (the stack's own certificates,
 * `ops/secrets/tls.sh`); each round measures, with each transport in turn
 * (the order alternating between rounds, so both see the same machine):
 *
 * - the ceiling: persistent messages with confirms through one quorum queue,
 *   as fast as the broker allows with the pipeline's window and prefetch
 *   (`ceiling.ts`, the door's transport);
 * - a hop's latency at a fixed rate: from publish to delivery, timed in one
 *   process, at {@link TLS_LATENCY_RATE} messages per second.
 *
 * The report gives each transport's median and spread and the per-round ratio
 * TLS ÷ clear. A sample of the stack crosses four such hops (features → two
 * queues, model → `y_pred`, metric's two consumers), so its end-to-end cost
 * is about the hop's, as the hops overlap.
 *
 * @module
 */
import { connectClient } from "../stack/amqp_client.ts";
import { workQueueArguments } from "../stack/topology.ts";
import { measureCeiling } from "./ceiling.ts";
import {
  formatNumber,
  formatSummary,
  markdownTable,
  percentile,
  ratio,
  summarize,
  type Summary,
} from "./stats.ts";

/** The two transports compared, the reference first. */
export const TRANSPORTS = ["clear", "tls"] as const;
/** One of {@link TRANSPORTS}. */
export type Transport = typeof TRANSPORTS[number];

/** Messages per second of the latency runs: the stack's full-load rate. */
export const TLS_LATENCY_RATE = 1_000;

/** One transport's figures in one round. */
export interface HopFigures {
  readonly ceilingPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One round: both transports. */
export type TlsRound = Readonly<Record<Transport, HopFigures>>;

/** The comparison over the rounds, as tls.json holds it. */
export interface TlsCostFigures {
  readonly sizes: TlsSizes;
  readonly byTransport: Readonly<
    Record<Transport, { ceiling: Summary; p50Ms: Summary; p99Ms: Summary }>
  >;
  /** Each round's TLS figure ÷ that round's clear one. */
  readonly tlsOverClear: {
    readonly ceiling: Summary;
    readonly p50: Summary;
    readonly p99: Summary;
  };
}

/** How much of each measurement. */
export interface TlsSizes {
  readonly ceiling: number;
  readonly latency: number;
  /** Messages at the start of each latency run left out of the percentiles. */
  readonly warmup: number;
}

/** The full sizes: 30,000 messages per ceiling, 30 s per latency run. */
export const TLS_SIZES: TlsSizes = { ceiling: 30_000, latency: 30_000, warmup: 2_000 };

/** The rounds, summarized: medians, spreads and per-round ratios. */
export function summarizeTlsCost(sizes: TlsSizes, rounds: readonly TlsRound[]): TlsCostFigures {
  const of = (transport: Transport, key: keyof HopFigures) =>
    summarize(rounds.map((round) => round[transport][key]));
  const over = (key: keyof HopFigures) =>
    summarize(rounds.map((round) => ratio(round.tls[key], round.clear[key])));
  const byTransport = Object.fromEntries(
    TRANSPORTS.map((t) => [t, {
      ceiling: of(t, "ceilingPerSecond"),
      p50Ms: of(t, "p50Ms"),
      p99Ms: of(t, "p99Ms"),
    }]),
  ) as TlsCostFigures["byTransport"];
  return {
    sizes,
    byTransport,
    tlsOverClear: { ceiling: over("ceilingPerSecond"), p50: over("p50Ms"), p99: over("p99Ms") },
  };
}

/** The report: a table of both transports and the ratios, with the sizes that made it. */
export function tlsCostReport(figures: TlsCostFigures, machine: string): string {
  const { byTransport: b, tlsOverClear: r, sizes } = figures;
  const rounds = r.ceiling.runs.length;
  return [
    "# What TLS costs a broker hop",
    "",
    `\`deno task bench --tls\`: ${machine}. ${rounds} rounds, each transport in turn (order ` +
    `alternating); median (min–max) over the rounds. Ceiling: ${
      formatNumber(sizes.ceiling)
    } persistent messages with confirms through a quorum queue, 64 unconfirmed and 50 unacked at most (the pipeline's window and prefetch). Latency: ${
      formatNumber(sizes.latency)
    } messages at ${formatNumber(TLS_LATENCY_RATE)}/s, publish to delivery, the first ${
      formatNumber(sizes.warmup)
    } left out.`,
    "",
    markdownTable(
      ["", "ceiling msg/s", "hop p50 ms", "hop p99 ms"],
      [
        [
          "clear (5672)",
          formatSummary(b.clear.ceiling, 0),
          formatSummary(b.clear.p50Ms, 2),
          formatSummary(b.clear.p99Ms, 2),
        ],
        [
          "TLS 1.3 (5671)",
          formatSummary(b.tls.ceiling, 0),
          formatSummary(b.tls.p50Ms, 2),
          formatSummary(b.tls.p99Ms, 2),
        ],
        [
          "TLS ÷ clear, per round",
          formatSummary(r.ceiling, 2),
          formatSummary(r.p50, 2),
          formatSummary(r.p99, 2),
        ],
      ],
      ["left", "right", "right", "right"],
    ),
    "",
  ].join("\n");
}

/** Publishes `messages` at `ratePerSecond` and times each from publish to delivery. */
export async function measureHopLatency(options: {
  url: string;
  ca?: string;
  messages: number;
  ratePerSecond: number;
  warmup: number;
}): Promise<{ p50Ms: number; p99Ms: number }> {
  const queue = "bench-tls-latency";
  const publisher = await connectClient(options.url, {
    name: "bench-tls-publisher",
    ca: options.ca,
  });
  const consumer = await connectClient(options.url, { name: "bench-tls-consumer", ca: options.ca });
  try {
    const pub = await publisher.channel();
    await pub.queueDeclare(queue, { durable: true }, workQueueArguments("quorum"));
    await pub.queuePurge(queue);
    await pub.confirmSelect();
    const sub = await consumer.channel();
    await sub.basicQos(100);
    const latencies: number[] = [];
    const done = Promise.withResolvers<void>();
    await sub.basicConsume(queue, { noAck: false }, (message) => {
      latencies.push(performance.now() - Number(message.properties.headers?.["sent-at"]));
      void message.ack();
      if (latencies.length === options.messages) done.resolve();
    });
    // The send time travels in a header (a double: AMQP's timestamp has whole seconds only);
    // both ends read one clock, performance.now(), in this one process.
    const started = performance.now();
    const confirms: Promise<unknown>[] = [];
    for (let i = 0; i < options.messages; i++) {
      const due = started + (i * 1000) / options.ratePerSecond;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      confirms.push(pub.basicPublish("", queue, "[0]", {
        deliveryMode: 2,
        headers: { "sent-at": performance.now() },
      }));
    }
    await Promise.all(confirms);
    await done.promise;
    await pub.queueDelete(queue);
    const kept = latencies.slice(options.warmup);
    return { p50Ms: percentile(kept, 50), p99Ms: percentile(kept, 99) };
  } finally {
    await consumer.close().catch(() => {});
    await publisher.close().catch(() => {});
  }
}

/** Runs the rounds: per round, ceiling and latency over each transport. */
export async function measureTlsCost(options: {
  urls: Readonly<Record<Transport, string>>;
  ca: string;
  rounds: number;
  sizes: TlsSizes;
  quiet(): Promise<void>;
  say(message: string): void;
}): Promise<TlsRound[]> {
  const rounds: TlsRound[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse();
    const figures: Partial<Record<Transport, HopFigures>> = {};
    for (const transport of order) {
      const url = options.urls[transport];
      const ca = transport === "tls" ? options.ca : undefined;
      await options.quiet();
      const ceiling = await measureCeiling({
        url,
        ca,
        messages: options.sizes.ceiling,
        // As the pipeline runs: features' 32 samples in flight × 2 messages, model's prefetch.
        window: 64,
        prefetch: 50,
        body: "[0.038,0.051,0.062,0.022,-0.044,-0.035,-0.043,-0.003,0.02,-0.018]",
        properties: {},
        queue: "bench-tls-ceiling",
      });
      await options.quiet();
      const latency = await measureHopLatency({
        url,
        ca,
        messages: options.sizes.latency,
        ratePerSecond: TLS_LATENCY_RATE,
        warmup: options.sizes.warmup,
      });
      figures[transport] = { ceilingPerSecond: ceiling.messagesPerSecond, ...latency };
      options.say(
        `round ${round + 1} ${transport}: ${formatNumber(ceiling.messagesPerSecond)} msg/s, p50 ${
          formatNumber(latency.p50Ms, 2)
        } ms, p99 ${formatNumber(latency.p99Ms, 2)} ms`,
      );
    }
    rounds.push(figures as TlsRound);
  }
  return rounds;
}
