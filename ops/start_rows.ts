/**
 * The rows of a finite `deno task start` run (`COUNT` set): following
 * `metric_log.csv` from where it ended before the run, deciding when the run
 * is over, and the summary printed at the end.
 *
 * @module
 */
import { sleep } from "../stack/async.ts";
import { CSV_HEADER, type PairRecord } from "../metric/metric_log/format.ts";
import { MetricLogTail, readMetricLog } from "../metric/metric_log/reader.ts";
import type { ServiceProcess } from "./kit/process.ts";

/** How long a finite run waits for the last rows after features finished. */
export const SETTLE_MS = 30_000;

/**
 * Follows metric_log.csv from where it ends now: rows already there do not
 * count towards COUNT. A file with another header is moved aside by
 * metric, so then it counts from nothing.
 */
export async function followNewRows(path: string): Promise<MetricLogTail> {
  const before = await readMetricLog(path);
  const fresh = before.header !== undefined && before.header !== CSV_HEADER;
  return new MetricLogTail(path, { from: fresh ? 0 : before.end });
}

/** Where a finite run stands. */
export interface RowProgress {
  /** New rows so far. */
  readonly rows: number;
  /** Rows the run waits for (`COUNT`). */
  readonly count: number;
  /** When features was first seen exited (epoch ms), if it has. */
  readonly featuresDoneAt?: number;
  readonly now: number;
}

/**
 * Why a finite run is over (`count` new rows, or too few rows `SETTLE_MS`
 * after features finished), or undefined while it is not. `shownPath` is the
 * CSV's path as the user knows it.
 */
export function finiteRunOver(progress: RowProgress, shownPath: string): string | undefined {
  const { rows, count, featuresDoneAt, now } = progress;
  if (rows >= count) return `${rows} new rows in ${shownPath}`;
  if (featuresDoneAt !== undefined && now - featuresDoneAt > SETTLE_MS) {
    return `only ${rows} of ${count} rows ${SETTLE_MS / 1000} s after features finished`;
  }
}

/**
 * Resolves with why a finite run is over ({@link finiteRunOver}), polling
 * the rows; resolves with "" once `done()`.
 */
export async function watchRows(
  rows: MetricLogTail,
  shownPath: string,
  count: number,
  features: ServiceProcess | undefined,
  done: () => boolean,
): Promise<string> {
  let featuresDoneAt: number | undefined;
  while (!done()) {
    const records = await rows.read();
    if (features?.exitStatus) featuresDoneAt ??= Date.now();
    const over = finiteRunOver(
      { rows: records.length, count, featuresDoneAt, now: Date.now() },
      shownPath,
    );
    if (over !== undefined) return over;
    await sleep(200);
  }
  return "";
}

/** The mean absolute error of `records` (NaN for none). */
export function mae(records: readonly PairRecord[]): number {
  return records.reduce((sum, r) => sum + r.absoluteError, 0) / records.length;
}

/**
 * What a finite run prints at its end: the CSV's last five rows under its
 * header (`lastLines`, the file's last lines, may include the header), and
 * the MAE of the run's `records`.
 */
export function summaryLines(
  shownPath: string,
  lastLines: readonly string[],
  records: readonly PairRecord[],
): string[] {
  const rows = lastLines.filter((line) => line !== CSV_HEADER);
  return [
    `\nlast rows of ${shownPath}:`,
    ...[CSV_HEADER, ...rows.slice(-5)].map((line) => `  ${line}`),
    records.length === 0
      ? "\nno samples were recorded in this run"
      : `\nfinal MAE over the ${records.length} samples of this run: ${mae(records).toFixed(4)}`,
  ];
}

/** The last `count` lines of the file at `path` (from its last 64 KiB); none when it is missing. */
export async function lastLines(path: string, count: number): Promise<string[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return [];
  }
  try {
    const size = (await file.stat()).size;
    await file.seek(Math.max(0, size - 65_536), Deno.SeekMode.Start);
    const text = await new Response(file.readable).text();
    return text.split("\n").filter((line) => line !== "").slice(-count);
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
}
