/**
 * `deno task dlq`: look into the dead-letter queue and replay from it.
 *
 *   deno task dlq list [--json] [--each]
 *   deno task dlq replay [--reason TEXT] [--limit N] [--rate N]
 *   deno task dlq purge --yes
 *
 * `list` groups the messages in `dead_letter` by source queue and reason code, with a count, the
 * first and last time and an example of each (`--each`: one line a message), and leaves every
 * message where it was. Whatever it prints from a message is made printable first: dead letters
 * hold what anyone published, and a terminal obeys control characters.
 *
 * `replay` sends dead letters back to the queue they came from: those whose reason code is
 * `--reason` or whose detail contains it (all when absent), at most `--limit` of them, at most `--rate` per second. Each
 * dead letter goes only once the broker has confirmed its copy, so a replay killed at any point
 * loses nothing (`ops/dlq/operations.ts` says how).
 *
 * `purge` empties `dead_letter`, and only with `--yes`.
 *
 * The broker comes from `AMQP_URL`, with `AMQP_USER`/`AMQP_PASSWORD` or their `*_FILE`
 * variants (in the stack, the user `operator` and its secret
 * `ops/secrets/broker_operator_password`: `stack/broker_roles.ts`), as for the
 * services. The process needs the permissions of {@link dlqPermissionFlags} for that broker;
 * started without leave to reach it, the tool stops before connecting and prints the
 * `deno run` line with them.
 *
 * Dead letters come in two kinds, both understood (`stack/dead_letter_headers.ts`): those the
 * services publish and those the broker makes itself when a message is rejected without
 * requeue, expires or exceeds a quorum queue's delivery limit.
 *
 * This file is the command line only: arguments in `ops/dlq/args.ts`, output in
 * `ops/dlq/format.ts`, the broker work in `ops/dlq/operations.ts`.
 *
 * @module
 */
import type { AMQPClient } from "@cloudamqp/amqp-client";
import { connectClient } from "../stack/amqp_client.ts";
import { brokerAddress, brokerUrls, commonSchema } from "../stack/common_config.ts";
import { ConfigError, envNames, loadConfig } from "../stack/config.ts";
import { QUEUES } from "../stack/contracts.ts";
import { type Command, parseArgs, USAGE } from "./dlq/args.ts";
import { formatEntries, formatGroups, formatReplay } from "./dlq/format.ts";
import { printable } from "../stack/printable.ts";
import { depth, list, purge, replay } from "./dlq/operations.ts";

/** The settings `dlq` reads: the broker, as the services read it. */
export function dlqSchema() {
  const { amqpUrls, amqpUser, amqpPassword, amqpCa } = commonSchema({ httpPort: 0, prefetch: 1 });
  return { amqpUrls, amqpUser, amqpPassword, amqpCa };
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
  url: URL;
  /** PEM of the broker's CA, or empty. */
  ca: string;
  /** `host:port`: what the process must be allowed to reach, and what messages name. */
  address: string;
}

// Of a cluster's members, the first listed: any member serves every queue.
function settings(): Settings {
  const config = loadConfig(dlqSchema());
  const url = new URL(brokerUrls(config)[0]);
  return { url, ca: config.amqpCa, address: brokerAddress(url) };
}

/** Connects, or throws an error that says how to run `dlq` when it may not reach the broker. */
async function connect(s: Settings, args: readonly string[]): Promise<AMQPClient> {
  // Ask first: amqp-client's socket reports a refused permission as a vague getaddrinfo EPERM.
  const { state } = await Deno.permissions.query({ name: "net", host: s.address });
  if (state !== "granted") {
    const files = ["AMQP_USER_FILE", "AMQP_PASSWORD_FILE", "AMQP_CA_FILE"].flatMap((name) => {
      const value = Deno.env.get(name);
      return value ? [value] : [];
    });
    throw new Error(
      `Cannot connect to rabbitmq at '${s.address}' as this process may not reach it; run\n` +
        `  deno run ${dlqPermissionFlags(s.url, files).join(" ")} ops/dlq.ts ${args.join(" ")}`,
    );
  }
  try {
    return await connectClient(s.url, { name: "dlq", ca: s.ca || undefined });
  } catch (error) {
    throw new Error(`Cannot connect to rabbitmq at '${s.address}': ${(error as Error).message}`);
  }
}

/** Runs `dlq` with `args`; resolves to the exit code (2 for a usage or settings mistake). */
export async function main(args: readonly string[]): Promise<number> {
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
  const client = await connect(s, args);
  try {
    switch (command.name) {
      case "list": {
        const { total, groups, entries } = await list(client);
        if (command.json) {
          console.log(
            JSON.stringify(command.each ? { total, entries } : { total, groups }, null, 2),
          );
        } else console.log(command.each ? formatEntries(entries) : formatGroups(groups, total));
        return 0;
      }
      case "replay": {
        const result = await replay(client, command, (queue, id) => {
          if (Deno.stdout.isTerminal()) return;
          console.log(`replayed '${printable(id)}' to ${printable(queue)}`);
        });
        for (const line of formatReplay(result)) console.log(line);
        return 0;
      }
      case "purge": {
        if (!command.yes) {
          const count = await depth(client, QUEUES.deadLetter);
          console.error(
            `Cannot purge ${QUEUES.deadLetter} without --yes: it would delete ${count} messages ` +
              `for good. Look first with 'deno task dlq list'.`,
          );
          return 2;
        }
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
