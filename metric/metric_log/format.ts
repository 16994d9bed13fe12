/**
 * What `metric_log.csv` is: its name, its header, and one line per paired
 * sample ({@link PairRecord}) with its absolute error. Pure formatting and
 * parsing. The rest of the file's life is beside this module: the metric
 * service appends to it (`writer.ts`), reads it back at start to restore its
 * running statistics and de-duplication (`restore.ts`), and others follow it
 * while it grows (`reader.ts`).
 *
 * @module
 */
import { HEADERS, numberHeader, parseFeatureVector, textHeader } from "../../stack/contracts.ts";
import { FEATURE_COUNT, FEATURE_NAMES } from "../../stack/dataset.ts";
import { CONTROL_CHARACTERS, printable } from "../../stack/printable.ts";

/** The file metric writes its pairs to, inside its `LOG_DIR`. */
export const METRIC_LOG_FILE = "metric_log.csv";

/** The path of `metric_log.csv` in `logDir`. */
export function metricLogPath(logDir: string): string {
  return `${logDir.replace(/\/+$/, "")}/${METRIC_LOG_FILE}`;
}

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
  /**
   * The feature vector the prediction was made from, as the model carried it
   * (`inputs` header): what a retrain learns from. Absent when the prediction
   * did not carry it (a model older than the header) or in rows of the first
   * format.
   */
  readonly inputs?: readonly number[];
}

/** The sample's columns: every row's first cells, and the whole header of the first format. */
const SAMPLE_HEADER = "id,y_true,y_pred,absolute_error,model_version,replica,latency_ms,paired_at";
const SAMPLE_CELLS = SAMPLE_HEADER.split(",").length;

/**
 * The first line of `metric_log.csv`: the sample, then its inputs under the
 * data set's own column names, so `pandas.read_csv` gives a frame that
 * trains like `load_diabetes(as_frame=True)`.
 */
export const CSV_HEADER = [SAMPLE_HEADER, ...FEATURE_NAMES].join(",");

/**
 * Headers of earlier formats, still read: their rows have no inputs. A live
 * file that starts with one is rotated at start (`restore.ts`), so new rows
 * never land under an old header.
 */
export const EARLIER_CSV_HEADERS: readonly string[] = [SAMPLE_HEADER];

/** Whether `line` is the header of this format or of an earlier one. */
export function isKnownHeader(line: string | undefined): boolean {
  return line === CSV_HEADER || (line !== undefined && EARLIER_CSV_HEADERS.includes(line));
}

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
  const inputs = carriedInputs(predicted);
  return pairRecord({
    id: truth.id,
    yTrue: truth.value,
    yPred: prediction.value,
    modelVersion: label(textHeader(predicted, HEADERS.modelVersion, "unknown")),
    replica: label(textHeader(predicted, HEADERS.replica, "unknown")),
    sentAtMs: numberHeader(truth.token.properties.headers, HEADERS.sentAtMs) ??
      numberHeader(predicted, HEADERS.sentAtMs),
    pairedAtMs,
    ...(inputs ? { inputs } : {}),
  });
}

const encoder = new TextEncoder();

/**
 * The feature vector a prediction carries in its `inputs` header, held to
 * the same contract as a `features` body; undefined when it is absent or
 * breaks it (the pair is still recorded, without inputs, and a retrain
 * leaves the row out).
 */
export function carriedInputs(
  headers: Record<string, unknown> | undefined,
): number[] | undefined {
  const raw = headers?.[HEADERS.inputs];
  if (typeof raw !== "string") return undefined;
  const parsed = parseFeatureVector(encoder.encode(raw));
  return parsed.ok ? parsed.value : undefined;
}

/** Longest model version or replica name kept; longer header values are cut. */
export const MAX_LABEL_LENGTH = 128;

/**
 * A header value made fit for a CSV cell and a log line. Headers come from
 * any publisher and are not validated by the contract (ids are, by
 * `parseId`): control characters (a line break would split the row; ESC, C1
 * and bidirectional controls would act on the terminal or viewer that shows
 * the file: `printable.ts`'s {@link CONTROL_CHARACTERS}) become U+FFFD, lone
 * surrogates too (they cannot be written as UTF-8), and the value is cut to
 * {@link MAX_LABEL_LENGTH}. Idempotent.
 */
export function label(text: string): string {
  return oneLine(text.slice(0, MAX_LABEL_LENGTH).toWellFormed());
}

function oneLine(text: string): string {
  return text.replace(CONTROL_CHARACTERS, "\uFFFD");
}

/*
 * CSV injection (OWASP): a spreadsheet runs a cell that starts with =, +, -,
 * @, tab or CR as a formula. Text cells (id, version, replica) that start so
 * are neutralised the way OWASP says: a leading single quote, inside double
 * quotes. A text that starts with a quote gets one too, so parseRecord can
 * take exactly one off any text cell that starts with a quote and every id
 * reads back as it was. Numbers are written by String() and stay bare: a
 * negative number is a number, not a formula.
 */
const FORMULA_START = /^[=+\-@\t\r']/;

/** A text cell: formula-neutral, quoted when it must be (the comment above). */
export function textCell(text: string): string {
  const neutral = FORMULA_START.test(text) ? `'${text}` : text;
  return neutral !== text || /[",\n\r]/.test(neutral)
    ? `"${neutral.replaceAll('"', '""')}"`
    : neutral;
}

/** The text a {@link textCell} wrote, once {@link splitCsv} has taken its quotes off. */
export function untext(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}

/** A number as the shortest text that reads back as the same double, -0 included. */
export function numberCell(value: number): string {
  return Object.is(value, -0) ? "-0" : String(value);
}

/**
 * The CSV line of a record, without the newline: always exactly one line.
 * Ids are as `parseId` accepts them (no control character, C1 and bidi
 * included); one that is not, from a caller that did not parse it, is
 * written {@link printable}, never raw. Version and replica go through
 * {@link label} here too, in case a caller did not.
 * {@link parseRecord} reads back the same record.
 */
export function formatRecord(record: PairRecord): string {
  return [
    textCell(printable(record.id)),
    numberCell(record.yTrue),
    numberCell(record.yPred),
    numberCell(record.absoluteError),
    textCell(label(record.modelVersion)),
    textCell(label(record.replica)),
    // Kept to the microsecond: finer is noise.
    Number.isNaN(record.latencyMs) ? "" : record.latencyMs.toFixed(3),
    new Date(record.pairedAtMs).toISOString(),
    ...(record.inputs?.length === FEATURE_COUNT
      ? record.inputs.map(numberCell)
      : Array<string>(FEATURE_COUNT).fill("")),
  ].join(",");
}

/** Splits one CSV line, honouring double quotes. */
export function splitCsv(line: string): string[] {
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

/**
 * The record on a CSV line, of this format or the first (no inputs), or
 * `undefined` for a header or a damaged line. Inputs are all ten numbers or
 * all ten empty; anything else is damage.
 */
export function parseRecord(line: string): PairRecord | undefined {
  const cells = splitCsv(line);
  const withInputs = cells.length === SAMPLE_CELLS + FEATURE_COUNT;
  if ((cells.length !== SAMPLE_CELLS && !withInputs) || cells[0] === "id") return undefined;
  const [id, yTrue, yPred, absoluteError, modelVersion, replica, latency, pairedAt] = cells;
  // Number("") is 0: an empty cell is damage, not a value.
  const number = (text: string) => text.trim() === "" ? Number.NaN : Number(text);
  const inputCells = withInputs ? cells.slice(SAMPLE_CELLS) : [];
  const noInputs = inputCells.every((cell) => cell === "");
  const inputs = noInputs ? undefined : inputCells.map(number);
  if (inputs && !inputs.every(Number.isFinite)) return undefined;
  const record: PairRecord = {
    id: untext(id),
    yTrue: number(yTrue),
    yPred: number(yPred),
    absoluteError: number(absoluteError),
    modelVersion: untext(modelVersion),
    replica: untext(replica),
    latencyMs: latency === "" ? Number.NaN : Number(latency),
    pairedAtMs: Date.parse(pairedAt),
    ...(inputs ? { inputs } : {}),
  };
  const numbers = [record.yTrue, record.yPred, record.absoluteError, record.pairedAtMs];
  return record.id !== "" && numbers.every(Number.isFinite) ? record : undefined;
}

/**
 * The rows in `text`, lines of `metric_log.csv`: the header and damaged
 * lines are left out, as the metric service itself does on restore.
 */
export function parseMetricLog(text: string): PairRecord[] {
  return text.split("\n").flatMap((line) => parseRecord(line) ?? []);
}
