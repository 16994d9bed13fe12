/**
 * `shadow_log.csv`: a row per sample a candidate and the stable model both
 * predicted, written once before the candidate's prediction is acked. Apart
 * from `metric_log.csv` on purpose: a candidate's errors never reach the
 * stable MAE, its histogram or a retrain's data.
 *
 * The per-version summary the decision rule reads (`stack/paired_errors.ts`)
 * is rebuilt from these rows at start, so a metric restart neither forgets
 * a shadow's pairs nor counts one twice.
 *
 * @module
 */
import { addPair, NO_PAIRS, type PairedErrors } from "../../stack/paired_errors.ts";
import { printable } from "../../stack/printable.ts";
import { shadowKey } from "./shadow_pairer.ts";
import { label, numberCell, splitCsv, textCell, untext } from "../metric_log/format.ts";

/** The file, inside metric's `LOG_DIR`. */
export const SHADOW_LOG_FILE = "shadow_log.csv";

/** The first line of `shadow_log.csv`. */
export const SHADOW_HEADER = "id,paired_at,candidate_version,candidate_replica,stable_version," +
  "y_true,y_candidate,abs_error_candidate,abs_error_stable,difference";
const CELLS = SHADOW_HEADER.split(",").length;

/** One sample both versions predicted. */
export interface ShadowRecord {
  readonly id: string;
  readonly pairedAtMs: number;
  readonly candidateVersion: string;
  readonly candidateReplica: string;
  readonly stableVersion: string;
  readonly yTrue: number;
  readonly yCandidate: number;
  /** |y_candidate − y_true|. */
  readonly candidateError: number;
  /** The stable prediction's absolute error, as `metric_log.csv` recorded it. */
  readonly stableError: number;
}

/** The CSV line of a record, without the newline; `difference` is |e_candidate| − |e_stable|. */
export function formatShadowRecord(record: ShadowRecord): string {
  return [
    textCell(printable(record.id)),
    new Date(record.pairedAtMs).toISOString(),
    textCell(label(record.candidateVersion)),
    textCell(label(record.candidateReplica)),
    textCell(label(record.stableVersion)),
    numberCell(record.yTrue),
    numberCell(record.yCandidate),
    numberCell(record.candidateError),
    numberCell(record.stableError),
    numberCell(record.candidateError - record.stableError),
  ].join(",");
}

/** The record on a line of `shadow_log.csv`, or `undefined` for the header or a damaged line. */
export function parseShadowRecord(line: string): ShadowRecord | undefined {
  const cells = splitCsv(line);
  if (cells.length !== CELLS || cells[0] === "id") return undefined;
  const [id, pairedAt, candidateVersion, candidateReplica, stableVersion, ...numbers] = cells;
  const [yTrue, yCandidate, candidateError, stableError] = numbers.map((text) =>
    text.trim() === "" ? Number.NaN : Number(text)
  );
  const record: ShadowRecord = {
    id: untext(id),
    pairedAtMs: Date.parse(pairedAt),
    candidateVersion: untext(candidateVersion),
    candidateReplica: untext(candidateReplica),
    stableVersion: untext(stableVersion),
    yTrue,
    yCandidate,
    candidateError,
    stableError,
  };
  const finite = [record.pairedAtMs, yTrue, yCandidate, candidateError, stableError]
    .every(Number.isFinite);
  return finite && record.id !== "" && candidateError >= 0 && stableError >= 0 ? record : undefined;
}

/** Each candidate version's paired errors, from records in the order they were written. */
export class ShadowSummaries {
  readonly #byVersion = new Map<string, PairedErrors>();

  /** Counts one record. */
  add(record: ShadowRecord): void {
    const current = this.#byVersion.get(record.candidateVersion) ?? NO_PAIRS;
    this.#byVersion.set(
      record.candidateVersion,
      addPair(current, record.candidateError, record.stableError),
    );
  }

  /** The summary of `version`; no pairs when it never shadowed. */
  of(version: string): PairedErrors {
    return this.#byVersion.get(version) ?? NO_PAIRS;
  }

  /** Every version with pairs, in the order it first appeared. */
  entries(): [string, PairedErrors][] {
    return [...this.#byVersion];
  }
}

/** What {@link restoreShadow} read from a `shadow_log.csv`. */
export interface RestoredShadow {
  readonly summaries: ShadowSummaries;
  /** Keys (`shadowKey`) of the last records, oldest first: a redelivery may still bring them. */
  readonly keys: readonly string[];
  /** Records read. */
  readonly rows: number;
  /** When the last record was written (wall-clock ms); undefined without records. */
  readonly lastPairedAtMs?: number;
  /** Lines that were neither the header nor a record (damage). */
  readonly damaged: number;
}

/** The summaries of the text of a `shadow_log.csv`, and the keys of its last `keep` records. */
export function restoreShadow(text: string, keep: number): RestoredShadow {
  const summaries = new ShadowSummaries();
  const keys: string[] = [];
  let rows = 0;
  let damaged = 0;
  let lastPairedAtMs: number | undefined;
  for (const line of text.split("\n")) {
    if (line === "" || line === SHADOW_HEADER) continue;
    const record = parseShadowRecord(line);
    if (!record) {
      damaged++;
      continue;
    }
    summaries.add(record);
    rows++;
    lastPairedAtMs = record.pairedAtMs;
    keys.push(shadowKey(record.candidateVersion, record.id));
    if (keys.length > 2 * keep) keys.splice(0, keys.length - keep);
  }
  return { summaries, keys: keys.slice(-keep), rows, damaged, lastPairedAtMs };
}
