/**
 * `GET /records?last=N`: the last N rows metric recorded, as CSV, for the
 * controller's retrain. Served on metric's HTTP listener through the
 * service's `route` hook, so behind the same bearer token as `/metrics` and
 * the dashboard. The rows are read backwards from the end of the log
 * (`metric_log/last_rows.ts`) and passed on unparsed: the reader parses them
 * (`parseMetricLog`), not metric, whose event loop pairs the samples.
 *
 * @module
 */
import { errorText } from "../stack/async.ts";
import { CSV_HEADER } from "./metric_log/format.ts";
import { readLastRows } from "./metric_log/last_rows.ts";

/** The route's path. */
export const RECORDS_PATH = "/records";
/** Rows when `last` is not given. */
export const DEFAULT_LAST = 5000;
/** Most rows one request may ask for. */
export const MAX_LAST = 50_000;
/**
 * Most bytes of rows in one answer: about 24,000 rows with their inputs (~340 bytes each). Older
 * rows past it are left out, and `x-ml-rows` says how many came.
 */
export const MAX_RECORDS_BYTES = 8 * 1024 * 1024;

/** `last` as a request gives it, or why it cannot be used. */
export function parseLast(
  values: readonly string[],
): { ok: true; value: number } | { ok: false; error: string } {
  if (values.length === 0) return { ok: true, value: DEFAULT_LAST };
  const text = values.join("', '");
  const value = values.length === 1 && /^\d{1,6}$/.test(values[0]) ? Number(values[0]) : NaN;
  return value >= 1 && value <= MAX_LAST ? { ok: true, value } : {
    ok: false,
    error: `last must be an integer from 1 to ${MAX_LAST}: current value is '${text}'`,
  };
}

/** The log lines {@link recordsRoute} writes. */
export interface RecordsLog {
  debug(message: string, properties: Record<string, unknown>): void;
  error(message: string, properties: Record<string, unknown>): void;
}

/** Settings of {@link recordsRoute}. */
export interface RecordsRouteOptions {
  /** The live `metric_log.csv`. */
  readonly csvPath: string;
  readonly log: RecordsLog;
  /** Default {@link MAX_RECORDS_BYTES}. */
  readonly maxBytes?: number;
}

/**
 * The `route` hook for {@link RECORDS_PATH}; `undefined` for any other path. Answers `200
 * text/csv` with the log's header line, the rows oldest first and `x-ml-rows: <count>`; 400 for
 * a bad `last`, 405 for a method other than GET or HEAD.
 */
export function recordsRoute(
  options: RecordsRouteOptions,
): (request: Request, url: URL) => Promise<Response> | undefined {
  const { csvPath, log } = options;
  const maxBytes = options.maxBytes ?? MAX_RECORDS_BYTES;
  const header = new TextEncoder().encode(`${CSV_HEADER}\n`);
  // One read at a time: each holds up to maxBytes until it is answered.
  let queue: Promise<unknown> = Promise.resolve();

  async function serve(request: Request, last: number): Promise<Response> {
    const started = performance.now();
    const read = queue.then(() => readLastRows(csvPath, { last, maxBytes }));
    queue = read.catch(() => {});
    let found;
    try {
      found = await read;
    } catch (error) {
      log.error("cannot read the last {last} rows of {path}: {error}", {
        last,
        path: csvPath,
        error: errorText(error),
      });
      return text(500, `cannot read the records: ${errorText(error)}\n`);
    }
    log.debug("served the last {rows} rows of {path} in {ms} ms", {
      rows: found.rows,
      path: csvPath,
      ms: Math.round(performance.now() - started),
    });
    const body = new Uint8Array(header.length + found.bytes.length);
    body.set(header);
    body.set(found.bytes, header.length);
    return new Response(request.method === "HEAD" ? null : body, {
      headers: {
        "content-type": "text/csv; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-ml-rows": String(found.rows),
      },
    });
  }

  return (request, url) => {
    if (url.pathname !== RECORDS_PATH) return undefined;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return Promise.resolve(
        new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } }),
      );
    }
    const last = parseLast(url.searchParams.getAll("last"));
    if (!last.ok) return Promise.resolve(text(400, `${last.error}\n`));
    return serve(request, last.value);
  };
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}
