/**
 * The connection, channels and consumers as the run loop (`run_loop.ts`) uses them: the part of
 * amqp-client it depends on, which amqp-client's `AMQPClient`, `AMQPChannel` and `AMQPConsumer`
 * fit and the loop's tests fake. It changes when the loop needs more of the client, not when
 * the loop's logic does.
 *
 * @module
 */
/** A consumer as the loop sees it: amqp-client's `AMQPConsumer` fits. */
export interface ConsumerLike {
  readonly tag: string;
  /** Rejects when the broker cancels the consumer or closes its channel. */
  wait(): Promise<void>;
}

/** A channel as the loop uses it, delivering messages of type `M`: amqp-client's `AMQPChannel` fits. */
export interface ChannelLike<M> {
  readonly closed: boolean;
  /** Called when the broker closes the channel. */
  onerror: (reason: string) => void;
  confirmSelect(): Promise<void>;
  basicQos(prefetchCount: number): Promise<void>;
  basicConsume(
    queue: string,
    params: { noAck: boolean },
    callback: (message: M) => void,
  ): Promise<ConsumerLike>;
  /** Resolves on the broker's cancel-ok: every delivery it sent the consumer has arrived by then. */
  basicCancel(tag: string): Promise<unknown>;
}

/** A connected connection as the loop uses it: amqp-client's `AMQPClient` fits. */
export interface ConnectionLike<Ch> {
  readonly closed: boolean;
  /** The frame size in force, for the log. */
  readonly frameMax: number;
  /** Called when the connection is lost (not after `close()`). */
  ondisconnect?: (error?: Error) => void;
  channel(): Promise<Ch>;
  close(reason?: string): Promise<void>;
}

/** A consumer to attach on every connection, on a channel of its own. */
export interface ConsumerSpec<M> {
  readonly queue: string;
  readonly prefetch: number;
  onMessage(message: M): void;
}
