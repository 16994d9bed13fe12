/**
 * A log and its rotated files, as they lie in `LOG_DIR`: the live file
 * (`metric_log.csv`, `labels_log.txt`) is the one being appended to; when it
 * rotates it is renamed, whole, to the next number (`metric_log.000001.csv`,
 * `metric_log.000002.csv`, ...; `labels_log.000001.txt`, ...) and a new live
 * file starts. So the rows of a log, in order, are its rotated files by
 * number and then the live file; each rotated file of the CSV starts with the
 * header, as every CSV does.
 *
 * @module
 */

/** A rotated file of a log. */
export interface RotatedFile {
  /** Its number: the order of rotation, from 1. */
  readonly seq: number;
  readonly path: string;
}

/** Digits a rotation number is padded to, so that `ls` lists the files in order. */
const SEQ_DIGITS = 6;

function split(livePath: string): { dir: string; stem: string; ext: string } {
  const slash = livePath.lastIndexOf("/");
  const dir = slash === -1 ? "." : livePath.slice(0, slash) || "/";
  const name = livePath.slice(slash + 1);
  const dot = name.lastIndexOf(".");
  return dot <= 0
    ? { dir, stem: name, ext: "" }
    : { dir, stem: name.slice(0, dot), ext: name.slice(dot) };
}

/** The path the live file at `livePath` is renamed to as rotated file number `seq`. */
export function rotatedPath(livePath: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw new RangeError(
      `Cannot name a rotated file as 'seq' must be a positive integer: current value is ${seq}`,
    );
  }
  const { stem, ext } = split(livePath);
  const prefix = livePath.slice(0, livePath.length - stem.length - ext.length);
  return `${prefix}${stem}.${String(seq).padStart(SEQ_DIGITS, "0")}${ext}`;
}

/** The number of `name` (a file name in the log's directory) if it is a rotated file of the log. */
export function rotatedSeq(livePath: string, name: string): number | undefined {
  const { stem, ext } = split(livePath);
  if (!name.startsWith(`${stem}.`) || !name.endsWith(ext)) return undefined;
  const digits = name.slice(stem.length + 1, name.length - ext.length);
  if (!/^\d+$/.test(digits) || digits.length < SEQ_DIGITS) return undefined;
  const seq = Number(digits);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** The rotated files of the log whose live file is `livePath`, oldest first; none if its directory is missing. */
export function listRotated(livePath: string): RotatedFile[] {
  const { dir } = split(livePath);
  const files: RotatedFile[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isFile) continue;
      const seq = rotatedSeq(livePath, entry.name);
      if (seq !== undefined) files.push({ seq, path: rotatedPath(livePath, seq) });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return files.sort((a, b) => a.seq - b.seq);
}

/** The number the live file at `livePath` gets when it rotates: one past the last rotated file. */
export function liveSeq(livePath: string, atLeast = 1): number {
  return Math.max(atLeast, (listRotated(livePath).at(-1)?.seq ?? 0) + 1);
}

/** Every file of the log, oldest first: the rotated ones, then the live one if it exists. */
export function logFiles(livePath: string): string[] {
  const paths = listRotated(livePath).map((file) => file.path);
  try {
    if (Deno.statSync(livePath).isFile) paths.push(livePath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return paths;
}
