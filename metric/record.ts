/**
 * One line of `metric_log.csv`: a paired sample and its absolute error.
 * Pure formatting and parsing; the metric service appends, and reads the
 * file back at start to restore its running statistics and de-duplication.
 *
 * @module
 */
import { HEADERS, numberHeader, textHeader } from "../stack/contracts.ts";

/** A recorded sample. */
export interface PairRecord {
  readonly id: string;
  readonly yTrue: number;
  readonly yPred: number;
  readonly absoluteError: number;
  readonly modelVersion: string;
  readonly replica: string;
  /** Features' publish to pairing, in ms; NaN when the send time was missing. */
  readonly latencyMs: number;
  /** Wall-clock ms when the pair was recorded. */
  readonly pairedAtMs: number;
}

/** The first line of `metric_log.csv`. */
export const CSV_HEADER =
  "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at";

/** Builds the record of a truth and a prediction. */
export function pairRecord(
  fields: Omit<PairRecord, "absoluteError" | "latencyMs"> & { sentAtMs?: number },
): PairRecord {
  const { sentAtMs, ...rest } = fields;
  return {
    ...rest,
    absoluteError: Math.abs(fields.yTrue - fields.yPred),
    latencyMs: sentAtMs === undefined ? Number.NaN : fields.pairedAtMs - sentAtMs,
  };
}

/** One half of a pair as {@link recordOfPair} reads it: its value and its message's headers. */
export interface RecordedHalf {
  readonly id: string;
  readonly value: number;
  readonly token: { readonly properties: { readonly headers?: Record<string, unknown> } };
}

/**
 * The record of a truth and its prediction, from their messages: the model
 * version and replica from the prediction's headers ("unknown" when absent),
 * the send time from the truth's, or else the copy the prediction carries.
 */
export function recordOfPair(
  truth: RecordedHalf,
  prediction: RecordedHalf,
  pairedAtMs: number,
): PairRecord {
  const predicted = prediction.token.properties.headers;
  return pairRecord({
    id: truth.id,
    yTrue: truth.value,
    yPred: prediction.value,
    modelVersion: textHeader(predicted, HEADERS.modelVersion, "unknown"),
    replica: textHeader(predicted, HEADERS.replica, "unknown"),
    sentAtMs: numberHeader(truth.token.properties.headers, HEADERS.sentAtMs) ??
      numberHeader(predicted, HEADERS.sentAtMs),
    pairedAtMs,
  });
}

// Ids, versions and replica names are validated to contain no commas, quotes
// or newlines before they get here, but quote defensively anyway.
function cell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The CSV line of a record, without the newline. */
export function formatRecord(record: PairRecord): string {
  return [
    cell(record.id),
    String(record.yTrue),
    String(record.yPred),
    String(record.absoluteError),
    cell(record.modelVersion),
    cell(record.replica),
    Number.isNaN(record.latencyMs) ? "" : record.latencyMs.toFixed(3),
    new Date(record.pairedAtMs).toISOString(),
  ].join(",");
}

/** Splits one CSV line, honouring double quotes. */
function splitCsv(line: string): string[] {
  const cells: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      cells.push(current);
      current = "";
    } else current += c;
  }
  cells.push(current);
  return cells;
}

/** The record on a CSV line, or `undefined` for the header or a damaged line. */
export function parseRecord(line: string): PairRecord | undefined {
  const cells = splitCsv(line);
  if (cells.length !== 8 || cells[0] === "id") return undefined;
  const [id, yTrue, yPred, absoluteError, modelVersion, replica, latency, pairedAt] = cells;
  // Number("") is 0: an empty cell is damage, not a value.
  const number = (text: string) => text.trim() === "" ? Number.NaN : Number(text);
  const record: PairRecord = {
    id,
    yTrue: number(yTrue),
    yPred: number(yPred),
    absoluteError: number(absoluteError),
    modelVersion,
    replica,
    latencyMs: latency === "" ? Number.NaN : Number(latency),
    pairedAtMs: Date.parse(pairedAt),
  };
  const numbers = [record.yTrue, record.yPred, record.absoluteError, record.pairedAtMs];
  return id !== "" && numbers.every(Number.isFinite) ? record : undefined;
}
