/**
 * The one door to RabbitMQ.
 *
 * A run loop owns the connection: connect (retrying with backoff, "waiting
 * for rabbitmq"), declare the topology, open a confirm channel for publishing
 * and one channel per consumer, then wait for the connection to drop and do
 * it all again. This is the kombu `ConsumerMixin` / amqp091-go shape: the
 * reconnect loop is the run loop. We use amqp-client's low-level
 * `AMQPClient` rather than its `AMQPSession` because the session re-consumes
 * before the application can redeclare queues, and redeclaring through it
 * needs its internal channel API.
 *
 * Guarantees the services build on:
 * - `publish` resolves only when the broker has confirmed the message
 *   (persistent, to a durable queue).
 * - A delivery is acked only after its handler returned, so anything the
 *   handler published is confirmed before the input is acked: a crash at any
 *   point means redelivery, never loss. Duplicates are possible by design
 *   (at-least-once); the metric service de-duplicates by sample id.
 * - A handler that throws {@link DeadLetter} (bad input) or any other error
 *   gets its message copied to the dead-letter queue with the reason in a
 *   header, then acked: no poison message loops.
 *
 * @module
 */
import {
  AMQPChannel,
  AMQPClient,
  type AMQPMessage,
  type AMQPProperties,
} from "@cloudamqp/amqp-client";
import { HEADERS, QUEUES } from "./contracts.ts";
import type { Logger } from "./log.ts";
import type { Telemetry } from "./telemetry.ts";
import { DEAD_LETTER_EXCHANGE, declareTopology } from "./topology.ts";
import { backoffMs, errorText, sleep, withTimeout } from "./async.ts";
import { coalesceWrites, setNoDelay } from "./transport.ts";

/** Thrown by a handler to dead-letter its message with `reason`. */
export class DeadLetter extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = "DeadLetter";
    this.reason = reason;
  }
}

/** One message taken from a queue, with the two ways to settle it. */
export interface Delivery {
  readonly queue: string;
  readonly body: Uint8Array | null;
  readonly properties: AMQPProperties;
  /** True when the broker delivered this message before (to us or another consumer). */
  readonly redelivered: boolean;
  /** `performance.now()` when it arrived. */
  readonly receivedAt: number;
  /** False once the channel it came on has closed: the broker will deliver it again. */
  readonly live: boolean;
  /** Acknowledge: the broker forgets the message. */
  ack(): Promise<void>;
  /** Copy to the dead-letter queue with `reason`, then acknowledge. */
  deadLetter(reason: string): Promise<void>;
}

/** Called for each delivery. Returning acks it unless `manualSettle` is set. */
export type Handler = (delivery: Delivery) => Promise<void> | void;

/** How a consumer settles and how much it may hold. */
export interface ConsumeOptions {
  /** The handler settles deliveries itself (e.g. the metric service, after pairing). */
  manualSettle?: boolean;
  /** Overrides the door's prefetch for this consumer. */
  prefetch?: number;
}

/** Settings of {@link Broker}. */
export interface BrokerOptions {
  /** amqp:// URL with credentials. */
  url: string;
  /** Shown in the management UI's connection list. */
  connectionName: string;
  /** Stamped on dead letters. */
  replica: string;
  prefetch: number;
  log: Logger;
  telemetry: Telemetry;
  /** First retry delay; doubles up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Heartbeat in seconds: how fast a silently dead broker is noticed. */
  heartbeatSeconds?: number;
  /** Called after every connection drop, before reconnecting. */
  onDisconnect?: () => void;
}

/** Bodies above this are cut when dead-lettered so the dead-letter queue stays small. */
export const MAX_DEAD_LETTER_BODY_BYTES = 64 * 1024;

/** A connect attempt that hangs (DNS, a half-open network) is abandoned after this. */
const CONNECT_TIMEOUT_MS = 10_000;

interface ConsumerSpec {
  queue: string;
  handler: Handler;
  options: ConsumeOptions;
}

/** A connection to RabbitMQ that keeps itself connected until {@link Broker.close}. */
export class Broker {
  readonly #options:
    & Required<Omit<BrokerOptions, "onDisconnect">>
    & Pick<BrokerOptions, "onDisconnect">;
  readonly #consumers: ConsumerSpec[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #client: AMQPClient | undefined;
  #publishChannel: AMQPChannel | undefined;
  #consumerChannels: { channel: AMQPChannel; tag: string }[] = [];
  #connected = false;
  #connectionCount = 0;
  #waiters: (() => void)[] = [];
  #runLoop: Promise<void> | undefined;

  constructor(options: BrokerOptions) {
    this.#options = {
      retryInitialMs: 500,
      retryMaxMs: 10_000,
      heartbeatSeconds: 10,
      ...options,
    };
  }

  /** True while a connection with the topology and consumers is up. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Number of deliveries whose handler has not returned yet. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Registers a consumer. Call before {@link start}; it is attached on every
   * (re)connect with a channel of its own and its own prefetch.
   */
  consume(queue: string, handler: Handler, options: ConsumeOptions = {}): void {
    if (this.#runLoop) throw new Error(`Cannot consume '${queue}' after start()`);
    this.#consumers.push({ queue, handler, options });
  }

  /**
   * Starts the run loop; resolves once the first connection is up (or
   * close() was called). Rejects if the process may not reach the broker at
   * all (a permission error is a configuration error, not worth retrying).
   */
  start(): Promise<void> {
    if (!this.#runLoop) this.#runLoop = this.#run();
    return Promise.race([this.whenConnected(), this.#runLoop]);
  }

  /** Resolves when connected (at once if so), or when close() was called. */
  whenConnected(): Promise<void> {
    if (this.#connected || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Publishes `body` to `queue` as a persistent message and resolves when the
   * broker confirms it. Waits for a connection first; rejects if the
   * connection drops before the confirm (the caller decides whether to retry).
   */
  async publish(
    queue: string,
    body: string | Uint8Array,
    properties: AMQPProperties = {},
  ): Promise<void> {
    await this.whenConnected();
    const channel = this.#publishChannel;
    if (!channel || channel.closed) throw new Error(`Cannot publish to '${queue}': not connected`);
    await channel.basicPublish("", queue, body, { deliveryMode: 2, ...properties });
    this.#options.telemetry.messagesOut.inc({ queue });
  }

  /**
   * First half of the shutdown path: cancel the consumers so nothing new
   * arrives, then give in-flight handlers until `deadlineMs` to finish.
   * Publishing still works, so the caller can settle what it holds.
   */
  async drain(deadlineMs: number): Promise<void> {
    const { log } = this.#options;
    for (const { channel, tag } of this.#consumerChannels) {
      await channel.basicCancel(tag).catch(() => {});
    }
    if (this.#inFlight.size === 0) return;
    log.info("draining {pending} in-flight messages", { pending: this.#inFlight.size });
    const drained = await Promise.race([
      Promise.allSettled([...this.#inFlight]).then(() => true),
      sleep(deadlineMs).then(() => false),
    ]);
    if (!drained) {
      log.warn(
        "drain deadline of {deadlineMs} ms passed with {left} messages in flight: they go back to the queue",
        { deadlineMs, left: this.#inFlight.size },
      );
    }
  }

  /**
   * Second half of the shutdown path: close the connection and end the run
   * loop. Whatever was not acked goes back to its queue for another consumer.
   */
  async close(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#releaseWaiters();
    const client = this.#client;
    if (client && !client.closed) await client.close("shutdown").catch(() => {});
    await this.#runLoop?.catch(() => {});
  }

  async #run(): Promise<void> {
    const { log, telemetry, retryInitialMs, retryMaxMs } = this.#options;
    let attempt = 0;
    while (!this.#stop.signal.aborted) {
      const url = new URL(this.#options.url);
      url.searchParams.set("name", this.#options.connectionName);
      url.searchParams.set("heartbeat", String(this.#options.heartbeatSeconds));
      const client = new AMQPClient(url.toString(), undefined, null);
      coalesceWrites(client);
      this.#client = client;
      const lost = new Promise<Error | undefined>((resolve) => {
        client.ondisconnect = resolve;
      });
      try {
        await withTimeout(
          client.connect(),
          CONNECT_TIMEOUT_MS,
          `no answer within ${CONNECT_TIMEOUT_MS} ms`,
        );
        setNoDelay(client);
        await this.#attach(client);
      } catch (error) {
        await client.close().catch(() => {});
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          throw new Error(`Cannot connect to rabbitmq at '${url.host}': ${errorText(error)}`);
        }
        const delay = backoffMs(attempt++, retryInitialMs, retryMaxMs);
        log.warn("waiting for rabbitmq at {host}: {error}; retrying in {delay} ms", {
          host: url.host,
          error: errorText(error),
          delay,
          attempt,
        });
        await sleep(delay, this.#stop.signal);
        continue;
      }
      attempt = 0;
      this.#connectionCount++;
      if (this.#connectionCount > 1) telemetry.reconnects.inc();
      this.#connected = true;
      telemetry.connected.set(1);
      log.info("connected to rabbitmq at {host}", {
        host: url.host,
        connection: this.#connectionCount,
      });
      this.#releaseWaiters();

      const reason = await Promise.race([
        lost,
        new Promise<"stop">((resolve) =>
          this.#stop.signal.addEventListener("abort", () => resolve("stop"), { once: true })
        ),
      ]);
      this.#connected = false;
      telemetry.connected.set(0);
      this.#publishChannel = undefined;
      this.#consumerChannels = [];
      if (reason === "stop") break;
      log.warn("lost the connection to rabbitmq: {error}; reconnecting", {
        error: errorText(reason ?? "closed"),
      });
      this.#options.onDisconnect?.();
    }
  }

  async #attach(client: AMQPClient): Promise<void> {
    const publishChannel = await client.channel();
    await declareTopology(publishChannel);
    await publishChannel.confirmSelect();
    this.#publishChannel = publishChannel;
    const consumerChannels: { channel: AMQPChannel; tag: string }[] = [];
    for (const spec of this.#consumers) {
      const channel = await client.channel();
      await channel.basicQos(spec.options.prefetch ?? this.#options.prefetch);
      const consumer = await channel.basicConsume(
        spec.queue,
        { noAck: false },
        (message) => this.#dispatch(spec, message),
      );
      consumerChannels.push({ channel, tag: consumer.tag });
    }
    this.#consumerChannels = consumerChannels;
  }

  #dispatch(spec: ConsumerSpec, message: AMQPMessage): void {
    const { telemetry } = this.#options;
    telemetry.messagesIn.inc({ queue: spec.queue });
    const delivery = this.#delivery(spec.queue, message);
    const run = (async () => {
      try {
        await spec.handler(delivery);
        if (!spec.options.manualSettle) await delivery.ack();
      } catch (error) {
        await this.#handleFailure(delivery, error);
      }
    })();
    this.#inFlight.add(run);
    run.finally(() => this.#inFlight.delete(run));
  }

  async #handleFailure(delivery: Delivery, error: unknown): Promise<void> {
    const { log } = this.#options;
    if (!delivery.live) {
      // The channel closed under the handler (broker restart, network): the
      // broker already put the message back; nothing to settle here.
      log.info("left message {id} from queue {queue} to be redelivered: {error}", {
        id: delivery.properties.messageId ?? "",
        queue: delivery.queue,
        error: errorText(error),
      });
      return;
    }
    const reason = error instanceof DeadLetter
      ? error.reason
      : `handler failed: ${errorText(error)}`;
    try {
      await delivery.deadLetter(reason);
    } catch (deadLetterError) {
      log.error("could not dead-letter message {id} from queue {queue}: {error}", {
        id: delivery.properties.messageId ?? "",
        queue: delivery.queue,
        error: errorText(deadLetterError),
      });
    }
  }

  #delivery(queue: string, message: AMQPMessage): Delivery {
    const { log, telemetry, replica } = this.#options;
    const receivedAt = performance.now();
    let settled = false;
    const observe = () =>
      telemetry.handlerSeconds.observe({ queue }, (performance.now() - receivedAt) / 1000);
    const channel = message.channel;
    const publish = (body: Uint8Array | null, properties: AMQPProperties) => {
      const target = this.#publishChannel;
      if (!target || target.closed) return Promise.reject(new Error("not connected"));
      return target.basicPublish(DEAD_LETTER_EXCHANGE, queue, body, properties);
    };
    return {
      queue,
      body: message.body as Uint8Array | null,
      properties: message.properties,
      redelivered: message.redelivered,
      receivedAt,
      get live() {
        return !channel.closed;
      },
      async ack() {
        if (settled) return;
        settled = true;
        await message.ack();
        observe();
      },
      async deadLetter(reason: string) {
        if (settled) return;
        const body = message.body as Uint8Array | null;
        const truncated = (body?.byteLength ?? 0) > MAX_DEAD_LETTER_BODY_BYTES;
        await publish(truncated ? body!.subarray(0, MAX_DEAD_LETTER_BODY_BYTES) : body, {
          ...message.properties,
          deliveryMode: 2,
          headers: {
            ...message.properties.headers,
            [HEADERS.deadLetterReason]: reason,
            [HEADERS.deadLetterQueue]: queue,
            [HEADERS.replica]: replica,
            ...(truncated ? { [HEADERS.deadLetterTruncated]: body!.byteLength } : {}),
          },
        });
        settled = true;
        await message.ack();
        observe();
        telemetry.deadLettered.inc({ queue, reason: reasonLabel(reason) });
        log.warn("dead-lettered message {id} from queue {queue} to {deadLetterQueue}: {reason}", {
          id: message.properties.messageId ?? "",
          queue,
          deadLetterQueue: QUEUES.deadLetter,
          reason,
        });
      },
    };
  }

  #releaseWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A low-cardinality label for a reason: its words before the first ':'. */
export function reasonLabel(reason: string): string {
  return reason.split(":")[0].trim().slice(0, 40);
}
