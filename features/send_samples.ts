/**
 * The features service's main loop: pick a sample when it is due, publish
 * its two messages within the in-flight window, retry each until confirmed,
 * and log progress. Every clock, sleep and broker call is a port, so the
 * loop runs in tests without a broker or a timer.
 *
 * @module
 */
import { errorText } from "../stack/async.ts";
import { applyDrift, describeDrift, type DriftPlan, driftStarted } from "./drift.ts";
import { InFlightWindow } from "./in_flight_window.ts";
import { Pacer } from "./pacer.ts";
import { publishUntilConfirmed, type RetryReason } from "../stack/publish_until_confirmed.ts";
import { type OutgoingMessage, type Sample, sampleMessages } from "./sampler.ts";

/** The log lines {@link sendSamples} writes. */
export interface SendLog {
  info(message: string, properties: Record<string, unknown>): void;
  warn(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** Ports and settings of {@link sendSamples}. */
export interface SendSamplesOptions {
  /** Samples to send; 0 sends until `signal` aborts. */
  count: number;
  /**
   * Time between samples; 0 sends as fast as the window allows. A function gives it by the time
   * since sending started (a square wave, `square_wave.ts`).
   */
  intervalMs: number | ((elapsedMs: number) => number);
  /** Samples published but not yet confirmed, at most. */
  maxInFlight: number;
  /** How often to log progress; 0 never. */
  progressEveryMs: number;
  /** This process, carried in every message. */
  replica: string;
  /** The next sample to send. */
  pickSample(): Sample;
  /** Shifts applied to every sample from a given moment (`drift.ts`); none when omitted. */
  drift?: DriftPlan;
  /** A fresh sample id. */
  newId(): string;
  /** A monotonic clock in ms, like `performance.now`. */
  now(): number;
  /** Wall-clock ms (fractional), stamped on each message for end-to-end latency. */
  wallClockMs(): number;
  /** Waits `ms`, or until `signal` aborts when one is given. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Publishes one message; resolves once the broker confirmed it. */
  publish(message: OutgoingMessage): Promise<void>;
  /** Whether the broker connection is up. */
  connected(): boolean;
  /** Hears of each publish retried and why: a full queue (`refused`), a blocked broker, a failure. */
  onRetry?: (reason: RetryReason, queue: string) => void;
  log: SendLog;
  /** Aborted when shutdown starts: no new samples, in-flight ones finish. */
  signal: AbortSignal;
}

/** Sends samples until `count` are sent or `signal` aborts, then waits for those in flight. */
export async function sendSamples(options: SendSamplesOptions): Promise<void> {
  const { log, signal, now, sleep } = options;
  const started = now();
  const pacer = new Pacer({
    intervalMs: options.intervalMs,
    now,
    sleep: (ms) => sleep(ms, signal),
  });
  const window = new InFlightWindow(options.maxInFlight);
  const retry = {
    publish: options.publish,
    // Not cut short by shutdown: a sample is retried until the broker is gone.
    sleep: (ms: number) => sleep(ms),
    giveUp: () => signal.aborted && !options.connected(),
    onRetry: (reason: RetryReason, message: OutgoingMessage) =>
      options.onRetry?.(reason, message.queue),
    log,
  };
  let sent = 0;
  let lastProgress = started;
  let drifting = false;
  for (let n = 0; options.count === 0 || n < options.count; n++) {
    await pacer.wait();
    await window.room();
    if (signal.aborted) break;
    let sample = options.pickSample();
    if (options.drift) {
      if (!drifting && driftStarted(options.drift, { samples: n, elapsedMs: now() - started })) {
        drifting = true;
        log.warn("drift on from sample {n}: {drift}", {
          n: n + 1,
          drift: describeDrift(options.drift),
        });
      }
      if (drifting) sample = applyDrift(sample, options.drift);
    }
    const id = options.newId();
    const messages = sampleMessages(sample, {
      id,
      sentAtMs: options.wallClockMs(),
      replica: options.replica,
    });
    const sending = Promise.all(messages.map((m) => publishUntilConfirmed(m, retry))).then(
      () => {
        sent++;
        log.info("sent sample {id}: row {row}, y_true {target}", {
          id,
          row: sample.row,
          target: sample.target,
        });
      },
      (error) => log.error("sample {id} not sent: {error}", { id, error: errorText(error) }),
    );
    window.add(sending);
    const time = now();
    if (options.progressEveryMs > 0 && time - lastProgress >= options.progressEveryMs) {
      lastProgress = time;
      log.info("progress: {sent} samples sent, {rate} per second", {
        sent,
        rate: Math.round(sent / ((time - started) / 1000)),
      });
    }
  }
  await window.drain();
  const seconds = (now() - started) / 1000;
  log.info("sent {sent} samples in {seconds} s", { sent, seconds: Number(seconds.toFixed(3)) });
}
