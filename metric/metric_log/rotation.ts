/**
 * When a log rotates and which rotated files go, as plain functions over
 * sizes and times (the writer, `writer.ts`, does the renaming and deleting).
 *
 * - **Rotation**: the live file is rotated before a write once it holds
 *   `rotateBytes`, or when the write falls in another period of `rotateMs`
 *   (UTC-aligned: with a day, one file per UTC day) than its last write.
 *   A file holding nothing but its header never rotates.
 * - **Retention**: a rotated file goes once it is older than `retainMs`
 *   (its last write), and the oldest go while the log's files (the live one
 *   counted as the `rotateBytes` it may grow to) would exceed `retainBytes`.
 *
 * So each log stays within {@link logBudgetBytes} of disk, whatever the
 * rate and however long the service runs.
 *
 * @module
 */

/** How a log rotates and how much of it is kept. */
export interface RotationSettings {
  /** Size at which the live file rotates. */
  readonly rotateBytes: number;
  /** Period the live file rotates at (UTC-aligned); 0: by size only. */
  readonly rotateMs: number;
  /** Most bytes a log's files hold together. */
  readonly retainBytes: number;
  /** Age (since its last write) past which a rotated file goes; 0: by size only. */
  readonly retainMs: number;
}

/** 64 MiB files, one a UTC day at least, a month kept, at most 2 GiB per log. */
export const DEFAULT_ROTATION: RotationSettings = {
  rotateBytes: 64 * 1024 * 1024,
  rotateMs: 86_400_000,
  retainBytes: 2 * 1024 * 1024 * 1024,
  retainMs: 30 * 86_400_000,
};

/** What {@link dueForRotation} looks at: the live file now. */
export interface LiveFile {
  /** Bytes in it. */
  readonly size: number;
  /** Bytes of its header (a file of only these never rotates). */
  readonly headerBytes: number;
  /** Wall-clock ms of its last write. */
  readonly lastWriteMs: number;
}

/** Whether the live file rotates before a write at `nowMs`; see the module documentation. */
export function dueForRotation(
  live: LiveFile,
  nowMs: number,
  settings: Pick<RotationSettings, "rotateBytes" | "rotateMs">,
): boolean {
  if (live.size <= live.headerBytes) return false;
  if (live.size >= settings.rotateBytes) return true;
  if (settings.rotateMs <= 0) return false;
  return Math.floor(nowMs / settings.rotateMs) !== Math.floor(live.lastWriteMs / settings.rotateMs);
}

/** A rotated file as {@link filesToRetire} weighs it. */
export interface RetainedFile {
  readonly seq: number;
  readonly size: number;
  /** Wall-clock ms of its last write (its mtime). */
  readonly lastWriteMs: number;
}

/**
 * The rotated files that go at `nowMs`, oldest first: those past
 * `retainMs`, then the oldest while the rest and the live file (counted as
 * at least `rotateBytes`) would hold more than `retainBytes`.
 */
export function filesToRetire(
  rotated: readonly RetainedFile[],
  liveSize: number,
  nowMs: number,
  settings: RotationSettings,
): RetainedFile[] {
  const files = [...rotated].sort((a, b) => a.seq - b.seq);
  const retire: RetainedFile[] = [];
  let total = files.reduce(
    (sum, file) => sum + file.size,
    Math.max(liveSize, settings.rotateBytes),
  );
  for (const file of files) {
    const old = settings.retainMs > 0 && nowMs - file.lastWriteMs > settings.retainMs;
    if (!old && total <= settings.retainBytes) break;
    retire.push(file);
    total -= file.size;
  }
  return retire;
}

/**
 * Most bytes one log takes on disk: its retention, or one full live file
 * when that is larger; a live file may pass `rotateBytes` by the one write
 * that crossed it (a burst of rows, at most `slackBytes`).
 */
export function logBudgetBytes(settings: RotationSettings, slackBytes = 1024 * 1024): number {
  return Math.max(settings.retainBytes, settings.rotateBytes) + slackBytes;
}
