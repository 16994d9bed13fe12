/**
 * The controller as Alertmanager's receiver (ops/images/alertmanager/alertmanager.yml): `POST
 * /alerts` takes Alertmanager's webhook message (version 4), logs each alert in it with its
 * state, counts it (`ml_controller_alerts_received_total{alertname,status}`) and keeps the last
 * ones for `/alerts.json`. Alertmanager groups, waits and repeats (every hour while an alert
 * fires), so a controller that was away hears a firing alert again; nothing here needs to
 * remember one across a restart.
 *
 * The route asks for its own token (the secret `alert_token`, `ALERT_TOKEN_FILE`): the token that
 * reads the stack's telemetry cannot send alerts, and this one reads nothing. A body that is not
 * such a message gets a 400 that says why, and a log line; Alertmanager logs the status and
 * retries, and the controller keeps serving.
 *
 * @module
 */
import type { Counter } from "prom-client";
import type { LoopLog } from "./autoscale_loop.ts";

/** The most a webhook message may weigh: Alertmanager's for a group of a few hundred alerts. */
export const MAX_ALERT_BODY_BYTES = 256 * 1024;

/** How many received alerts `/alerts.json` keeps, newest last. */
export const KEPT_ALERTS = 100;

/** One alert of a webhook message, as the controller keeps it. */
export interface ReceivedAlert {
  /** Its `alertname` label. */
  readonly name: string;
  readonly status: "firing" | "resolved";
  /** Every label (alertname, severity, queue, …). */
  readonly labels: Readonly<Record<string, string>>;
  /** Its `summary` annotation, or "" without one. */
  readonly summary: string;
  /** When it started firing (RFC 3339, as Alertmanager sends it). */
  readonly startsAt: string;
  /** When the controller heard it (ms since the epoch). */
  readonly receivedAt: number;
}

/** Why a body is not an Alertmanager webhook message. */
export class AlertMessageError extends Error {
  override readonly name = "AlertMessageError";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringsOf(value: unknown, what: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw new AlertMessageError(`${what} is not an object`);
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== "string") throw new AlertMessageError(`${what}.${key} is not a string`);
  }
  return value as Record<string, string>;
}

/**
 * The alerts of an Alertmanager webhook message (the JSON text `body`), received at
 * `receivedAt`; throws an {@link AlertMessageError} naming what is wrong.
 */
export function parseAlertMessage(body: string, receivedAt: number): ReceivedAlert[] {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch (error) {
    throw new AlertMessageError(`not JSON: ${(error as Error).message}`);
  }
  if (!isRecord(message)) throw new AlertMessageError("not a JSON object");
  if (message.version !== "4") {
    throw new AlertMessageError(
      `version ${JSON.stringify(message.version)}, not "4" (Alertmanager's webhook message)`,
    );
  }
  if (!Array.isArray(message.alerts)) throw new AlertMessageError("alerts is not a list");
  return message.alerts.map((alert: unknown, i: number) => {
    const at = `alerts[${i}]`;
    if (!isRecord(alert)) throw new AlertMessageError(`${at} is not an object`);
    if (alert.status !== "firing" && alert.status !== "resolved") {
      throw new AlertMessageError(
        `${at}.status is ${JSON.stringify(alert.status)}, not "firing" or "resolved"`,
      );
    }
    const labels = stringsOf(alert.labels, `${at}.labels`);
    if (!labels.alertname) throw new AlertMessageError(`${at} has no alertname label`);
    const annotations = stringsOf(alert.annotations, `${at}.annotations`);
    return {
      name: labels.alertname,
      status: alert.status,
      labels,
      summary: annotations.summary ?? "",
      startsAt: typeof alert.startsAt === "string" ? alert.startsAt : "",
      receivedAt,
    };
  });
}

/** The last {@link KEPT_ALERTS} alerts received, for `/alerts.json` and the tests on the Swarm. */
export class AlertLog {
  readonly #alerts: ReceivedAlert[] = [];

  add(alerts: readonly ReceivedAlert[]): void {
    this.#alerts.push(...alerts);
    this.#alerts.splice(0, Math.max(0, this.#alerts.length - KEPT_ALERTS));
  }

  toJSON(): readonly ReceivedAlert[] {
    return [...this.#alerts];
  }
}

/**
 * The body of `request`, decoded, if it is at most `maxBytes`; `undefined` if it is longer (it
 * stops reading there, whatever the Content-Length said).
 */
export async function boundedText(
  request: Request,
  maxBytes: number,
): Promise<string | undefined> {
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) {
    await request.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body ?? []) {
    size += chunk.byteLength;
    if (size > maxBytes) return undefined;
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/** What {@link receiveAlerts} reports to. */
export interface AlertSink {
  readonly log: Pick<LoopLog, "info" | "warn">;
  /** `ml_controller_alerts_received_total`. */
  readonly received: Counter<"alertname" | "status">;
  readonly kept: AlertLog;
  /** Hears the alerts once they are kept (the retrain on drift); not awaited. */
  readonly hear?: (alerts: readonly ReceivedAlert[]) => void;
}

/** Answers `POST /alerts` (after the token check): 200 with the count, or 400/405/413 and why. */
export async function receiveAlerts(request: Request, sink: AlertSink): Promise<Response> {
  if (request.method !== "POST") {
    await request.body?.cancel();
    return new Response("POST an Alertmanager webhook message\n", {
      status: 405,
      headers: { allow: "POST" },
    });
  }
  const body = await boundedText(request, MAX_ALERT_BODY_BYTES);
  if (body === undefined) {
    sink.log.warn("refused an alert message over {max} bytes", { max: MAX_ALERT_BODY_BYTES });
    return new Response(`the message is over ${MAX_ALERT_BODY_BYTES} bytes\n`, { status: 413 });
  }
  let alerts: ReceivedAlert[];
  try {
    alerts = parseAlertMessage(body, Date.now());
  } catch (error) {
    if (!(error instanceof AlertMessageError)) throw error;
    sink.log.warn("refused an alert message: {reason}", { reason: error.message });
    return new Response(`not an Alertmanager webhook message: ${error.message}\n`, {
      status: 400,
    });
  }
  for (const alert of alerts) {
    sink.received.inc({ alertname: alert.name, status: alert.status });
    const fields = { ...alert.labels, alert: alert.name, summary: alert.summary };
    if (alert.status === "firing") {
      sink.log.warn("alert {alert} firing since {startsAt}: {summary}", {
        ...fields,
        startsAt: alert.startsAt,
      });
    } else sink.log.info("alert {alert} resolved: {summary}", fields);
  }
  sink.kept.add(alerts);
  sink.hear?.(alerts);
  return new Response(`received ${alerts.length} alerts\n`);
}
