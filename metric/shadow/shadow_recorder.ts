/**
 * The metric service's consumer of `y_pred_shadow`: each candidate
 * prediction is parsed, paired with the stable outcome of the same sample
 * (`shadow_pairer.ts`), and its row appended to `shadow_log.csv` before the
 * delivery is acked; then the candidate's summary counts it. The stable
 * pipeline never waits for it: the stable recorder only tells it what it
 * recorded ({@link ShadowRecorder.noteStable}).
 *
 * A prediction that finds no stable outcome in time (a metric restart lost
 * the outcomes kept in memory; the candidate fell far behind) is acked and
 * counted, not dead-lettered: it is a measurement that cannot be made, not a
 * sample the pipeline owes anyone, and fewer pairs bias nothing.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { errorText } from "../../stack/async.ts";
import { DeadLetter, type Delivery } from "../../stack/broker.ts";
import { HEADERS, textHeader } from "../../stack/contracts.ts";
import { PAIRED_ERROR_MOMENTS } from "../../stack/paired_errors.ts";
import { label, type PairRecord } from "../metric_log/format.ts";
import { parseHalf } from "../pairing/parse_half.ts";
import { ackQuietly, type RecorderLog } from "../recorder.ts";
import { formatShadowRecord, type ShadowRecord, type ShadowSummaries } from "./shadow_log.ts";
import type { ShadowMatch, ShadowPairer } from "./shadow_pairer.ts";

/** What {@link ShadowRecorder} reports; tests pass plain objects. */
export interface ShadowMetrics {
  /** A candidate's prediction paired and written. */
  recorded(record: ShadowRecord): void;
  /** A prediction recorded already, or waiting already, was dropped. */
  duplicate(): void;
  /** Predictions that found no stable outcome in time. */
  unpaired(count: number): void;
}

/** Ports and settings of {@link ShadowRecorder}. */
export interface ShadowRecorderOptions {
  pairer: ShadowPairer<Delivery>;
  /** Each candidate version's paired errors: counts a record once it is written. */
  summaries: ShadowSummaries;
  /** Appends one line to `shadow_log.csv`; resolves once written. */
  appendRow(line: string): Promise<void>;
  /** The file's path, for the log. */
  path: string;
  /** Ends the process: the broker then redelivers every unacked message. */
  exit(code: number): never;
  log: RecorderLog;
  metrics?: ShadowMetrics;
  /** A monotonic clock in ms, like `performance.now`. */
  now(): number;
  /** Wall-clock ms, stamped on each row. */
  wallClockMs(): number;
  maxBodyBytes: number;
}

/** See the module documentation. */
export class ShadowRecorder {
  readonly #options: ShadowRecorderOptions;

  constructor(options: ShadowRecorderOptions) {
    this.#options = options;
  }

  /** The consumer of `y_pred_shadow`, for manual settling. */
  handler(): (delivery: Delivery) => Promise<void> | undefined {
    return (delivery) => this.#receive(delivery);
  }

  /**
   * The stable pair of `record` is written: pairs the candidate predictions waiting for it.
   * Never throws and returns at once; the rows are written in the background.
   */
  noteStable(record: PairRecord): void {
    // Only what a shadow pair needs: the outcome may be kept a while, the inputs need not be.
    const { id, yTrue, absoluteError, modelVersion } = record;
    const matches = this.#options.pairer.noteStable(
      { id, yTrue, absoluteError, modelVersion },
      this.#options.now(),
    );
    for (const match of matches) {
      this.#record(match).catch((error) =>
        this.#options.log.error("cannot record shadow pair {id}: {error}", {
          id: match.half.id,
          error: errorText(error),
        })
      );
    }
  }

  /** Acks and counts the predictions that waited too long for a stable outcome. */
  expire(): void {
    const expired = this.#options.pairer.expire(this.#options.now());
    if (expired.length === 0) return;
    this.#options.metrics?.unpaired(expired.length);
    this.#options.log.info(
      "{count} candidate predictions found no stable pair in time; acked, not counted",
      { count: expired.length },
    );
    for (const half of expired) void this.#ackQuietly(half.token);
  }

  /** After the connection dropped: the waiting deliveries are void and come again. */
  forgetPending(): void {
    this.#options.pairer.clearPending();
  }

  #receive(delivery: Delivery): Promise<void> | undefined {
    const { pairer, maxBodyBytes, metrics } = this.#options;
    // The candidate's predictions keep y_pred's contract: the sample id is the correlation id.
    const half = parseHalf("y_pred", delivery.body, delivery.properties, maxBodyBytes);
    if (!half.ok) throw new DeadLetter(half.code, half.reason);
    const headers = delivery.properties.headers;
    const offer = pairer.offer({
      id: half.id,
      version: label(textHeader(headers, HEADERS.modelVersion, "unknown")),
      value: half.value,
      arrivedAt: this.#options.now(),
      token: delivery,
    });
    switch (offer.kind) {
      case "paired":
        return this.#record(offer.match);
      case "recorded":
        metrics?.duplicate();
        return this.#ackQuietly(delivery);
      case "replaced":
        metrics?.duplicate();
        return this.#ackQuietly(offer.replaced.token);
      case "pending":
        return;
    }
  }

  async #record({ half, stable }: ShadowMatch<Delivery>): Promise<void> {
    const headers = half.token.properties.headers;
    const record: ShadowRecord = {
      id: half.id,
      pairedAtMs: this.#options.wallClockMs(),
      candidateVersion: half.version,
      candidateReplica: label(textHeader(headers, HEADERS.replica, "unknown")),
      stableVersion: stable.modelVersion,
      yTrue: stable.yTrue,
      yCandidate: half.value,
      candidateError: Math.abs(half.value - stable.yTrue),
      stableError: stable.absoluteError,
    };
    try {
      await this.#options.appendRow(formatShadowRecord(record));
    } catch (error) {
      this.#options.log.fatal("cannot write {path}: {error}; exiting so the broker redelivers", {
        path: this.#options.path,
        error: errorText(error),
      });
      return this.#options.exit(1);
    }
    // Counted once written: a crash before this counts nothing, and the restart reads the row.
    this.#options.summaries.add(record);
    this.#options.metrics?.recorded(record);
    await this.#ackQuietly(half.token);
  }

  #ackQuietly(delivery: Delivery): Promise<void> {
    return ackQuietly(delivery, this.#options.log);
  }
}

/**
 * Registers the shadow's series on `registry`: each candidate version's paired errors (what the
 * rollout's decision rule reads, `controller/rollout/decision.ts`), and counters.
 */
export function createShadowMetrics(
  registry: Registry,
  summaries: ShadowSummaries,
): ShadowMetrics {
  const registers = [registry];
  new Gauge({
    name: "ml_metric_shadow_paired_errors",
    help: "Moments of the absolute errors of each sample a candidate and the stable model both " +
      "predicted, by candidate version (stack/paired_errors.ts); pairs is their count",
    labelNames: ["candidate_version", "moment"],
    registers,
    collect() {
      this.reset();
      for (const [version, summary] of summaries.entries()) {
        for (const [moment, field] of PAIRED_ERROR_MOMENTS) {
          this.set({ candidate_version: version, moment }, summary[field]);
        }
      }
    },
  });
  const samples = new Counter({
    name: "ml_metric_shadow_samples_total",
    help: "Candidate predictions paired and written to shadow_log.csv since this process started",
    labelNames: ["candidate_version"],
    registers,
  });
  const duplicates = new Counter({
    name: "ml_metric_shadow_duplicates_dropped_total",
    help: "Candidate predictions dropped because they were recorded or waiting already",
    registers,
  });
  const unpaired = new Counter({
    name: "ml_metric_shadow_unpaired_total",
    help: "Candidate predictions acked without a pair: no stable outcome for their sample in time",
    registers,
  });
  return {
    recorded: (record) => samples.inc({ candidate_version: record.candidateVersion }),
    duplicate: () => duplicates.inc(),
    unpaired: (count) => unpaired.inc(count),
  };
}
