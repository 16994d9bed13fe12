/**
 * The metric service's handlers: each `y_true` and `y_pred` delivery is
 * parsed, logged, paired by id, and each pair's row appended before both
 * messages are acked. Files, clocks and the exit are ports, so tests pass
 * closures and plain deliveries.
 *
 * @module
 */
import { errorText } from "../stack/async.ts";
import { DeadLetter, type Delivery } from "../stack/broker.ts";
import type { Half, Pairer, Side } from "./pairing/pairer.ts";
import { parseHalf } from "./pairing/parse_half.ts";
import type { RecorderMetrics } from "./telemetry.ts";
import { formatRecord, type PairRecord, recordOfPair } from "./metric_log/format.ts";
import { carriedTimes, hopDurations } from "./hops.ts";

/** The log lines {@link Recorder} writes. */
export interface RecorderLog {
  debug(message: string, properties: Record<string, unknown>): void;
  info(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
  fatal(message: string, properties: Record<string, unknown>): void;
}

/** Ports and settings of {@link Recorder}. */
export interface RecorderOptions {
  /** Pairs by id; the service keeps it to restore it and report on it. */
  pairer: Pairer<Delivery>;
  /** Where each recorded pair is counted (the running statistics). */
  stats: { add(record: PairRecord): void };
  /** Counters and histograms for `/metrics` (`telemetry.ts`); none when omitted. */
  metrics?: RecorderMetrics;
  /** Appends one line to `metric_log.csv`; resolves once written. */
  appendRow(line: string): Promise<void>;
  /** Appends one line to `labels_log.txt`. */
  appendLabel(line: string): Promise<void>;
  /** The CSV's path, for the log. */
  csvPath: string;
  /** Ends the process: the broker then redelivers every unacked message. */
  exit(code: number): never;
  log: RecorderLog;
  /** A monotonic clock in ms, like `performance.now`. */
  now(): number;
  /** Wall-clock ms, stamped on each row. */
  wallClockMs(): number;
  maxBodyBytes: number;
  unpairedTtlMs: number;
  /** Hears of each pair once its row is written: the shadow pairs a candidate with it. */
  onRecorded?(record: PairRecord): void;
}

/** See the module documentation. */
export class Recorder {
  readonly #options: RecorderOptions;

  constructor(options: RecorderOptions) {
    this.#options = options;
  }

  /**
   * The consumer of the `side` queue, for manual settling: throws
   * {@link DeadLetter} for a bad message, and settles every other delivery
   * itself once its pair is written, or at once when it is a duplicate.
   */
  handler(side: Side): (delivery: Delivery) => Promise<void> | undefined {
    return (delivery) => this.#receive(side, delivery);
  }

  /** Dead-letters the halves that waited longer than `unpairedTtlMs`. */
  expire(): void {
    const { pairer, log, unpairedTtlMs } = this.#options;
    for (const half of pairer.expire(this.#options.now())) {
      if (!half.token.live) continue;
      const other = half.side === "y_true" ? "y_pred" : "y_true";
      half.token.deadLetter(
        "unpaired",
        `unpaired: no ${other} for this id within ${unpairedTtlMs} ms`,
      )
        .catch((error) =>
          log.error("could not dead-letter {id}: {error}", { id: half.id, error: errorText(error) })
        );
    }
  }

  /**
   * After the broker connection dropped: the waiting halves' deliveries are
   * void, and the broker delivers them again.
   */
  forgetPending(): void {
    const dropped = this.#options.pairer.clearPending();
    if (dropped > 0) {
      this.#options.log.info("forgot {dropped} waiting halves; the broker delivers them again", {
        dropped,
      });
    }
  }

  #receive(side: Side, delivery: Delivery): Promise<void> | undefined {
    const { log, pairer } = this.#options;
    const half = parseHalf(side, delivery.body, delivery.properties, this.#options.maxBodyBytes);
    if (!half.ok) throw new DeadLetter(half.code, half.reason);
    const line = `received ${half.value} from queue ${delivery.queue}`;
    // labels_log.txt records every value; on stdout it is debug, or at full speed two lines per
    // sample would bury everything else (and rotate the container's log away within seconds).
    log.debug(line, {
      id: half.id,
      queue: delivery.queue,
      value: half.value,
      redelivered: delivery.redelivered,
    });
    void this.#options.appendLabel(line).catch((error) =>
      log.error("cannot write labels_log.txt: {error}", { error: errorText(error) })
    );
    const offer = pairer.offer({
      id: half.id,
      side,
      value: half.value,
      arrivedAt: this.#options.now(),
      token: delivery,
    });
    switch (offer.kind) {
      case "paired":
        return this.#record(offer.truth, offer.prediction);
      case "recorded":
        log.debug("dropped duplicate {side} for {id}: already recorded", { side, id: half.id });
        this.#options.metrics?.duplicate(side);
        return this.#ackQuietly(delivery);
      case "replaced":
        log.debug("dropped duplicate {side} for {id}: a copy was waiting", { side, id: half.id });
        this.#options.metrics?.duplicate(side);
        return this.#ackQuietly(offer.replaced.token);
      case "pending":
        return;
      case "invalid":
        return this.#refuse(offer.reason, offer.waiting);
    }
  }

  /** Dead-letters the halves of a pair that cannot be recorded; this delivery goes by the throw. */
  async #refuse(reason: string, waiting: Half<Delivery>[]): Promise<void> {
    await Promise.all(waiting.map((half) => half.token.deadLetter("not_pairable", reason)));
    throw new DeadLetter("not_pairable", reason);
  }

  async #record(truth: Half<Delivery>, prediction: Half<Delivery>): Promise<void> {
    const pairedAtMs = this.#options.wallClockMs();
    const pairedAt = this.#options.now();
    const row = recordOfPair(truth, prediction, pairedAtMs);
    this.#options.stats.add(row);
    try {
      await this.#options.appendRow(formatRecord(row));
    } catch (error) {
      // Without the row the acks must not happen; exiting hands every
      // unacked message back to the broker for the restarted service.
      this.#options.log.fatal("cannot write {path}: {error}; exiting so the broker redelivers", {
        path: this.#options.csvPath,
        error: errorText(error),
      });
      return this.#options.exit(1);
    }
    // Counted once written, like the row: a crash before this counts nothing twice.
    this.#options.metrics?.recorded(row);
    this.#options.onRecorded?.(row);
    await Promise.all([this.#ackQuietly(truth.token), this.#ackQuietly(prediction.token)]);
    this.#options.metrics?.hops?.(hopDurations({
      ...carriedTimes(truth.token.properties.headers, prediction.token.properties.headers),
      pairedAtMs,
      writtenAndAckedMs: this.#options.now() - pairedAt,
    }));
  }

  #ackQuietly(delivery: Delivery): Promise<void> {
    return ackQuietly(delivery, this.#options.log);
  }
}

/**
 * Acks `delivery` if its channel lives. One whose channel died is redelivered by the broker and
 * recognised as recorded then: there is nothing to ack now, and a failed ack is only logged.
 */
export async function ackQuietly(
  delivery: Delivery,
  log: Pick<RecorderLog, "debug">,
): Promise<void> {
  if (!delivery.live) return;
  await delivery.ack().catch((error) =>
    log.debug("ack failed: {error}", { error: errorText(error) })
  );
}
