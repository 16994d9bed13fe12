/**
 * `deno task dlq`: look into the dead-letter queue and replay from it.
 *
 *   deno task dlq list [--json]
 *   deno task dlq replay [--reason TEXT] [--limit N] [--rate N]
 *   deno task dlq purge --yes
 *
 * `list` groups the messages in `dead_letter` by source queue and reason, with a count and an
 * example of each, and leaves every message where it was: it holds them unacknowledged on one
 * channel and closes that channel, which puts them back at their original positions.
 *
 * `replay` sends dead letters back to the queue they came from: those whose reason contains
 * `--reason` (all when absent), at most `--limit` of them, at most `--rate` per second. Each
 * copy is published with a publisher confirm and only then is its dead letter acknowledged, so
 * a replay killed at any point loses nothing: a message is in `dead_letter`, in its queue, or
 * (killed between confirm and ack) in both. The copy keeps its message id and correlation id,
 * so metric's de-duplication by sample id still holds; the dead-letter headers are stripped.
 * Truncated dead letters (the body was cut) and those whose queue is gone stay in place.
 *
 * `purge` empties `dead_letter`, and only with `--yes`.
 *
 * The broker comes from `AMQP_URL`, with `AMQP_USER`/`AMQP_PASSWORD` or their `*_FILE`
 * variants (the stack's secrets: `ops/secrets/rabbitmq_user`, `..._password`), as for the
 * services. `deno task dlq` may reach `localhost:5672` only (the stack publishes AMQP there); for
 * another broker the tool stops before connecting and prints the `deno run` line with the
 * permissions that broker needs ({@link dlqPermissionFlags}).
 *
 * Dead letters come in two kinds, both understood: those the services publish (headers
 * `dead-letter-reason`, `dead-letter-queue`) and those the broker makes itself when a message
 * is rejected without requeue, expires or exceeds a quorum queue's delivery limit
 * (`x-first-death-queue`, `x-first-death-reason`: `rejected`, `expired`, `delivery_limit`).
 *
 * @module
 */
import { AMQPClient, type AMQPMessage, type AMQPProperties } from "@cloudamqp/amqp-client";
import { sleep } from "../stack/async.ts";
import { reasonLabel } from "../stack/broker.ts";
import { brokerAddress, brokerUrls, commonSchema } from "../stack/common_config.ts";
import { ConfigError, envNames, loadConfig } from "../stack/config.ts";
import { HEADERS, QUEUES } from "../stack/contracts.ts";

/** AMQP allows at most this many unacknowledged deliveries per consumer (a 16-bit field). */
const MAX_PREFETCH = 65535;
/** How long `list` and `replay` wait for the next delivery before deciding the queue is done. */
const IDLE_MS = 2_000;

/** Headers that say why and from where a message was dead-lettered, stripped on replay. */
export const DEAD_LETTER_HEADERS: readonly string[] = [
  HEADERS.deadLetterReason,
  HEADERS.deadLetterQueue,
  HEADERS.deadLetterTruncated,
  HEADERS.deadLetterHeadersCut,
  HEADERS.deadLetterMinimal,
  HEADERS.deadLetterReplica,
  // A quorum queue's count of deliveries, kept in a copy the services made: the copy starts anew.
  "x-delivery-count",
  "x-death",
  "x-first-death-queue",
  "x-first-death-reason",
  "x-first-death-exchange",
  "x-last-death-queue",
  "x-last-death-reason",
  "x-last-death-exchange",
];

/** What the tool needs to know of one dead letter. */
export interface DeadLetterInfo {
  /** The queue it was consumed from; "" when no header says. */
  readonly source: string;
  /** Why it was dead-lettered, in full. */
  readonly reason: string;
  /** True when the body was cut before dead-lettering: replaying it would send garbage. */
  readonly truncated: boolean;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** What the broker's own reasons (`x-first-death-reason`) mean, where the word is not enough. */
const BROKER_REASONS: Readonly<Record<string, string>> = {
  delivery_limit: "delivered more times than the queue's delivery-limit policy allows " +
    "(each time rejected with requeue, or held by a consumer that died)",
};

/** Where a dead letter came from and why, from its headers (ours first, then the broker's). */
export function describeDeadLetter(
  headers: Record<string, unknown> | undefined,
): DeadLetterInfo {
  const h = headers ?? {};
  const brokerReason = text(h["x-first-death-reason"]);
  return {
    source: text(h[HEADERS.deadLetterQueue]) ?? text(h["x-first-death-queue"]) ?? "",
    reason: text(h[HEADERS.deadLetterReason]) ??
      (brokerReason
        ? `${brokerReason} by the broker${
          brokerReason in BROKER_REASONS ? `: ${BROKER_REASONS[brokerReason]}` : ""
        }`
        : "unknown"),
    truncated: h[HEADERS.deadLetterTruncated] !== undefined,
  };
}

/** The properties of the copy sent back to its queue: the same, minus dead-letter headers. */
export function replayProperties(properties: AMQPProperties): AMQPProperties {
  const headers = { ...properties.headers };
  for (const name of DEAD_LETTER_HEADERS) delete headers[name];
  return { ...properties, headers, deliveryMode: 2 };
}

/** One group of `list`. */
export interface Group {
  readonly source: string;
  /** The short reason, as in the `reason` label of `ml_dead_lettered_total`. */
  readonly reason: string;
  count: number;
  /** The first message of the group. */
  readonly example: {
    readonly id: string;
    readonly reason: string;
    readonly body: string;
    readonly truncated: boolean;
  };
}

/** A message as `list` sees it. */
export interface ListedMessage {
  readonly headers: Record<string, unknown> | undefined;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly body: Uint8Array | null;
}

/** Longest example body shown. */
const EXAMPLE_BODY_CHARS = 120;

function preview(body: Uint8Array | null): string {
  if (!body || body.byteLength === 0) return "";
  const text = new TextDecoder().decode(body.subarray(0, EXAMPLE_BODY_CHARS * 4));
  return text.length > EXAMPLE_BODY_CHARS ? `${text.slice(0, EXAMPLE_BODY_CHARS)}…` : text;
}

/**
 * Groups dead letters by source queue and short reason (the words before the first ':', as the
 * alert DeadLettersArriving labels them), largest group first, with the first of each as example.
 */
export function groupDeadLetters(messages: Iterable<ListedMessage>): Group[] {
  const groups = new Map<string, Group>();
  for (const message of messages) {
    const info = describeDeadLetter(message.headers);
    const reason = reasonLabel(info.reason);
    const key = JSON.stringify([info.source, reason]);
    const group = groups.get(key);
    if (group) {
      group.count++;
      continue;
    }
    groups.set(key, {
      source: info.source,
      reason,
      count: 1,
      example: {
        id: message.messageId ?? message.correlationId ?? "",
        reason: info.reason,
        body: preview(message.body),
        truncated: info.truncated,
      },
    });
  }
  return [...groups.values()].sort((a, b) =>
    b.count - a.count || a.source.localeCompare(b.source) || a.reason.localeCompare(b.reason)
  );
}

/** The groups as a table for the terminal. */
export function formatGroups(groups: readonly Group[], total: number): string {
  if (total === 0) return `${QUEUES.deadLetter} is empty`;
  const lines = [`${QUEUES.deadLetter}: ${total} message${total === 1 ? "" : "s"}`, ""];
  const sourceWidth = Math.max("SOURCE".length, ...groups.map((g) => (g.source || "?").length));
  lines.push(`${"COUNT".padStart(7)}  ${"SOURCE".padEnd(sourceWidth)}  REASON`);
  for (const group of groups) {
    lines.push(
      `${String(group.count).padStart(7)}  ${(group.source || "?").padEnd(sourceWidth)}  ${
        group.reason || "?"
      }`,
    );
    const indent = " ".repeat(9);
    lines.push(`${indent}e.g. id ${JSON.stringify(group.example.id)}: ${group.example.reason}`);
    lines.push(
      `${indent}body ${JSON.stringify(group.example.body)}${
        group.example.truncated ? " (truncated when dead-lettered)" : ""
      }`,
    );
  }
  return lines.join("\n");
}

/** A parsed command line. */
export type Command =
  | { name: "list"; json: boolean }
  | { name: "replay"; reason?: string; limit: number; rate: number }
  | { name: "purge"; yes: boolean }
  | { name: "help" };

/** Usage text. */
export const USAGE = `Usage: deno task dlq <command>

  list [--json]          dead letters grouped by source queue and reason, with counts and an
                         example of each; nothing is removed
  replay [--reason TEXT] [--limit N] [--rate N]
                         send dead letters back to the queue they came from: those whose reason
                         contains TEXT (all by default), at most N (default all), at most N per
                         second (default unlimited); each is removed only once the broker has
                         confirmed its copy
  purge --yes            delete every message in ${QUEUES.deadLetter}

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
    list: ["--json"],
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
      return { name, json: options.get("--json") === true };
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

/** True when a dead letter's full reason matches `--reason` (a case-insensitive substring). */
export function reasonMatches(reason: string, filter: string | undefined): boolean {
  return filter === undefined || reason.toLowerCase().includes(filter.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// The broker side
// ---------------------------------------------------------------------------------------------

/** The settings `dlq` reads: the broker, as the services read it. */
export function dlqSchema() {
  const { amqpUrls, amqpUser, amqpPassword } = commonSchema({ httpPort: 0, prefetch: 1 });
  return { amqpUrls, amqpUser, amqpPassword };
}

/**
 * The `deno run` permissions `dlq` needs for the broker at `amqpUrl`: that one address, the
 * broker variables, and the secret files when given as `*_FILE`.
 */
export function dlqPermissionFlags(amqpUrl: URL, secretFiles: readonly string[] = []): string[] {
  return [
    `--allow-net=${brokerAddress(amqpUrl)}`,
    `--allow-env=${envNames(dlqSchema()).join(",")}`,
    ...(secretFiles.length > 0 ? [`--allow-read=${secretFiles.join(",")}`] : []),
  ];
}

interface Settings {
  url: string;
  /** `host:port`: what the process must be allowed to reach, and what messages name. */
  address: string;
}

// Of a cluster's members, the first listed: any member serves every queue.
function settings(): Settings {
  const url = new URL(brokerUrls(loadConfig(dlqSchema()))[0]);
  url.searchParams.set("name", "dlq");
  return { url: url.toString(), address: brokerAddress(url) };
}

async function connect(s: Settings): Promise<AMQPClient> {
  // Ask first: amqp-client's socket reports a refused permission as a vague getaddrinfo EPERM.
  const url = new URL(s.url);
  const { state } = await Deno.permissions.query({ name: "net", host: s.address });
  if (state !== "granted") {
    const files = ["AMQP_USER_FILE", "AMQP_PASSWORD_FILE"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value ? [value] : [];
    });
    throw new Error(
      `Cannot connect to rabbitmq at '${s.address}' as this process may not reach it; run\n` +
        `  deno run ${dlqPermissionFlags(url, files).join(" ")} ops/dlq.ts ${Deno.args.join(" ")}`,
    );
  }
  const client = new AMQPClient(s.url, undefined, null);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`Cannot connect to rabbitmq at '${s.address}': ${(error as Error).message}`);
  }
  return client;
}

/**
 * Takes up to `max` messages from `queue` on a fresh channel and never acknowledges them, so
 * they go back, in order, when the channel closes. Calls `each` in queue order; stops after
 * `max` deliveries, when `each` returns false, or when none came for {@link IDLE_MS}.
 */
async function holdMessages(
  client: AMQPClient,
  queue: string,
  max: number,
  each: (message: AMQPMessage) => Promise<boolean | void> | boolean | void,
): Promise<number> {
  const channel = await client.channel();
  let seen = 0;
  try {
    if (max === 0) return 0;
    // Every message held at once: the broker sends no more than the prefetch unacknowledged.
    await channel.basicQos(Math.min(max, MAX_PREFETCH));
    const queueOfDeliveries: AMQPMessage[] = [];
    let wake: (() => void) | undefined;
    const consumer = await channel.basicConsume(queue, { noAck: false }, (message) => {
      queueOfDeliveries.push(message);
      wake?.();
    });
    while (seen < max) {
      if (queueOfDeliveries.length === 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const arrived = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          timer = setTimeout(() => resolve(false), IDLE_MS);
        });
        clearTimeout(timer);
        wake = undefined;
        if (!arrived) break;
        continue;
      }
      seen++;
      if ((await each(queueOfDeliveries.shift()!)) === false) break;
    }
    await consumer.cancel().catch(() => {});
  } finally {
    // Closing the channel returns everything not acknowledged to the queue, in its old order.
    await channel.close().catch(() => {});
  }
  return seen;
}

/** How many messages `queue` holds right now (a passive declare: it must exist). */
async function depth(client: AMQPClient, queue: string): Promise<number> {
  const channel = await client.channel();
  try {
    const { messageCount } = await channel.queueDeclare(queue, { passive: true });
    return messageCount;
  } finally {
    await channel.close().catch(() => {});
  }
}

/** True when `queue` exists (a passive declare that fails closes only its own channel). */
async function queueExists(client: AMQPClient, queue: string): Promise<boolean> {
  try {
    await depth(client, queue);
    return true;
  } catch {
    return false;
  }
}

/** `list`: the groups, leaving every message in place. */
export async function list(client: AMQPClient): Promise<{ total: number; groups: Group[] }> {
  const total = await depth(client, QUEUES.deadLetter);
  const messages: ListedMessage[] = [];
  await holdMessages(client, QUEUES.deadLetter, total, (message) => {
    messages.push({
      headers: message.properties.headers,
      messageId: message.properties.messageId,
      correlationId: message.properties.correlationId,
      body: message.body as Uint8Array | null,
    });
  });
  return { total: messages.length, groups: groupDeadLetters(messages) };
}

/** What `replay` did. */
export interface ReplayResult {
  /** Sent back, confirmed, and removed from `dead_letter`, by source queue. */
  replayed: Record<string, number>;
  /** Left in place because they match but cannot be replayed, with why. */
  skipped: Record<string, number>;
  /** Looked at. */
  seen: number;
}

/** `replay`: see the module doc. `onReplayed` is called after each confirmed copy. */
export async function replay(
  client: AMQPClient,
  options: { reason?: string; limit: number; rate: number },
  onReplayed: (queue: string, id: string) => void = () => {},
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: {}, skipped: {}, seen: 0 };
  const total = await depth(client, QUEUES.deadLetter);
  const publisher = await client.channel();
  await publisher.confirmSelect();
  let returned = false;
  publisher.onReturn = () => {
    returned = true;
  };
  const exists = new Map<string, boolean>();
  const skip = (why: string) => {
    result.skipped[why] = (result.skipped[why] ?? 0) + 1;
  };
  let done = 0;
  const started = performance.now();
  try {
    // Only the messages there at the start: a copy dead-lettered again during the replay comes
    // back at the tail and is not replayed a second time in the same run.
    result.seen = await holdMessages(client, QUEUES.deadLetter, total, async (message) => {
      const info = describeDeadLetter(message.properties.headers);
      if (!reasonMatches(info.reason, options.reason)) return;
      if (info.source === "") return skip("no source queue in its headers");
      if (info.truncated) return skip("body truncated when dead-lettered");
      if (!exists.has(info.source)) exists.set(info.source, await queueExists(client, info.source));
      if (!exists.get(info.source)) return skip(`queue '${info.source}' does not exist`);
      if (Number.isFinite(options.rate)) {
        const due = started + (done / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
      }
      returned = false;
      // One at a time: the confirm (and a basic.return before it) belongs to this copy.
      await publisher.basicPublish(
        "",
        info.source,
        message.body as Uint8Array | null,
        replayProperties(message.properties),
        true,
      );
      if (returned) return skip(`queue '${info.source}' did not take it`);
      // Confirmed: only now may the dead letter go.
      await message.ack();
      done++;
      result.replayed[info.source] = (result.replayed[info.source] ?? 0) + 1;
      onReplayed(info.source, message.properties.messageId ?? "");
      return done < options.limit;
    });
  } finally {
    await publisher.close().catch(() => {});
  }
  return result;
}

/** `purge`: empties `dead_letter`; returns how many messages went. */
export async function purge(client: AMQPClient): Promise<number> {
  const channel = await client.channel();
  try {
    const { messageCount } = await channel.queuePurge(QUEUES.deadLetter);
    return messageCount;
  } finally {
    await channel.close().catch(() => {});
  }
}

async function main(args: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (command.name === "help") {
    console.log(USAGE);
    return 0;
  }
  let s: Settings;
  try {
    s = settings();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  if (command.name === "purge" && !command.yes) {
    const client = await connect(s);
    try {
      const count = await depth(client, QUEUES.deadLetter);
      console.error(
        `Cannot purge ${QUEUES.deadLetter} without --yes: it would delete ${count} messages ` +
          `for good. Look first with 'deno task dlq list'.`,
      );
    } finally {
      await client.close().catch(() => {});
    }
    return 2;
  }
  const client = await connect(s);
  try {
    switch (command.name) {
      case "list": {
        const { total, groups } = await list(client);
        console.log(
          command.json ? JSON.stringify({ total, groups }, null, 2) : formatGroups(groups, total),
        );
        return 0;
      }
      case "replay": {
        const result = await replay(client, command, (queue, id) => {
          if (Deno.stdout.isTerminal()) return;
          console.log(`replayed ${JSON.stringify(id)} to ${queue}`);
        });
        const sent = Object.entries(result.replayed);
        const count = sent.reduce((n, [, c]) => n + c, 0);
        console.log(
          `replayed ${count} of ${result.seen} dead letters${
            sent.length ? ` (${sent.map(([q, c]) => `${c} to ${q}`).join(", ")})` : ""
          }`,
        );
        for (const [why, c] of Object.entries(result.skipped)) {
          console.log(`left ${c} in ${QUEUES.deadLetter}: ${why}`);
        }
        return 0;
      }
      case "purge": {
        const count = await purge(client);
        console.log(`purged ${count} messages from ${QUEUES.deadLetter}`);
        return 0;
      }
    }
  } finally {
    await client.close().catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
