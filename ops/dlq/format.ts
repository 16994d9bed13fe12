/**
 * What `deno task dlq` prints: dead letters grouped by source queue and short
 * reason for `list`, and the summary of a `replay`. Pure.
 *
 * @module
 */
import { reasonLabel } from "../../stack/broker.ts";
import { QUEUES } from "../../stack/contracts.ts";
import { describeDeadLetter } from "../../stack/dead_letter_headers.ts";
import type { ReplayResult } from "./operations.ts";

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

/** The lines `replay` ends with: how many went back where, and how many stayed and why. */
export function formatReplay(result: ReplayResult): string[] {
  const sent = Object.entries(result.replayed);
  const count = sent.reduce((n, [, c]) => n + c, 0);
  return [
    `replayed ${count} of ${result.seen} dead letters${
      sent.length ? ` (${sent.map(([q, c]) => `${c} to ${q}`).join(", ")})` : ""
    }`,
    ...Object.entries(result.skipped).map(([why, c]) =>
      `left ${c} in ${QUEUES.deadLetter}: ${why}`
    ),
  ];
}
