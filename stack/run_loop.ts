/**
 * The broker door's run loop, which owns the connection: connect (retrying
 * with backoff, "waiting for rabbitmq"), declare the topology, open a
 * confirm channel for publishing and one channel per consumer, then wait for
 * the connection to drop and do it all again, until {@link RunLoop.stop}.
 *
 * - A channel the broker closes (406 PRECONDITION_FAILED on a publish, a
 *   consumer cancelled because its queue was deleted) counts as a lost
 *   connection: the loop closes the connection and reconnects, so no service
 *   is left up but unable to publish or consume.
 * - It walks the members of a cluster (`broker_members.ts`), moving to the
 *   next one after every failed connect or lost connection.
 * - A connect that hangs is abandoned after a timeout; one still in flight at
 *   shutdown is abandoned at once. Either way, what it opens is closed.
 * - A connection lost soon after it came up is followed by a backoff, so a
 *   message that closes a channel on every delivery cannot make it spin.
 *
 * Written against the small ports of `run_loop_ports.ts` (amqp-client's
 * `AMQPClient` and `AMQPChannel` fit), with sleeping and the
 * clock passed in, so a test drives it with plain fakes and no timers.
 *
 * @module
 */
import { backoffMs, errorText, sleep as realSleep } from "./async.ts";
import { brokerAddress } from "./common_config.ts";
import type { MemberRotation } from "./broker_members.ts";
import type { Telemetry } from "./telemetry.ts";
import { TopologyMismatch } from "./topology.ts";
import type { ChannelLike, ConnectionLike, ConsumerSpec } from "./run_loop_ports.ts";

/** The log lines the loop writes. */
export interface RunLoopLog {
  info(message: string, properties: Record<string, unknown>): void;
  warn(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** Ports and settings of {@link RunLoop}. */
export interface RunLoopOptions<M, Ch extends ChannelLike<M>> {
  /** The member URLs and where the walk over them stands. */
  members: MemberRotation<string>;
  /** Opens and connects a connection to `url`; rejects when it cannot. */
  connect(url: string): Promise<ConnectionLike<Ch>>;
  /**
   * Makes sure the topology exists, on channels it opens with `open` and
   * closes (a refused declare costs the broker's channel).
   */
  declare(open: () => Promise<Ch>): Promise<void>;
  /** Read on every connect: consumers registered later are attached on the next one. */
  consumers: readonly ConsumerSpec<M>[];
  log: RunLoopLog;
  telemetry: Pick<Telemetry, "connected" | "reconnects" | "channelCloses" | "brokerMember">;
  /** First retry delay; doubles up to `retryMaxMs`. */
  retryInitialMs: number;
  retryMaxMs: number;
  /** Called after every connection drop, before reconnecting. */
  onDisconnect?: () => void;
  /** Waits `ms`, or less once `signal` aborts. Default: a timer (`async.ts`). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Milliseconds, for how long a connection lasted. Default `performance.now`. */
  now?: () => number;
  /** Jitter source of the backoff. Default `Math.random`. */
  random?: () => number;
  /** A connect attempt that hangs (DNS, a half-open network) is abandoned after this. Default 10,000. */
  connectTimeoutMs?: number;
  /** Closing a connection to recover from a closed channel waits at most this. Default 5,000. */
  recoveryCloseTimeoutMs?: number;
  /** A connection lost sooner than this after it came up is followed by a backoff. Default 5,000. */
  stableConnectionMs?: number;
}

/** Why the loop's current connection ended. */
type Loss =
  | { kind: "stop" }
  | { kind: "connection"; error: Error | undefined }
  | { kind: "channel"; channel: string; error: Error };

/** Keeps a connection with its channels and consumers up until {@link RunLoop.stop}. */
export class RunLoop<M, Ch extends ChannelLike<M>> {
  readonly #options: RunLoopOptions<M, Ch>;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly #now: () => number;
  readonly #stop = new AbortController();
  #connection: ConnectionLike<Ch> | undefined;
  #publishChannel: Ch | undefined;
  #consumerChannels: { channel: Ch; tag: string }[] = [];
  /** False once {@link stopConsuming} was called: no consumer is attached after that. */
  #consuming = true;
  /** The attaching of the connection in use, until it is done (or failed). */
  #attaching: Promise<void> | undefined;
  #connected = false;
  #connectionCount = 0;
  #waiters: (() => void)[] = [];
  #running: Promise<void> | undefined;

  constructor(options: RunLoopOptions<M, Ch>) {
    this.#options = options;
    this.#sleep = options.sleep ?? realSleep;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * True from connected (publish channel and every consumer attached, none once
   * {@link stopConsuming} was called) until the connection is lost.
   */
  get connected(): boolean {
    return this.#connected;
  }

  /** The publish channel of the connection in use, once opened in confirm mode. */
  get publishChannel(): Ch | undefined {
    return this.#publishChannel;
  }

  /** The consumers attached on the connection in use, with their tags. */
  get consumerChannels(): readonly { channel: Ch; tag: string }[] {
    return this.#consumerChannels;
  }

  /**
   * Starts the loop (once; later calls return the same promise). Resolves
   * after {@link stop}; rejects if the process may not reach the broker at
   * all (a permission error is a configuration error, not worth retrying).
   */
  run(): Promise<void> {
    this.#running ??= this.#loop();
    return this.#running;
  }

  /** Resolves when connected (at once if so), or when {@link stop} was called. */
  whenConnected(): Promise<void> {
    if (this.#connected || this.#stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * The first half of a shutdown: nothing new arrives from here on. No consumer is attached
   * after this call, on this connection or a later one; an attach under way is waited for (a
   * SIGTERM may come while a new replica attaches), and then every consumer attached is
   * cancelled. Resolves on the last cancel-ok, when every delivery the broker sent has arrived.
   * Publishing goes on until {@link stop}.
   */
  async stopConsuming(): Promise<void> {
    this.#consuming = false;
    await this.#attaching;
    for (const { channel, tag } of this.#consumerChannels) {
      // A closed channel has given its deliveries back already; nothing to cancel.
      await channel.basicCancel(tag).catch(() => {});
    }
  }

  /** Ends the loop: closes the connection and resolves once the loop has ended. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    this.#releaseWaiters();
    const connection = this.#connection;
    if (connection && !connection.closed) await connection.close("shutdown").catch(() => {});
    await this.#running?.catch(() => {});
  }

  async #loop(): Promise<void> {
    const { members, log, telemetry, retryInitialMs, retryMaxMs, random } = this.#options;
    const { stableConnectionMs = 5_000 } = this.#options;
    const stop = this.#stop.signal;
    let attempt = 0;
    let quickLosses = 0;
    while (!stop.aborted) {
      this.#showMember();
      const url = members.current;
      const host = new URL(url).host;
      const watch = this.#watchLoss();
      let connection: ConnectionLike<Ch> | undefined;
      try {
        connection = await this.#connect(url);
        if (!connection) break; // stopped while connecting
        this.#connection = connection;
        connection.ondisconnect = watch.onDisconnect;
        const attaching = this.#attach(connection, watch.onChannelClosed);
        this.#attaching = attaching.catch(() => {});
        await attaching;
      } catch (error) {
        if (connection && !connection.closed) await connection.close().catch(() => {});
        if (
          error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
        ) {
          throw new Error(`Cannot connect to rabbitmq at '${host}': ${errorText(error)}`);
        }
        if (stop.aborted) break; // stopped while attaching: not a broker that is away
        await this.#retryAfter(error, host, ++attempt);
        continue;
      }
      attempt = 0;
      this.#connectionCount++;
      if (this.#connectionCount > 1) telemetry.reconnects.inc();
      this.#connected = true;
      telemetry.connected.set(1);
      const connectedAt = this.#now();
      log.info("connected to rabbitmq at {host} (member {member} of {members})", {
        host,
        member: members.index + 1,
        members: members.members.length,
        connection: this.#connectionCount,
        frameMax: connection.frameMax,
      });
      this.#releaseWaiters();

      const stopped = () => watch.lost.resolve({ kind: "stop" });
      if (stop.aborted) stopped();
      stop.addEventListener("abort", stopped, { once: true });
      const loss = await watch.lost.promise;
      stop.removeEventListener("abort", stopped);
      this.#connected = false;
      telemetry.connected.set(0);
      this.#publishChannel = undefined;
      this.#consumerChannels = [];
      if (loss.kind === "stop") {
        if (!connection.closed) await connection.close("shutdown").catch(() => {});
        break;
      }
      await this.#recover(loss, connection, host);
      this.#options.onDisconnect?.();
      if (this.#now() - connectedAt < stableConnectionMs) {
        await this.#sleep(backoffMs(quickLosses++, retryInitialMs, retryMaxMs, random), stop);
      } else {
        quickLosses = 0;
      }
    }
  }

  /**
   * What ends one connection: `lost` resolves on the first of a lost
   * connection and a channel the broker closed on its own.
   */
  #watchLoss() {
    const { telemetry } = this.#options;
    const stop = this.#stop.signal;
    const lost = Promise.withResolvers<Loss>();
    let disconnected = false;
    let channelLost = false;
    return {
      lost,
      onDisconnect: (error?: Error) => {
        disconnected = true;
        lost.resolve({ kind: "connection", error });
      },
      onChannelClosed: (channel: string, reason: string) => {
        // The client closes every channel before it reports a lost
        // connection, in the same turn: look once that turn is over, and
        // count only channels that closed on their own.
        queueMicrotask(() => {
          if (disconnected || channelLost || stop.aborted) return;
          channelLost = true;
          this.#connected = false;
          telemetry.connected.set(0);
          telemetry.channelCloses.inc({ channel });
          lost.resolve({ kind: "channel", channel, error: new Error(reason) });
        });
      },
    };
  }

  /** Logs failed connect (or attach) number `attempt` (1-based) and waits before the next. */
  async #retryAfter(error: unknown, host: string, attempt: number): Promise<void> {
    const { members, log, retryInitialMs, retryMaxMs, random } = this.#options;
    const delay = backoffMs(attempt - 1, retryInitialMs, retryMaxMs, random);
    if (error instanceof TopologyMismatch) {
      // Not a broker that is away: an operator must act. Retrying lets the
      // service go on by itself once the queue is deleted.
      log.error("{error}; retrying in {delay} ms", { error: error.message, delay, attempt });
    } else {
      const next = brokerAddress(members.moveOn());
      log.warn("waiting for rabbitmq at {host}: {error}; trying {next} in {delay} ms", {
        host,
        error: errorText(error),
        next,
        delay,
        attempt,
      });
    }
    await this.#sleep(delay, this.#stop.signal);
  }

  /** Logs a lost connection and gets ready for the next: closes it, or moves to the next member. */
  async #recover(
    loss: Exclude<Loss, { kind: "stop" }>,
    connection: ConnectionLike<Ch>,
    host: string,
  ): Promise<void> {
    const { members, log } = this.#options;
    if (loss.kind === "channel") {
      log.error(
        "the broker closed the {channel} channel: {error}; reconnecting",
        { channel: loss.channel, error: errorText(loss.error) },
      );
      // Unacked deliveries of every channel go back to their queues; the
      // broker gets a while to answer the close.
      const { recoveryCloseTimeoutMs = 5_000 } = this.#options;
      const timer = new AbortController();
      await Promise.race([
        connection.close("recovering from a closed channel").catch(() => {}),
        this.#sleep(recoveryCloseTimeoutMs, timer.signal),
      ]);
      timer.abort(); // ends the sleep
    } else {
      // The member may be going away (a cluster node stopping): the next one is
      // likelier to answer. With one broker, that is the same one again.
      log.warn("lost the connection to rabbitmq at {host}: {error}; reconnecting to {next}", {
        host,
        error: errorText(loss.error ?? "closed"),
        next: brokerAddress(members.moveOn()),
      });
    }
  }

  /**
   * Connects to `url` within the connect timeout. Resolves undefined when
   * {@link stop} comes first; rejects on a failed or timed-out connect. A
   * connect abandoned either way has what it opens closed once it is open.
   */
  async #connect(url: string): Promise<ConnectionLike<Ch> | undefined> {
    const { connectTimeoutMs = 10_000 } = this.#options;
    const stop = this.#stop.signal;
    const pending = this.#options.connect(url);
    const timer = new AbortController();
    const cutShort = () => timer.abort();
    stop.addEventListener("abort", cutShort, { once: true });
    if (stop.aborted) cutShort();
    try {
      const outcome = await Promise.race([
        pending.then((connection) => ({ connection })),
        this.#sleep(connectTimeoutMs, timer.signal).then(() =>
          stop.aborted ? "stopped" as const : "timeout" as const
        ),
      ]);
      if (typeof outcome === "object" && !stop.aborted) return outcome.connection;
      pending.then((connection) => connection.close().catch(() => {}), () => {});
      if (outcome === "timeout") throw new Error(`no answer within ${connectTimeoutMs} ms`);
      return undefined;
    } finally {
      stop.removeEventListener("abort", cutShort);
      timer.abort(); // ends the timeout's sleep
    }
  }

  async #attach(
    connection: ConnectionLike<Ch>,
    onChannelClosed: (channel: string, reason: string) => void,
  ): Promise<void> {
    await this.#options.declare(() => connection.channel());
    const publishChannel = await connection.channel();
    // Replaces the client's handler, which only logs: the channel is gone
    // for good, and with it the ability to publish.
    publishChannel.onerror = (reason) => onChannelClosed("publish", reason);
    await publishChannel.confirmSelect();
    this.#publishChannel = publishChannel;
    const consumerChannels: { channel: Ch; tag: string }[] = [];
    for (const spec of this.#options.consumers) {
      if (!this.#consuming) break; // shutting down: publishing only, to settle what is held
      const channel = await connection.channel();
      channel.onerror = (reason) => onChannelClosed(spec.queue, reason);
      await channel.basicQos(spec.prefetch);
      const consumer = await channel.basicConsume(
        spec.queue,
        { noAck: false },
        (message) => spec.onMessage(message),
      );
      // Rejects when the broker cancels the consumer (its queue was deleted).
      consumer.wait().catch((error) => onChannelClosed(spec.queue, errorText(error)));
      consumerChannels.push({ channel, tag: consumer.tag });
    }
    this.#consumerChannels = consumerChannels;
  }

  /** Sets `ml_broker_member`: 1 for the member in use, 0 for the others. */
  #showMember(): void {
    const { members, telemetry } = this.#options;
    members.members.forEach((url, index) => {
      telemetry.brokerMember.set({ member: brokerAddress(url) }, index === members.index ? 1 : 0);
    });
  }

  #releaseWaiters(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }
}
