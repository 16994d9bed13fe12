/**
 * The scaling policy a service declares on itself, as labels in `docker-stack.yml`
 * (`deploy.labels`), read and checked whole, like a config: every bad label is named with its
 * value. A service with no `ml.autoscale.*` policy label is never touched.
 *
 * ```yaml
 * deploy:
 *   labels:
 *     ml.autoscale.min: "1"               # required
 *     ml.autoscale.max: "4"               # required
 *     ml.autoscale.queue: features        # required: the queue its replicas consume
 *     ml.autoscale.drain-seconds: "60"    # drain a backlog within this
 *     ml.autoscale.busy-ratio: "0.8"      # take the arrivals at this share of capacity
 * ```
 *
 * The defaults of the other labels are Kubernetes' HPA defaults, which KEDA's RabbitMQ scaler
 * runs under: no up window, a 300 s down window, a 10% tolerance, up by at most 4 replicas or
 * 100%, down by any number.
 *
 * @module
 */

/** Every policy label starts with this; `ml.autoscale.state.*` are the controller's own. */
export const POLICY_PREFIX = "ml.autoscale.";

/** A service's scaling policy, checked. */
export interface Policy {
  /** Replicas never set below this (at least 1: capacity is measured on running replicas). */
  readonly min: number;
  /** Replicas never set above this. */
  readonly max: number;
  /** The queue the replicas consume: its backlog and arrivals are the work. */
  readonly queue: string;
  /** The queue's vhost. */
  readonly vhost: string;
  /** The Prometheus job that scrapes the replicas (their handler histogram). */
  readonly job: string;
  /** A backlog is to be drained within this many seconds. */
  readonly drainSeconds: number;
  /** The share of the replicas' capacity the arrivals may take in a steady state (0–1]. */
  readonly busyRatio: number;
  /** Deliveries one replica works on at once: its PREFETCH. */
  readonly slots: number;
  /** A rise is acted on once recommended for this long (0: at once). */
  readonly upWindowSeconds: number;
  /** A fall is acted on once recommended for this long, and this long after the last change. */
  readonly downWindowSeconds: number;
  /** Changes within this ratio of the current count are ignored (0.1: ±10%). */
  readonly tolerance: number;
  /** One step up adds at most max(this, the current count) replicas. */
  readonly maxStepUp: number;
  /** One step down removes at most this many replicas. */
  readonly maxStepDown: number;
  /** Inputs older than this are stale: hold. */
  readonly staleSeconds: number;
}

/** What {@link readPolicy} found on a service. */
export type PolicyReading =
  | { readonly kind: "none" }
  | { readonly kind: "invalid"; readonly problems: readonly string[] }
  | { readonly kind: "valid"; readonly policy: Policy };

/** What {@link readPolicy} reads of a service. */
export interface LabelledService {
  /** The Swarm service's name, `ml_model`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Its containers' environment, `NAME=value` (where PREFETCH may be). */
  readonly env: readonly string[];
}

/** The policy labels, by the key after {@link POLICY_PREFIX}. */
export const POLICY_LABELS = [
  "min",
  "max",
  "queue",
  "vhost",
  "job",
  "drain-seconds",
  "busy-ratio",
  "slots",
  "up-window",
  "down-window",
  "tolerance",
  "max-step-up",
  "max-step-down",
  "stale-seconds",
] as const;

/** The highest `ml.autoscale.max` accepted: a guard against a typo that would start thousands. */
export const MAX_REPLICAS = 100;

const NAME = /^[\w.:-]{1,200}$/;

/** The labels of `service` that declare a policy (not the controller's state labels). */
export function policyLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter(([key]) =>
      key.startsWith(POLICY_PREFIX) && !key.startsWith(`${POLICY_PREFIX}state.`)
    ),
  );
}

/** The value of `NAME=value` in `env`, undefined when absent or empty. */
function envValue(env: readonly string[], name: string): string | undefined {
  const entry = env.findLast((line) => line.startsWith(`${name}=`));
  const value = entry?.slice(name.length + 1).trim();
  return value === "" ? undefined : value;
}

/**
 * Reads the policy `service` declares: none (not opted in, never touched), invalid (every
 * problem named; not touched either), or valid.
 */
export function readPolicy(service: LabelledService): PolicyReading {
  const labels = policyLabels(service.labels);
  if (Object.keys(labels).length === 0) return { kind: "none" };
  const problems: string[] = [];
  const label = (key: string) => labels[`${POLICY_PREFIX}${key}`]?.trim();
  const complain = (key: string, expected: string, raw: string | undefined) =>
    problems.push(
      `label '${POLICY_PREFIX}${key}' must be ${expected}: current value is ${
        raw === undefined ? "unset" : JSON.stringify(raw)
      }`,
    );
  const number = (
    key: string,
    fallback: number | undefined,
    { min, max, integer }: { min: number; max: number; integer: boolean },
  ): number => {
    const raw = label(key);
    const expected = `${integer ? "an integer" : "a number"} from ${min} to ${max}`;
    if (raw === undefined || raw === "") {
      if (fallback === undefined) complain(key, expected, raw);
      return fallback ?? Number.NaN;
    }
    const value = Number(raw);
    const shaped = integer ? /^\d+$/.test(raw) : /^\d+(\.\d+)?$/.test(raw);
    if (!shaped || value < min || value > max) complain(key, expected, raw);
    return value;
  };
  const name = (key: string, fallback: string | undefined): string => {
    const raw = label(key);
    const value = raw === undefined || raw === "" ? fallback : raw;
    if (value === undefined || !NAME.test(value)) {
      complain(key, "a name of letters, digits, '.', ':', '_' or '-'", raw);
    }
    return value ?? "";
  };

  const complainNoSlots = () => {
    problems.push(
      `label '${POLICY_PREFIX}slots' must be set when the service's environment has no PREFETCH: ` +
        `current value is unset`,
    );
    return Number.NaN;
  };

  for (const key of Object.keys(labels)) {
    const short = key.slice(POLICY_PREFIX.length);
    if (!(POLICY_LABELS as readonly string[]).includes(short)) {
      problems.push(
        `label '${key}' is not a policy label (${POLICY_LABELS.join(", ")}): current value is ${
          JSON.stringify(labels[key])
        }`,
      );
    }
  }
  const min = number("min", undefined, { min: 1, max: MAX_REPLICAS, integer: true });
  const max = number("max", undefined, { min: 1, max: MAX_REPLICAS, integer: true });
  if (min > max) {
    problems.push(
      `label '${POLICY_PREFIX}max' must be at least '${POLICY_PREFIX}min' (${min}): current value is "${max}"`,
    );
  }
  const stack = service.labels["com.docker.stack.namespace"];
  const ownName = stack && service.name.startsWith(`${stack}_`)
    ? service.name.slice(stack.length + 1)
    : service.name;
  const prefetch = envValue(service.env, "PREFETCH");
  const slotsFallback = prefetch !== undefined && /^\d+$/.test(prefetch) && Number(prefetch) > 0
    ? Number(prefetch)
    : undefined;
  const policy: Policy = {
    min,
    max,
    queue: name("queue", undefined),
    vhost: label("vhost") || "/",
    job: name("job", ownName),
    drainSeconds: number("drain-seconds", 60, { min: 1, max: 86_400, integer: true }),
    busyRatio: number("busy-ratio", 0.8, { min: 0.05, max: 1, integer: false }),
    slots: label("slots") || slotsFallback !== undefined
      ? number("slots", slotsFallback, { min: 1, max: 65_535, integer: true })
      : complainNoSlots(),
    upWindowSeconds: number("up-window", 0, { min: 0, max: 86_400, integer: true }),
    downWindowSeconds: number("down-window", 300, { min: 0, max: 86_400, integer: true }),
    tolerance: number("tolerance", 0.1, { min: 0, max: 0.9, integer: false }),
    maxStepUp: number("max-step-up", 4, { min: 1, max: MAX_REPLICAS, integer: true }),
    maxStepDown: number("max-step-down", MAX_REPLICAS, {
      min: 1,
      max: MAX_REPLICAS,
      integer: true,
    }),
    staleSeconds: number("stale-seconds", 30, { min: 1, max: 3_600, integer: true }),
  };
  if (problems.length > 0) return { kind: "invalid", problems };
  return { kind: "valid", policy };
}
