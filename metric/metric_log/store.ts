/**
 * Everything the metric service keeps in `LOG_DIR`, opened in one step at
 * start: the state restored (`restore.ts`: the snapshot and the rows after
 * it, or every file), the writers of `metric_log.csv` and `labels_log.txt`
 * with their rotation, and what takes the snapshots. It says in the log
 * what it restored and how, and each rotation.
 *
 * @module
 */
import { errorText } from "../../stack/async.ts";
import type { ErrorStats } from "../pairing/stats.ts";
import { dedupWindow } from "./dedup_window.ts";
import { CSV_HEADER, metricLogPath } from "./format.ts";
import { restoreMetricState } from "./restore.ts";
import { logBudgetBytes, type RotationSettings } from "./rotation.ts";
import { snapshotPath, snapshotState, SnapshotTaker } from "./snapshot.ts";
import { LogWriter } from "./writer.ts";
import { SHADOW_LOG_FILE } from "../shadow/shadow_log.ts";
import { openShadowLog, type ShadowLog, shadowRotation } from "../shadow/shadow_store.ts";

/** The file that gets a line per message received, beside `metric_log.csv`. */
export const LABELS_LOG_FILE = "labels_log.txt";

/** The log lines {@link openMetricStore} writes. */
export interface StoreLog {
  info(message: string, properties: Record<string, unknown>): void;
  warn(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** Settings of {@link openMetricStore}: the metric service's. */
export interface StoreOptions {
  readonly logDir: string;
  /** metric's PREFETCH: sizes the de-duplication window (`dedup_window.ts`). */
  readonly prefetch: number;
  readonly logRotateBytes: number;
  readonly logRotateMs: number;
  readonly logRetentionBytes: number;
  readonly logRetentionMs: number;
  /** Wall-clock ms; default `Date.now`. */
  readonly now?: () => number;
}

/** What {@link openMetricStore} opened. */
export interface MetricStore {
  readonly csvPath: string;
  /** The running statistics, restored. */
  readonly stats: ErrorStats;
  /** The recorded ids a redelivery may still bring, oldest first: mark them in the pairer. */
  readonly seen: readonly string[];
  /** How many recorded ids to remember (the pairer's `seenCapacity`). */
  readonly window: number;
  readonly csv: LogWriter;
  readonly labels: LogWriter;
  /** `shadow_log.csv`, restored: a candidate's pairs (`shadow/`). */
  readonly shadow: ShadowLog;
  /**
   * What takes snapshots of `stats` and the last of the ids `recordedIds()` gives (the
   * redelivery window, `dedup_window.ts`), at the CSV's position.
   */
  snapshots(recordedIds: (last: number) => readonly string[]): SnapshotTaker;
}

/** The rotation settings of the service's options. */
export function rotationOf(options: StoreOptions): RotationSettings {
  return {
    rotateBytes: options.logRotateBytes,
    rotateMs: options.logRotateMs,
    retainBytes: options.logRetentionBytes,
    retainMs: options.logRetentionMs,
  };
}

/**
 * What `LOG_DIR` holds besides the two logs, at most: the snapshot and its
 * temporary copy (about 80 KiB each at the default PREFETCH) and the plots
 * (`error_distribution.svg`, `.png`: tens of KiB).
 */
export const OTHER_FILES_BUDGET_BYTES = 8 * 1024 * 1024;

/**
 * Most bytes metric's `LOG_DIR` (the Swarm volume `metric-logs`) holds with
 * these settings: each log within its retention (`rotation.ts`), the shadow
 * log within its own (`shadow/shadow_store.ts`) and
 * {@link OTHER_FILES_BUDGET_BYTES}. With the defaults, 4 GiB, 257 MiB and 10 MiB.
 * (A CSV of another format, moved aside at start, is not counted: it is
 * the operator's to keep or delete.)
 */
export function volumeBudgetBytes(options: StoreOptions): number {
  const rotation = rotationOf(options);
  return 2 * logBudgetBytes(rotation) + logBudgetBytes(shadowRotation(rotation)) +
    OTHER_FILES_BUDGET_BYTES;
}

/** Restores the state in `options.logDir` and opens its logs; see the module documentation. */
export async function openMetricStore(options: StoreOptions, log: StoreLog): Promise<MetricStore> {
  const { logDir } = options;
  await Deno.mkdir(logDir, { recursive: true });
  const csvPath = metricLogPath(logDir);
  const window = dedupWindow(options.prefetch);
  const started = performance.now();
  const restored = await restoreMetricState(logDir, { seenCapacity: window });
  const { stats } = restored;
  if (restored.movedTo) {
    log.warn("{path} had another header; moved it to {movedTo}", {
      path: csvPath,
      movedTo: restored.movedTo,
    });
  }
  if (restored.rotatedTo) {
    log.info("{path} was of an earlier format; rotated it to {rotatedTo}", {
      path: csvPath,
      rotatedTo: restored.rotatedTo,
    });
  }
  if (restored.truncatedBytes > 0) {
    log.warn("cut a torn last line ({bytes} bytes) from {path}", {
      bytes: restored.truncatedBytes,
      path: csvPath,
    });
  }
  if (restored.fallback) {
    log.warn("cannot restore from the snapshot ({reason}); read every file of {path} instead", {
      reason: restored.fallback,
      path: csvPath,
    });
  }
  log.info(
    "restored {count} samples from {from} ({rows} rows read from {files} files) in {ms} ms (MAE {mae})",
    {
      count: stats.count,
      from: restored.from === "snapshot"
        ? snapshotPath(logDir) + " and the rows after it"
        : csvPath,
      rows: restored.rows,
      files: restored.files,
      ms: Math.round(performance.now() - started),
      mae: stats.mae,
    },
  );
  const rotation = rotationOf(options);
  const writerOptions = (name: string) => ({
    rotation,
    now: options.now,
    onRotate({ rotated, retired }: { rotated: string; retired: string[] }) {
      log.info("rotated {name} to {rotated}; retention deleted {retired}", {
        name,
        rotated,
        retired: retired.length === 0 ? "nothing" : retired.join(", "),
      });
    },
    onRotateError(error: unknown) {
      log.error("cannot rotate {name}: {error}; appending to it as it is", {
        name,
        error: errorText(error),
      });
    },
  });
  const csv = await LogWriter.open(csvPath, {
    ...writerOptions(csvPath),
    header: CSV_HEADER,
    minSeq: restored.seq,
  });
  const labels = await LogWriter.open(
    `${logDir.replace(/\/+$/, "")}/${LABELS_LOG_FILE}`,
    writerOptions(LABELS_LOG_FILE),
  );
  const shadow = await openShadowLog(logDir, {
    keep: window,
    ...writerOptions(SHADOW_LOG_FILE),
  });
  if (shadow.rows > 0 || shadow.damaged > 0 || shadow.truncatedBytes > 0) {
    log.info(
      "restored {rows} shadow pairs of {versions} candidates from {path} ({damaged} damaged lines, {truncated} torn bytes cut)",
      {
        rows: shadow.rows,
        versions: shadow.summaries.entries().length,
        path: shadow.path,
        damaged: shadow.damaged,
        truncated: shadow.truncatedBytes,
      },
    );
  }
  return {
    csvPath,
    stats,
    seen: restored.seen,
    window,
    csv,
    labels,
    shadow,
    snapshots: (recordedIds) =>
      new SnapshotTaker(snapshotPath(logDir), {
        writer: csv,
        state: () => snapshotState(stats, recordedIds, options.prefetch),
        now: options.now,
      }),
  };
}
