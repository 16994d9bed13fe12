/**
 * The one door to RabbitMQ.
 *
 * A run loop owns the connection: connect (retrying with backoff, "waiting
 * for rabbitmq"), declare the topology, open a confirm channel for publishing
 * and one channel per consumer, then wait for the connection to drop and do
 * it all again. A channel the broker closes (406 PRECONDITION_FAILED on a
 * publish, a consumer cancelled because its queue was deleted) counts as a
 * lost connection: the loop closes the connection and reconnects, so no
 * service is left up but unable to publish or consume. Given the members of
 * a cluster, the loop starts at one derived from the replica's name and moves
 * to the next member after every failed connect or lost connection
 * (`broker_members.ts`). This is the kombu `ConsumerMixin` / amqp091-go shape: the
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
 *   header, then acked: no poison message loops. The copy is built by
 *   `dead_letter.ts` (defined properties, bounded headers); if it cannot be
 *   encoded or published, a minimal envelope goes instead; if even that
 *   fails, the message is rejected without requeue and the broker
 *   dead-letters it through the dead-letter exchange its policy names
 *   (`stack/policies.ts`; without the policy the broker drops it). Either way
 *   it is settled and frees its prefetch slot.
 * - Frames of any size the broker allows: the client takes the broker's
 *   `frame_max` and reassembles frames split over socket reads
 *   (`transport.ts`, `docs/amqp-client-frame-bug.md`).
 *
 * @module
 */
import {
  AMQPChannel,
  AMQPClient,
  type AMQPMessage,
  type AMQPProperties,
} from "@cloudamqp/amqp-client";
import { QUEUES } from "./contracts.ts";
import type { Logger } from "./log.ts";
import type { Telemetry } from "./telemetry.ts";
import {
  DEAD_LETTER_EXCHANGE,
  declareTopology,
  DEFAULT_QUEUE_TYPE,
  type QueueType,
  TopologyMismatch,
} from "./topology.ts";
import { backoffMs, errorText, sleep, withTimeout } from "./async.ts";
import { MemberRotation, startMember } from "./broker_members.ts";
import { brokerAddress } from "./common_config.ts";
import {
  acceptBrokerFrameMax,
  coalesceWrites,
  reassembleFrames,
  setNoDelay,
  settleFrameMax,
} from "./transport.ts";
import {
  deadLetterCopy,
  type DeadLetterInput,
  minimalEnvelope,
  type Outgoing,
} from "./dead_letter.ts";

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
  /** amqp:// URLs with credentials: one broker, or every member of a cluster. */
  urls: readonly string[];
  /** Shown in the management UI's connection list. */
  connectionName: string;
  /** Stamped on dead letters; decides which member is tried first. */
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
  /** Type of the work queues it declares (default quorum). */
  queueType?: QueueType;
}

/** A connect attempt that hangs (DNS, a half-open network) is abandoned after this. */
const CONNECT_TIMEOUT_MS = 10_000;

/** A dead-letter publish not confirmed within this is given up for the next fallback. */
const DEAD_LETTER_TIMEOUT_MS = 10_000;

/** Closing a connection to recover from a closed channel waits at most this for the broker. */
const RECOVERY_CLOSE_TIMEOUT_MS = 5_000;

/**
 * A connection lost sooner than this after it came up is followed by a
 * backoff before reconnecting, so a message that closes a channel on every
 * delivery cannot turn the run loop into a busy loop.
 */
const STABLE_CONNECTION_MS = 5_000;

/** Why the run loop's current connection ended. */
type Loss =
  | { kind: "stop" }
  | { kind: "connection"; error: Error | undefined }
  | { kind: "channel"; channel: string; error: Error };

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
  readonly #members: MemberRotation<string>;

  constructor(options: BrokerOptions) {
    this.#options = {
      retryInitialMs: 500,
      retryMaxMs: 10_000,
      heartbeatSeconds: 10,
      queueType: DEFAULT_QUEUE_TYPE,
      ...options,
    };
    const { urls, replica } = options;
    this.#members = new MemberRotation(urls, startMember(replica, urls.length));
  }

  /** `host:port` of the member in use: connected to, or tried next. */
  get member(): string {
    return brokerAddress(this.#members.current);
  }

  /**
   * True while a connection with the topology, an open publish channel and
   * every consumer is up: the service can consume and publish. False from the
   * moment any of them closes until the run loop has reconnected.
   */
  get connected(): boolean {
    return this.#connected && this.#canPublish();
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
    let quickLosses = 0;
    const members = this.#members;
    while (!this.#stop.signal.aborted) {
      this.#showMember();
      const url = new URL(members.current);
      url.searchParams.set("name", this.#options.connectionName);
      url.searchParams.set("heartbeat", String(this.#options.heartbeatSeconds));
      const client = new AMQPClient(url.toString(), undefined, null);
      reassembleFrames(client);
      acceptBrokerFrameMax(client);
      coalesceWrites(client);
      this.#client = client;
      const lost = Promise.withResolvers<Loss>();
      let disconnected = false;
      client.ondisconnect = (error) => {
        disconnected = true;
        lost.resolve({ kind: "connection", error });
      };
      let channelLost = false;
      const onChannelClosed = (channel: string, reason: string) => {
        // The client closes every channel before it reports a lost
        // connection, in the same turn: look once that turn is over, and
        // count only channels that closed on their own.
        queueMicrotask(() => {
          if (disconnected || channelLost || this.#stop.signal.aborted) return;
          channelLost = true;
          this.#connected = false;
          telemetry.connected.set(0);
          telemetry.channelCloses.inc({ channel });
          lost.resolve({ kind: "channel", channel, error: new Error(reason) });
        });
      };
      let frameMax: number;
      try {
        await withTimeout(
          client.connect(),
          CONNECT_TIMEOUT_MS,
          `no answer within ${CONNECT_TIMEOUT_MS} ms`,
        );
        frameMax = settleFrameMax(client);
        setNoDelay(client);
        await this.#attach(client, onChannelClosed);
      } catch (error) {
        await client.close().catch(() => {});
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          throw new Error(`Cannot connect to rabbitmq at '${url.host}': ${errorText(error)}`);
        }
        const delay = backoffMs(attempt++, retryInitialMs, retryMaxMs);
        const host = url.host;
        if (error instanceof TopologyMismatch) {
          // Not a broker that is away: an operator must act. Retrying lets the
          // service go on by itself once the queue is deleted.
          log.error("{error}; retrying in {delay} ms", { error: error.message, delay, attempt });
          await sleep(delay, this.#stop.signal);
          continue;
        }
        const next = brokerAddress(members.moveOn());
        log.warn("waiting for rabbitmq at {host}: {error}; trying {next} in {delay} ms", {
          host,
          error: errorText(error),
          next,
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
      const connectedAt = performance.now();
      log.info("connected to rabbitmq at {host} (member {member} of {members})", {
        host: url.host,
        member: members.index + 1,
        members: members.members.length,
        connection: this.#connectionCount,
        frameMax,
      });
      this.#releaseWaiters();

      const stopped = () => lost.resolve({ kind: "stop" });
      if (this.#stop.signal.aborted) stopped();
      this.#stop.signal.addEventListener("abort", stopped, { once: true });
      const loss = await lost.promise;
      this.#stop.signal.removeEventListener("abort", stopped);
      this.#connected = false;
      telemetry.connected.set(0);
      this.#publishChannel = undefined;
      this.#consumerChannels = [];
      if (loss.kind === "stop") break;
      if (loss.kind === "channel") {
        log.error(
          "the broker closed the {channel} channel: {error}; reconnecting",
          { channel: loss.channel, error: errorText(loss.error) },
        );
        // Unacked deliveries of every channel go back to their queues.
        await withTimeout(
          client.close("recovering from a closed channel"),
          RECOVERY_CLOSE_TIMEOUT_MS,
          "no close-ok",
        ).catch(() => {});
      } else {
        // The member may be going away (a cluster node stopping): the next one is
        // likelier to answer. With one broker, that is the same one again.
        log.warn("lost the connection to rabbitmq at {host}: {error}; reconnecting to {next}", {
          host: url.host,
          error: errorText(loss.error ?? "closed"),
          next: brokerAddress(members.moveOn()),
        });
      }
      this.#options.onDisconnect?.();
      if (performance.now() - connectedAt < STABLE_CONNECTION_MS) {
        await sleep(backoffMs(quickLosses++, retryInitialMs, retryMaxMs), this.#stop.signal);
      } else {
        quickLosses = 0;
      }
    }
  }

  async #attach(
    client: AMQPClient,
    onChannelClosed: (channel: string, reason: string) => void,
  ): Promise<void> {
    const publishChannel = await client.channel();
    // Replaces the client's handler, which only logs: the channel is gone
    // for good, and with it the ability to publish.
    publishChannel.onerror = (reason) => onChannelClosed("publish", reason);
    await declareTopology(publishChannel, this.#options.queueType);
    await publishChannel.confirmSelect();
    this.#publishChannel = publishChannel;
    const consumerChannels: { channel: AMQPChannel; tag: string }[] = [];
    for (const spec of this.#consumers) {
      const channel = await client.channel();
      channel.onerror = (reason) => onChannelClosed(spec.queue, reason);
      await channel.basicQos(spec.options.prefetch ?? this.#options.prefetch);
      const consumer = await channel.basicConsume(
        spec.queue,
        { noAck: false },
        (message) => this.#dispatch(spec, message),
      );
      // Rejects when the broker cancels the consumer (its queue was deleted).
      consumer.wait().catch((error) => onChannelClosed(spec.queue, errorText(error)));
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
    if (!delivery.live || !this.#canPublish()) {
      // The channel closed under the handler (broker restart, network), or
      // the publish channel did and the connection is being recycled: the
      // broker puts the message back; it is not the message's fault.
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
    const id = message.properties.messageId ?? "";
    const publishDeadLetter = async ({ body, properties }: Outgoing): Promise<void> => {
      const target = this.#publishChannel;
      if (!target || target.closed) throw new Error("not connected");
      // basicPublish throws synchronously when it cannot encode the frames.
      await withTimeout(
        target.basicPublish(DEAD_LETTER_EXCHANGE, queue, body, properties),
        DEAD_LETTER_TIMEOUT_MS,
        `no confirm within ${DEAD_LETTER_TIMEOUT_MS} ms`,
      );
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
      deadLetter: async (reason: string) => {
        if (settled) return;
        if (!this.#canPublish()) {
          // Not this message's fault: the connection is being recycled and
          // the broker delivers the message again.
          throw new Error(`Cannot dead-letter message '${id}': not connected`);
        }
        settled = true;
        const input: DeadLetterInput = {
          body: message.body as Uint8Array | null,
          properties: message.properties,
          queue,
          reason,
          replica,
        };
        let how = "a copy";
        try {
          await publishDeadLetter(deadLetterCopy(input));
        } catch (copyError) {
          log.error("could not dead-letter a copy of message {id} from queue {queue}: {error}", {
            id,
            queue,
            error: errorText(copyError),
          });
          try {
            how = "a minimal envelope";
            await publishDeadLetter(minimalEnvelope(input, errorText(copyError)));
          } catch (envelopeError) {
            log.error(
              "could not dead-letter a minimal envelope of message {id} from queue {queue}: {error}; rejecting it to the broker's dead-lettering",
              { id, queue, error: errorText(envelopeError) },
            );
            how = "the broker";
          }
        }
        // Settle either way: the message must not hold a prefetch slot. If
        // the consumer channel closed meanwhile, the broker delivers it again.
        if (how === "the broker") await message.reject(false);
        else await message.ack();
        observe();
        telemetry.deadLettered.inc({ queue, reason: reasonLabel(reason) });
        log.warn(
          "dead-lettered message {id} from queue {queue} to {deadLetterQueue} as {how}: {reason}",
          { id, queue, deadLetterQueue: QUEUES.deadLetter, how, reason },
        );
      },
    };
  }

  /** Sets `ml_broker_member`: 1 for the member in use, 0 for the others. */
  #showMember(): void {
    const { telemetry } = this.#options;
    this.#members.members.forEach((url, index) => {
      telemetry.brokerMember.set(
        { member: brokerAddress(url) },
        index === this.#members.index ? 1 : 0,
      );
    });
  }

  /** The publish channel is open (also while consumers attach, before `connected`). */
  #canPublish(): boolean {
    return this.#publishChannel?.closed === false;
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
