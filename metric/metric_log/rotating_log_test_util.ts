/**
 * What the log's tests share: a temporary log directory with metric's own writer, rotating every
 * 1,000 bytes (about four rows), so a few hundred rows make a dozen rotated files.
 *
 * @module
 */
import { CSV_HEADER, metricLogPath } from "./format.ts";
import { LogWriter } from "./writer.ts";

/** Runs `fn` on a fresh rotating log (its live file's path and its writer), then removes it. */
export async function withRotatingLog(
  prefix: string,
  fn: (path: string, log: LogWriter) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: `${prefix}-` });
  const path = metricLogPath(dir);
  const log = await LogWriter.open(path, {
    header: CSV_HEADER,
    rotation: { rotateBytes: 1_000, rotateMs: 0, retainBytes: 1e12, retainMs: 0 },
  });
  try {
    await fn(path, log);
  } finally {
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
}
