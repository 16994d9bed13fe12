/**
 * `deno task dlq`'s command line: the commands, their options and the usage
 * text that describes them, kept together so that a new option changes one
 * file. Pure.
 *
 * @module
 */
import { QUEUES } from "../../stack/contracts.ts";
import { REASON_CODES } from "../../stack/dead_letter_reasons.ts";

/** A parsed command line. */
export type Command =
  | { name: "list"; json: boolean; each: boolean }
  | { name: "replay"; reason?: string; limit: number; rate: number }
  | { name: "purge"; yes: boolean }
  | { name: "help" };

/** Usage text. */
export const USAGE = `Usage: deno task dlq <command>

  list [--json] [--each] dead letters grouped by source queue and reason code, with counts, the
                         first and last time, and an example of each; --each: one line each;
                         nothing is removed
  replay [--reason TEXT] [--limit N] [--rate N]
                         send dead letters back to the queue they came from: those whose reason
                         code is TEXT, or whose detail contains TEXT (all by default), at most N
                         (default all), at most N per
                         second (default unlimited); each is removed only once the broker has
                         confirmed its copy
  purge --yes            delete every message in ${QUEUES.deadLetter}

Reason codes: ${REASON_CODES.join(", ")}

Broker: AMQP_URL (default amqp://localhost:5672), AMQP_USER/AMQP_PASSWORD or *_FILE, e.g.
  AMQP_USER_FILE=ops/secrets/rabbitmq_user AMQP_PASSWORD_FILE=ops/secrets/rabbitmq_password`;

function positiveInt(option: string, raw: string | undefined): number {
  const value = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || value < 1) {
    throw new RangeError(
      `Cannot parse ${option} as it must be a positive integer: current value is ${
        JSON.stringify(raw ?? null)
      }`,
    );
  }
  return value;
}

/** Parses `dlq`'s arguments; throws a TypeError or RangeError that says what is wrong. */
export function parseArgs(args: readonly string[]): Command {
  const [name, ...rest] = args;
  const options = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith("--")) {
      throw new TypeError(`Cannot parse the arguments as '${arg}' is not an option`);
    }
    const eq = arg.indexOf("=");
    if (eq > 0) options.set(arg.slice(0, eq), arg.slice(eq + 1));
    else if (["--reason", "--limit", "--rate"].includes(arg)) {
      if (i + 1 >= rest.length) throw new TypeError(`Cannot parse ${arg} as it needs a value`);
      options.set(arg, rest[++i]);
    } else options.set(arg, true);
  }
  const allowed: Record<string, string[]> = {
    list: ["--json", "--each"],
    replay: ["--reason", "--limit", "--rate"],
    purge: ["--yes"],
  };
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    return { name: "help" };
  }
  if (!(name in allowed)) {
    throw new TypeError(`Cannot run '${name}' as it is not a command: list, replay or purge`);
  }
  for (const option of options.keys()) {
    if (!allowed[name].includes(option)) {
      throw new TypeError(
        `Cannot run '${name}' with '${option}': it takes ${
          allowed[name].join(", ") || "no options"
        }`,
      );
    }
  }
  const value = (option: string) => {
    const v = options.get(option);
    if (v === true) throw new TypeError(`Cannot parse ${option} as it needs a value`);
    return v;
  };
  switch (name) {
    case "list":
      return { name, json: options.get("--json") === true, each: options.get("--each") === true };
    case "replay": {
      const reason = value("--reason");
      const limit = value("--limit");
      const rate = value("--rate");
      return {
        name,
        reason: reason === undefined || reason === "" ? undefined : reason,
        limit: limit === undefined ? Infinity : positiveInt("--limit", limit),
        rate: rate === undefined ? Infinity : positiveInt("--rate", rate),
      };
    }
    default:
      return { name: "purge", yes: options.get("--yes") === true };
  }
}

/**
 * True when a dead letter matches `--reason`: its code is the filter, or its detail contains it
 * (case-insensitive).
 */
export function reasonMatches(code: string, reason: string, filter: string | undefined): boolean {
  return filter === undefined || code === filter ||
    reason.toLowerCase().includes(filter.toLowerCase());
}
