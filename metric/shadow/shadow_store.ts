/**
 * Opens `shadow_log.csv` at metric's start: the candidates' summaries and
 * recent keys rebuilt from the live file, a torn last line cut, and a writer
 * that rotates like metric's other logs but keeps at most
 * {@link SHADOW_RETAIN_BYTES} (a shadow is short: its default budget is
 * 10,000 pairs, about 1.5 MB).
 *
 * Only the live file is read back: a shadow that spans a rotation and then a
 * restart counts the pairs since the rotation (fewer pairs, never a pair
 * twice).
 *
 * @module
 */
import type { RotationSettings } from "../metric_log/rotation.ts";
import { LogWriter } from "../metric_log/writer.ts";
import {
  restoreShadow,
  SHADOW_HEADER,
  SHADOW_LOG_FILE,
  type ShadowSummaries,
} from "./shadow_log.ts";

/** Most bytes the shadow logs keep together, rotated files included. */
export const SHADOW_RETAIN_BYTES = 256 * 1024 * 1024;

/** What {@link openShadowLog} opened. */
export interface ShadowLog {
  readonly path: string;
  readonly writer: LogWriter;
  readonly summaries: ShadowSummaries;
  /** Keys recorded last, oldest first: mark them in the shadow pairer. */
  readonly keys: readonly string[];
  readonly rows: number;
  /** When its last row was written (wall-clock ms); undefined for an empty log. */
  readonly lastPairedAtMs?: number;
  readonly damaged: number;
  /** Bytes of a torn last line cut off. */
  readonly truncatedBytes: number;
}

/** Rotation of the shadow logs: the others', with retention capped at {@link SHADOW_RETAIN_BYTES}. */
export function shadowRotation(rotation: RotationSettings): RotationSettings {
  return { ...rotation, retainBytes: Math.min(rotation.retainBytes, SHADOW_RETAIN_BYTES) };
}

/** See the module documentation. `keep`: how many recent keys to give back. */
export async function openShadowLog(
  logDir: string,
  options: {
    keep: number;
    rotation: RotationSettings;
    now?: () => number;
    onRotate?: (event: { rotated: string; retired: string[] }) => void;
    onRotateError?: (error: unknown) => void;
  },
): Promise<ShadowLog> {
  const path = `${logDir.replace(/\/+$/, "")}/${SHADOW_LOG_FILE}`;
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  let truncatedBytes = 0;
  const end = text.lastIndexOf("\n") + 1;
  if (end < text.length) {
    truncatedBytes = new TextEncoder().encode(text.slice(end)).byteLength;
    await Deno.truncate(path, new TextEncoder().encode(text.slice(0, end)).byteLength);
    text = text.slice(0, end);
  }
  const restored = restoreShadow(text, options.keep);
  const writer = await LogWriter.open(path, {
    header: SHADOW_HEADER,
    rotation: shadowRotation(options.rotation),
    now: options.now,
    onRotate: options.onRotate,
    onRotateError: options.onRotateError,
  });
  return { path, writer, ...restored, truncatedBytes };
}
