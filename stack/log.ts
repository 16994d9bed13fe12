/**
 * Logs through LogTape, on stdout: JSON lines for machines, coloured text
 * for people.
 *
 * Every line carries `service` and `replica`, so `docker service logs` of
 * three model replicas can be told apart and fed to any log shipper as is.
 * The pretty format keeps them too, with the time and the message id.
 *
 * @module
 */
import { sleep } from "./async.ts";
import {
  configure,
  dispose,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  type Sink,
  type TextFormatter,
  type TextFormatterOptions,
} from "@logtape/logtape";
import type { LogFormat, LogLevel } from "./common_config.ts";
import { printable } from "./printable.ts";

export type { Logger };

/**
 * The format to log in: the one asked for (`LOG_FORMAT`), else pretty when
 * stdout is a terminal (someone is reading) and JSON when it is not (a
 * container, a pipe, a file: something is parsing).
 */
export function chooseLogFormat(asked: LogFormat | undefined, terminal: boolean): LogFormat {
  return asked ?? (terminal ? "pretty" : "json");
}

const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

/**
 * LogTape's text formatter, shaped for a person at a terminal:
 *
 * ```
 * 14:02:07.120 INF model/model-4123: predicted 151.2 for d32f… (id d32f…)
 * ```
 *
 * Time (local), level, service/replica, the sentence, and the message id when
 * the sentence does not already show it. `colors` adds LogTape's ANSI colours
 * (level by severity, the rest dimmed). Every value shown goes through
 * {@link printable}: the message is our words, the values may be anyone's.
 */
export function prettyFormatter(options: { colors: boolean }): TextFormatter {
  const dim = (text: string) => options.colors ? `${DIM}${text}${RESET}` : text;
  const shared: TextFormatterOptions = {
    timestamp: "time",
    timeZone: null,
    // Values may come from the network (an id, a dead-letter detail): text is shown
    // printable, so no control or bidi character reaches the terminal; numbers keep colour.
    value(value, inspect) {
      if (typeof value === "string") return printable(value);
      if (typeof value === "number" || typeof value === "boolean") {
        return inspect(value, { colors: options.colors });
      }
      return printable(inspect(value));
    },
    format({ timestamp, level, category, message, record }) {
      const replica = stringProperty(record, "replica");
      const id = stringProperty(record, "id");
      const template = typeof record.rawMessage === "string"
        ? record.rawMessage
        : record.rawMessage.join("");
      const idShown = id !== undefined && !template.includes("{id}");
      return `${timestamp} ${level} ${category}${replica ? dim(`/${replica}`) : ""}: ${message}${
        idShown ? dim(` (id ${id})`) : ""
      }`;
    },
  };
  return options.colors ? getAnsiColorFormatter(shared) : getTextFormatter(shared);
}

function stringProperty(record: LogRecord, key: string): string | undefined {
  const value = record.properties[key];
  return value === undefined || value === null ? undefined : printable(String(value));
}

/**
 * Routes every logger of this process to stdout at `level` and above, with
 * `service` and `replica` on each line, in `format` (default: pretty on a
 * terminal, else JSON; see {@link chooseLogFormat}). Returns the service's
 * root logger. Call once, before anything logs.
 */
export async function setupLogging(
  options: { service: string; replica: string; level: LogLevel; format?: LogFormat },
): Promise<Logger> {
  const format = chooseLogFormat(options.format, Deno.stdout.isTerminal());
  await configure({
    reset: true,
    sinks: {
      // Buffered: a busy consumer must not wait on a slow terminal. The
      // one shutdown path calls flushLogs() so nothing is lost at exit.
      // LogTape's own nonBlocking buffer drops silently when full; this
      // one counts what it drops and says so (see boundedSink).
      stdout: boundedSink(Deno.stdout.writable, {
        formatter: format === "json"
          ? getJsonLinesFormatter({ properties: "flatten" })
          // Deno.noColor is NO_COLOR, read without an --allow-env grant.
          : prettyFormatter({ colors: !Deno.noColor }),
        bufferSize: 256,
      }),
    },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stdout"] },
      { category: [options.service], lowestLevel: options.level, sinks: ["stdout"] },
    ],
  });
  return getLogger([options.service]).with({ service: options.service, replica: options.replica });
}

/** Writes out buffered log lines; part of the shutdown path. */
export async function flushLogs(): Promise<void> {
  await dispose();
}

// --- Dropped log lines: a sink that cannot keep up drops lines and counts them ---

let droppedTotal = 0;

/** Log lines this process dropped because the sink could not keep up; `ml_log_lines_dropped_total`. */
export function logLinesDropped(): number {
  return droppedTotal;
}

/** Options of {@link boundedSink}. */
export interface BoundedSinkOptions {
  readonly formatter: TextFormatter;
  /** Records held while the stream writes; past that, new ones are dropped. Default 256. */
  readonly bufferSize?: number;
  /** Least ms between two "dropped N log lines" warnings. Default 1000. */
  readonly warnEveryMs?: number;
  readonly now?: () => number;
}

/**
 * A sink that never blocks the logger: records wait in a bounded buffer
 * while the previous batch is written to `stream`. When the buffer is full
 * a record is dropped and counted ({@link logLinesDropped}), and a later
 * batch starts with a warning, at most once per `warnEveryMs`: "dropped N
 * log lines: the log sink could not keep up". Disposing it writes out what
 * is buffered and the last warning.
 */
export function boundedSink(
  stream: WritableStream<Uint8Array>,
  options: BoundedSinkOptions,
): Sink & AsyncDisposable & { readonly dropped: number } {
  const bufferSize = options.bufferSize ?? 256;
  const warnEveryMs = options.warnEveryMs ?? 1000;
  const now = options.now ?? Date.now;
  const encoder = new TextEncoder();
  const writer = stream.getWriter();
  let buffer: LogRecord[] = [];
  let dropped = 0;
  let unreported = 0;
  let lastWarningAt = Number.NEGATIVE_INFINITY;
  let draining: Promise<void> | undefined;
  let closing = false;

  async function drain(): Promise<void> {
    while (buffer.length > 0 || unreported > 0) {
      const batch = buffer;
      buffer = [];
      const at = now();
      let text = "";
      if (unreported > 0 && (closing || at - lastWarningAt >= warnEveryMs)) {
        text += options.formatter(droppedWarning(unreported, at));
        unreported = 0;
        lastWarningAt = at;
      }
      for (const record of batch) text += options.formatter(record);
      if (text !== "") await writer.write(encoder.encode(text)).catch(() => {});
      if (buffer.length === 0 && unreported > 0 && !closing) {
        await sleep(warnEveryMs - (now() - lastWarningAt));
      }
    }
  }

  const sink = (record: LogRecord) => {
    if (buffer.length >= bufferSize) {
      dropped++;
      droppedTotal++;
      unreported++;
    } else buffer.push(record);
    draining ??= drain().finally(() => draining = undefined);
  };
  const disposable = Object.assign(sink, {
    async [Symbol.asyncDispose]() {
      closing = true;
      while (draining) await draining;
      if (unreported > 0) await drain();
      writer.releaseLock();
    },
  });
  // A getter: Object.assign would copy the count once.
  return Object.defineProperty(disposable, "dropped", { get: () => dropped }) as
    & typeof disposable
    & { readonly dropped: number };
}

function droppedWarning(count: number, at: number): LogRecord {
  const message = `dropped ${count} log lines: the log sink could not keep up`;
  return {
    category: ["logtape", "meta"],
    level: "warning",
    message: [message],
    rawMessage: message,
    timestamp: at,
    properties: { dropped: count },
  };
}
