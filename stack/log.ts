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
import {
  configure,
  dispose,
  getAnsiColorFormatter,
  getJsonLinesFormatter,
  getLogger,
  getStreamSink,
  getTextFormatter,
  type Logger,
  type LogRecord,
  type TextFormatter,
  type TextFormatterOptions,
} from "@logtape/logtape";
import type { LogFormat, LogLevel } from "./common_config.ts";

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
 * (level by severity, the rest dimmed).
 */
export function prettyFormatter(options: { colors: boolean }): TextFormatter {
  const dim = (text: string) => options.colors ? `${DIM}${text}${RESET}` : text;
  const shared: TextFormatterOptions = {
    timestamp: "time",
    timeZone: null,
    value: "bare",
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
  return value === undefined || value === null ? undefined : String(value);
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
      stdout: getStreamSink(Deno.stdout.writable, {
        formatter: format === "json"
          ? getJsonLinesFormatter({ properties: "flatten" })
          // Deno.noColor is NO_COLOR, read without an --allow-env grant.
          : prettyFormatter({ colors: !Deno.noColor }),
        // Buffered: a busy consumer must not wait on a slow terminal. The
        // one shutdown path calls flushLogs() so nothing is lost at exit.
        nonBlocking: { bufferSize: 256, flushInterval: 50 },
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
