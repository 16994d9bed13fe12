/**
 * The settings every service shares: where the broker is (one, or a
 * cluster's members), how much work to take at once, logging (level and
 * format), the health/metrics port, the replica name and the drain deadline.
 *
 * @module
 */
import { choiceField, type Field, intField, textField } from "./config.ts";
import { DEFAULT_QUEUE_TYPE, QUEUE_TYPES, type QueueType } from "./topology.ts";

/** Log levels LogTape understands, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Log line formats: JSON lines for machines, coloured text for people. */
export const LOG_FORMATS = ["json", "pretty"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

// Unset means "decide by whether stdout is a terminal": that is a fact about
// the process, not the environment, so stack/log.ts decides it (chooseLogFormat).
function logFormatField(): Field<LogFormat | undefined> {
  const inner = choiceField("LOG_FORMAT", "json", LOG_FORMATS, "");
  return {
    env: "LOG_FORMAT",
    doc: "`json` (one object per line) or `pretty` (coloured text); unset: pretty on a " +
      "terminal, else json",
    parse(raw) {
      return raw === undefined || raw.trim() === "" ? undefined : inner.parse(raw);
    },
  };
}

function amqpUrlsField(): Field<readonly URL[]> {
  return {
    env: "AMQP_URL",
    doc: "Broker address `amqp://host:port/vhost`, or a cluster's members comma-separated " +
      "(credentials may be given here or below)",
    parse(raw) {
      const text = raw === undefined || raw.trim() === "" ? DEFAULT_AMQP_URL : raw.trim();
      return parseBrokerUrls(text);
    },
  };
}

/** The broker a service connects to when `AMQP_URL` is unset. */
export const DEFAULT_AMQP_URL = "amqp://localhost:5672";

/**
 * Parses `AMQP_URL`: one amqp: or amqps: URL, or the comma-separated URLs of
 * the members of one cluster, which must agree on the vhost. Throws a
 * `TypeError` that quotes the bad entry with its password hidden.
 */
export function parseBrokerUrls(text: string): URL[] {
  const entries = text.split(",").map((entry) => entry.trim());
  const where = (index: number) =>
    entries.length === 1
      ? "current value"
      : `current value of entry ${index + 1} of ${entries.length}`;
  const urls = entries.map((entry, index) => {
    if (entry === "") {
      throw new TypeError(
        `must be comma-separated URLs like amqp://host:5672: ${where(index)} is empty`,
      );
    }
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new TypeError(
        `must be a URL like amqp://host:5672: ${where(index)} is "${redactUnparsed(entry)}"`,
      );
    }
    if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
      throw new TypeError(
        `must use the amqp: or amqps: scheme: ${where(index)} is "${redactUrl(url)}"`,
      );
    }
    return url;
  });
  const addresses = urls.map((url) => brokerAddress(url));
  urls.forEach((url, index) => {
    if (addresses.indexOf(addresses[index]) !== index) {
      throw new TypeError(
        `must name each broker once: ${where(index)} is "${redactUrl(url)}", ` +
          `which repeats ${addresses[index]}`,
      );
    }
    if (vhostOf(url) !== vhostOf(urls[0])) {
      throw new TypeError(
        `must name one vhost, as its brokers are members of one cluster: ${where(index)} is ` +
          `"${redactUrl(url)}", whose vhost differs from entry 1's`,
      );
    }
  });
  return urls;
}

// "amqp://h" and "amqp://h/" both mean the default vhost "/".
function vhostOf(url: URL): string {
  return url.pathname === "" || url.pathname === "/"
    ? "/"
    : decodeURIComponent(url.pathname.slice(1));
}

// A URL that does not parse cannot go through redactUrl(), yet may hold a password.
function redactUnparsed(text: string): string {
  return text.replace(/^([^:/]+:\/\/[^:@/]*):.*@/, "$1:***@");
}

/** Per-service defaults for the shared settings. */
export interface CommonDefaults {
  /** Port of `/healthz`, `/readyz` and `/metrics`. */
  httpPort: number;
  /** Unacknowledged deliveries a consumer may hold. */
  prefetch: number;
}

/** The shared part of every service's schema. */
export function commonSchema(defaults: CommonDefaults) {
  return {
    amqpUrls: amqpUrlsField(),
    amqpUser: textField("AMQP_USER", "", {
      doc: "Broker user name (overrides the URL's); also `AMQP_USER_FILE`",
      fromFile: true,
    }),
    amqpPassword: textField("AMQP_PASSWORD", "", {
      doc: "Broker password (overrides the URL's); also `AMQP_PASSWORD_FILE`",
      fromFile: true,
    }),
    amqpCa: textField("AMQP_CA", "", {
      doc: "PEM certificate of the CA an amqps: broker must be signed by (empty: the system's " +
        "CAs); also `AMQP_CA_FILE`",
      fromFile: true,
    }),
    prefetch: intField("PREFETCH", defaults.prefetch, {
      min: 1,
      max: 65535,
      doc: "Unacknowledged deliveries a consumer may hold at once",
    }),
    logLevel: choiceField("LOG_LEVEL", "info", LOG_LEVELS, "Lowest level logged"),
    logFormat: logFormatField(),
    httpPort: intField("HTTP_PORT", defaults.httpPort, {
      min: 0,
      max: 65535,
      doc: "Port of /healthz, /readyz and /metrics (0 turns the listener off)",
    }),
    httpToken: textField("HTTP_TOKEN", "", {
      doc: "Bearer token every HTTP path but /healthz and /readyz asks for (empty: none); also " +
        "`HTTP_TOKEN_FILE`",
      fromFile: true,
    }),
    replica: textField("REPLICA", "", {
      doc: "Name on logs, predictions and metrics (default: $HOSTNAME, else the service)",
      pattern: /^[\w.:-]{0,64}$/,
      expect: "at most 64 letters, digits, '.', ':', '_' or '-'",
    }),
    hostname: textField("HOSTNAME", "", { doc: "Set by Docker; the fallback replica name" }),
    shutdownTimeoutMs: intField("SHUTDOWN_TIMEOUT_MS", 10_000, {
      min: 0,
      max: 600_000,
      doc: "How long SIGTERM waits for in-flight work before closing",
    }),
    memoryLimitBytes: intField("MEMORY_LIMIT_BYTES", 0, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      doc: "The container's memory limit, exported as ml_memory_limit_bytes (0: none); the " +
        "images' entrypoint sets it from the cgroup",
    }),
    queueType: choiceField(
      "QUEUE_TYPE",
      DEFAULT_QUEUE_TYPE,
      QUEUE_TYPES,
      "Type the work queues are declared with, `quorum` or `classic`; changing it on a broker " +
        "that has the queues needs them drained and deleted (docs/operations.md: Queue types and " +
        "policies)",
    ),
  };
}

/** The values of {@link commonSchema}. */
export interface CommonConfig {
  /** One URL, or one per cluster member (in the order `AMQP_URL` lists them). */
  readonly amqpUrls: readonly URL[];
  readonly amqpUser: string;
  readonly amqpPassword: string;
  /** PEM; empty: the system's certificate authorities. */
  readonly amqpCa: string;
  readonly prefetch: number;
  readonly logLevel: LogLevel;
  /** `undefined`: pretty on a terminal, else JSON (see `stack/log.ts`). */
  readonly logFormat: LogFormat | undefined;
  readonly httpPort: number;
  /** Empty: the HTTP listener asks no one for a token (stack/http_auth.ts). */
  readonly httpToken: string;
  readonly replica: string;
  readonly hostname: string;
  readonly shutdownTimeoutMs: number;
  /** Bytes; 0 when there is no limit (or it is unknown). */
  readonly memoryLimitBytes: number;
  readonly queueType: QueueType;
}

/** The broker URLs (one per member) with the separately given credentials folded in. */
export function brokerUrls(
  config: Pick<CommonConfig, "amqpUrls" | "amqpUser" | "amqpPassword">,
): string[] {
  return config.amqpUrls.map((amqpUrl) => {
    const url = new URL(amqpUrl);
    if (config.amqpUser) url.username = encodeURIComponent(config.amqpUser);
    if (config.amqpPassword) url.password = encodeURIComponent(config.amqpPassword);
    return url.toString();
  });
}

/**
 * The `host:port` a process must reach for the broker at `url` (what
 * `--allow-net` names): the URL's port, else AMQP's default for the scheme.
 */
export function brokerAddress(url: URL | string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || (parsed.protocol === "amqps:" ? "5671" : "5672")}`;
}

/** The URL as it may appear in a log line: password replaced. */
export function redactUrl(url: URL | string): string {
  const copy = new URL(url);
  if (copy.password) copy.password = "***";
  return copy.toString();
}

/**
 * The name this process goes by in logs, message headers and the `replica`
 * label of `/metrics`: `REPLICA`, else `HOSTNAME` (a container's), else the
 * service's name. Never the pid: a label that changes on every restart makes
 * new Prometheus series each time. Two replicas of one service outside a
 * container need a `REPLICA` each.
 */
export function replicaName(config: CommonConfig, service: string): string {
  return config.replica || config.hostname || service;
}
