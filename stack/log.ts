/**
 * Structured logs: one JSON line per event on stdout, through LogTape.
 *
 * Every line carries `service` and `replica`, so `docker service logs` of
 * three model replicas can be told apart and fed to any log shipper as is.
 *
 * @module
 */
import {
  configure,
  dispose,
  getJsonLinesFormatter,
  getLogger,
  getStreamSink,
  type Logger,
} from "@logtape/logtape";
import type { LogLevel } from "./common_config.ts";

export type { Logger };

/**
 * Routes every logger of this process to JSON lines on stdout at `level` and
 * above, with `service` and `replica` on each line. Returns the service's
 * root logger. Call once, before anything logs.
 */
export async function setupLogging(
  options: { service: string; replica: string; level: LogLevel },
): Promise<Logger> {
  await configure({
    reset: true,
    sinks: {
      stdout: getStreamSink(Deno.stdout.writable, {
        formatter: getJsonLinesFormatter({ properties: "flatten" }),
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
