/**
 * The one door to RabbitMQ: what the services import. It puts together
 *
 * - `run_loop.ts`: the run loop that owns the connection (connect with
 *   backoff, declare the topology, a confirm channel for publishing and one
 *   channel per consumer, wait for the drop, reconnect; a channel the broker
 *   closes counts as a lost connection; the members of a cluster walked as
 *   `broker_members.ts` says, starting at one derived from the replica's
 *   name). This is the kombu `ConsumerMixin` / amqp091-go shape: the
 *   reconnect loop is the run loop;
 * - `amqp_client.ts`: the connection itself, an amqp-client `AMQPClient` with
 *   the transport patches of `transport.ts`;
 * - `settle.ts`: acking a delivery once its handler returned, and the
 *   dead-letter ladder when it threw;
 *
 * and keeps what spans them: publishing, the deliveries in flight, and the
 * shutdown path (drain, then close). We use amqp-client's low-level
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
import type { AMQPChannel, AMQPMessage, AMQPProperties } from "@cloudamqp/amqp-client";
import type { Logger } from "./log.ts";
import type { Telemetry } from "./telemetry.ts";
import { DEFAULT_QUEUE_TYPE, ensureTopology, publishExchange, type QueueType } from "./topology.ts";
import { drainWithin } from "./drain.ts";
import { MemberRotation, startMember } from "./broker_members.ts";
import { brokerAddress } from "./common_config.ts";
import { connectClient } from "./amqp_client.ts";
import { RunLoop } from "./run_loop.ts";
import type { ConsumerSpec } from "./run_loop_ports.ts";
import { createDelivery, type Handler, settle, type SettleContext } from "./settle.ts";

export { DeadLetter, type Delivery, type Handler } from "./settle.ts";

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
  /** PEM of the CA amqps: members must be signed by (default: the system's). */
  ca?: string;
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

/** Runs `use` on a channel from `open` and closes it (the broker may have closed it already). */
async function onChannel<T>(
  open: () => Promise<AMQPChannel>,
  use: (channel: AMQPChannel) => Promise<T>,
): Promise<T> {
  const channel = await open();
  try {
    return await use(channel);
  } finally {
    if (!channel.closed) await channel.close().catch(() => {});
  }
}

/** A connection to RabbitMQ that keeps itself connected until {@link Broker.close}. */
export class Broker {
  readonly #options:
    & Required<Omit<BrokerOptions, "onDisconnect" | "ca">>
    & Pick<BrokerOptions, "onDisconnect" | "ca">;
  readonly #consumers: ConsumerSpec<AMQPMessage>[] = [];
  readonly #connectSteps: ((channel: AMQPChannel) => Promise<void>)[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #members: MemberRotation<string>;
  readonly #loop: RunLoop<AMQPMessage, AMQPChannel>;
  readonly #settling: SettleContext;
  #runLoop: Promise<void> | undefined;

  constructor(options: BrokerOptions) {
    this.#options = {
      retryInitialMs: 500,
      retryMaxMs: 10_000,
      heartbeatSeconds: 10,
      queueType: DEFAULT_QUEUE_TYPE,
      ...options,
    };
    const { urls, ca, replica, log, telemetry, connectionName, heartbeatSeconds, queueType } =
      this.#options;
    this.#members = new MemberRotation(urls, startMember(replica, urls.length));
    this.#loop = new RunLoop<AMQPMessage, AMQPChannel>({
      members: this.#members,
      connect(member) {
        const url = new URL(member);
        url.searchParams.set("heartbeat", String(heartbeatSeconds));
        return connectClient(url, { name: connectionName, ca });
      },
      declare: async (open) => {
        await ensureTopology(open, queueType);
        for (const step of this.#connectSteps) await onChannel(open, step);
      },
      consumers: this.#consumers,
      log,
      telemetry,
      retryInitialMs: this.#options.retryInitialMs,
      retryMaxMs: this.#options.retryMaxMs,
      onDisconnect: () => this.#options.onDisconnect?.(),
    });
    this.#settling = { replica, log, telemetry, publisher: () => this.#loop.publishChannel };
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
    return this.#loop.connected && this.#loop.publishChannel?.closed === false;
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
    this.#consumers.push({
      queue,
      prefetch: options.prefetch ?? this.#options.prefetch,
      onMessage: (message) => this.#dispatch(queue, handler, options, message),
    });
  }

  /**
   * Registers a step to run after the topology on every (re)connect, on a channel of its own
   * (a candidate opens its shadow copy: `openShadowCopy`). Call before {@link start}.
   */
  onConnect(step: (channel: AMQPChannel) => Promise<void>): void {
    if (this.#runLoop) throw new Error("Cannot add a connect step after start()");
    this.#connectSteps.push(step);
  }

  /**
   * Starts the run loop; resolves once the first connection is up (or
   * close() was called). Rejects if the process may not reach the broker at
   * all (a permission error is a configuration error, not worth retrying).
   */
  start(): Promise<void> {
    this.#runLoop ??= this.#loop.run();
    return Promise.race([this.whenConnected(), this.#runLoop]);
  }

  /** Resolves when connected (at once if so), or when close() was called. */
  whenConnected(): Promise<void> {
    return this.#loop.whenConnected();
  }

  /**
   * Publishes `body` to `queue` (through its exchange) as a persistent message and resolves when the
   * broker confirms it. Waits for a connection first; rejects if the
   * connection drops before the confirm (the caller decides whether to retry).
   */
  async publish(
    queue: string,
    body: string | Uint8Array,
    properties: AMQPProperties = {},
  ): Promise<void> {
    await this.whenConnected();
    const channel = this.#loop.publishChannel;
    if (!channel || channel.closed) throw new Error(`Cannot publish to '${queue}': not connected`);
    // Through the queue's own exchange: a service's user may write to no other (broker_roles.ts).
    await channel.basicPublish(publishExchange(queue), queue, body, {
      deliveryMode: 2,
      ...properties,
    });
    this.#options.telemetry.messagesOut.inc({ queue });
  }

  /**
   * First half of the shutdown path: cancel the consumers so nothing new
   * arrives, then let in-flight handlers finish, all within `deadlineMs`
   * (`drain.ts`). Publishing still works, so the caller can settle what it holds.
   */
  drain(deadlineMs: number): Promise<void> {
    return drainWithin(deadlineMs, {
      stopConsuming: () => this.#loop.stopConsuming(),
      inFlight: this.#inFlight,
      log: this.#options.log,
    });
  }

  /**
   * Second half of the shutdown path: close the connection and end the run
   * loop. Whatever was not acked goes back to its queue for another consumer.
   */
  close(): Promise<void> {
    if (this.#inFlight.size > 0) {
      this.#options.log.warn(
        "closing with {unsettled} deliveries unsettled: the broker delivers them again",
        { unsettled: this.#inFlight.size },
      );
    }
    return this.#loop.stop();
  }

  #dispatch(queue: string, handler: Handler, options: ConsumeOptions, message: AMQPMessage): void {
    this.#options.telemetry.messagesIn.inc({ queue });
    const delivery = createDelivery(queue, message, this.#settling);
    const run = settle(handler, delivery, options.manualSettle ?? false, this.#settling);
    this.#inFlight.add(run);
    run.finally(() => this.#inFlight.delete(run));
  }
}
