/**
 * The controller's settings: where Prometheus and the Docker API filter are, how often the
 * autoscaler decides and over what window it reads rates, and the process settings every
 * service shares. No broker settings: the controller never talks to RabbitMQ, it reads the
 * broker's figures from Prometheus.
 *
 * What to scale and how is not here: each service declares it in its own labels
 * (`policy.ts`).
 *
 * @module
 */
import { commonSchema } from "../stack/common_config.ts";
import { choiceField, type Field, intField, textField } from "../stack/config.ts";

/** Port of the controller's `/healthz`, `/readyz`, `/metrics` and dashboard. */
export const CONTROLLER_HTTP_PORT = 8004;

/** The shared settings that concern the broker, which the controller does not have. */
const BROKER_SETTINGS = [
  "amqpUrls",
  "amqpUser",
  "amqpPassword",
  "amqpCa",
  "prefetch",
  "queueType",
] as const;

type Common = ReturnType<typeof commonSchema>;

/** The shared settings of a process that has no broker: logs, port, name, drain, memory. */
function processSchema(httpPort: number): Omit<Common, typeof BROKER_SETTINGS[number]> {
  const schema: Partial<Common> = commonSchema({ httpPort, prefetch: 1 });
  for (const key of BROKER_SETTINGS) delete schema[key];
  return schema as Omit<Common, typeof BROKER_SETTINGS[number]>;
}

/** An http: or https: URL. */
function urlField(env: string, fallback: string, doc: string): Field<URL> {
  return {
    env,
    doc,
    parse(raw) {
      const text = raw === undefined || raw.trim() === "" ? fallback : raw.trim();
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new TypeError(`must be a URL like ${fallback}: current value is "${text}"`);
      }
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new TypeError(`must be an http: or https: URL: current value is "${text}"`);
      }
      return url;
    },
  };
}

/** `host:port` of an HTTP URL, as `--allow-net` names it. */
export function httpAddress(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
}

/** Every variable the controller reads. */
export const controllerSchema = {
  ...processSchema(CONTROLLER_HTTP_PORT),
  prometheusUrl: urlField(
    "PROMETHEUS_URL",
    "http://prometheus:9090",
    "Prometheus, whose HTTP API the backlog, arrivals and handler times are read from",
  ),
  prometheusUser: textField("PROMETHEUS_USER", "ml", {
    doc: "User name of PROMETHEUS_PASSWORD's HTTP Basic login",
  }),
  prometheusPassword: textField("PROMETHEUS_PASSWORD", "", {
    doc: "Password Prometheus asks for (empty: none); also `PROMETHEUS_PASSWORD_FILE`",
    fromFile: true,
  }),
  dockerUrl: urlField(
    "DOCKER_URL",
    "http://docker-proxy:2375",
    "The Docker API filter (ops/images/docker-proxy/); never the socket itself",
  ),
  alertToken: textField("ALERT_TOKEN", "", {
    doc: "Bearer token POST /alerts asks for (Alertmanager's; empty: none); also " +
      "`ALERT_TOKEN_FILE`",
    fromFile: true,
  }),
  autoRetrain: choiceField(
    "AUTO_RETRAIN",
    "off",
    ["off", "on"],
    "`on`: a lasting ModelDrift retrains on the drifted rows and starts a shadow rollout",
  ),
  metricUrl: urlField(
    "METRIC_URL",
    "http://metric:8003",
    "metric, whose /records a retrain on drift learns from",
  ),
  stack: textField("STACK", "ml", {
    doc: "The stack whose `<stack>_model` the rollout loop promotes candidates of",
  }),
  pollMs: intField("POLL_MS", 2000, {
    min: 500,
    max: 600_000,
    doc: "Time between two decisions of the autoscaler",
  }),
};

/**
 * The window of the rates the autoscaler reads (arrivals, settled, busy): four scrapes of the
 * jobs it reads, which Prometheus scrapes every 5 s (prometheus.yml). Shorter has too few
 * samples to be a rate; longer answers a step of load later.
 */
export const RATE_WINDOW_SECONDS = 20;
