/**
 * What `deno task dlq` prints: dead letters grouped by source queue and
 * reason code for `list` (or one line each with `--each`), and the summary
 * of a `replay`. Pure.
 *
 * Everything a dead letter carries was written by whoever published the
 * original: its id, body and headers may hold ESC, BEL, C1 or bidirectional
 * controls that would retitle the operator's window, recolour or rewrite the
 * screen, or make text read as something else. So every value printed from
 * one goes through {@link printable} first ({@link describeEntry}), for the
 * table and `--json` alike, and groups are keyed by the closed set of codes,
 * never by text from the message: `list` stays a few lines however varied
 * the dead letters.
 *
 * @module
 */
import { QUEUES } from "../../stack/contracts.ts";
import type { ReasonCode } from "../../stack/dead_letter_reasons.ts";
import { describeDeadLetter } from "../../stack/dead_letter_headers.ts";
import { printable } from "../../stack/printable.ts";
import type { ReplayResult } from "./operations.ts";

/** A message as `list` sees it. */
export interface ListedMessage {
  readonly headers: Record<string, unknown> | undefined;
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly body: Uint8Array | null;
}

/** One dead letter, every text {@link printable}. */
export interface Entry {
  /** The queue it came from; "" when no header says. */
  readonly source: string;
  readonly code: ReasonCode;
  /** Wall-clock ms when it was dead-lettered, if a header says. */
  readonly atMs?: number;
  readonly id: string;
  /** The detail of the code, cut to {@link EXAMPLE_REASON_CHARS}. */
  readonly reason: string;
  /** The start of the body, cut to {@link EXAMPLE_BODY_CHARS}. */
  readonly body: string;
  readonly truncated: boolean;
}

/** One group of `list`: the dead letters of one source queue and code. */
export interface Group {
  readonly source: string;
  readonly code: ReasonCode;
  count: number;
  /** The earliest and latest time a header gives, if any does. */
  firstAtMs?: number;
  lastAtMs?: number;
  /** The first message of the group. */
  readonly example: Entry;
}

/** Longest example body shown. */
const EXAMPLE_BODY_CHARS = 120;
/** Longest detail shown (the services write at most 200; other publishers anything). */
const EXAMPLE_REASON_CHARS = 200;

function shorten(text: string, maxChars: number): string {
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

function preview(body: Uint8Array | null): string {
  if (!body || body.byteLength === 0) return "";
  const text = new TextDecoder().decode(body.subarray(0, EXAMPLE_BODY_CHARS * 4));
  return shorten(printable(text), EXAMPLE_BODY_CHARS);
}

/** One dead letter as `dlq` shows it: every value printable and short. */
export function describeEntry(message: ListedMessage): Entry {
  const info = describeDeadLetter(message.headers);
  const id = message.messageId ?? message.correlationId ?? "";
  return {
    source: shorten(printable(info.source), 64),
    code: info.code,
    ...(info.atMs === undefined ? {} : { atMs: info.atMs }),
    id: shorten(printable(String(id)), 128),
    reason: shorten(printable(info.reason), EXAMPLE_REASON_CHARS),
    body: preview(message.body),
    truncated: info.truncated,
  };
}

/**
 * Groups dead letters by source queue and reason code (the `reason` label of
 * `ml_dead_lettered_total`), largest group first, with the first of each as
 * example and the span of their times.
 */
export function groupDeadLetters(messages: Iterable<ListedMessage>): Group[] {
  const groups = new Map<string, Group>();
  for (const message of messages) {
    const entry = describeEntry(message);
    const key = JSON.stringify([entry.source, entry.code]);
    let group = groups.get(key);
    if (!group) {
      group = { source: entry.source, code: entry.code, count: 0, example: entry };
      groups.set(key, group);
    }
    group.count++;
    if (entry.atMs !== undefined) {
      group.firstAtMs = Math.min(group.firstAtMs ?? Infinity, entry.atMs);
      group.lastAtMs = Math.max(group.lastAtMs ?? -Infinity, entry.atMs);
    }
  }
  return [...groups.values()].sort((a, b) =>
    b.count - a.count || a.source.localeCompare(b.source) || a.code.localeCompare(b.code)
  );
}

/** A time as UTC to the second, or "?" when no header gave one. */
function when(atMs: number | undefined): string {
  if (atMs === undefined || !Number.isFinite(atMs)) return "?";
  const date = new Date(atMs);
  return Number.isNaN(date.getTime()) ? "?" : `${date.toISOString().slice(0, 19)}Z`;
}

function total(count: number): string {
  return `${QUEUES.deadLetter}: ${count} message${count === 1 ? "" : "s"}`;
}

/** The groups as a table for the terminal: three lines a group. */
export function formatGroups(groups: readonly Group[], count: number): string {
  if (count === 0) return `${QUEUES.deadLetter} is empty`;
  const lines = [`${total(count)} in ${groups.length} group${groups.length === 1 ? "" : "s"}`, ""];
  const sourceWidth = Math.max("SOURCE".length, ...groups.map((g) => (g.source || "?").length));
  const codeWidth = Math.max("CODE".length, ...groups.map((g) => g.code.length));
  lines.push(
    `${"COUNT".padStart(7)}  ${"SOURCE".padEnd(sourceWidth)}  ${"CODE".padEnd(codeWidth)}  ` +
      `${"FIRST".padEnd(20)}  LAST`,
  );
  const indent = " ".repeat(9);
  for (const group of groups) {
    lines.push(
      `${String(group.count).padStart(7)}  ${(group.source || "?").padEnd(sourceWidth)}  ` +
        `${group.code.padEnd(codeWidth)}  ${when(group.firstAtMs).padEnd(20)}  ` +
        when(group.lastAtMs),
    );
    const { id, reason, body, truncated } = group.example;
    lines.push(`${indent}e.g. id '${id}': ${reason}`);
    lines.push(`${indent}body '${body}'${truncated ? " (truncated when dead-lettered)" : ""}`);
  }
  return lines.join("\n");
}

/** `list --each`: one line a dead letter, in queue order. */
export function formatEntries(entries: readonly Entry[]): string {
  if (entries.length === 0) return `${QUEUES.deadLetter} is empty`;
  return [
    total(entries.length),
    ...entries.map((e) =>
      `${when(e.atMs)}  ${e.source || "?"}  ${e.code}  id '${e.id}': ${e.reason}  body '${e.body}'${
        e.truncated ? " (truncated)" : ""
      }`
    ),
  ].join("\n");
}

/** The lines `replay` ends with: how many went back where, and how many stayed and why. */
export function formatReplay(result: ReplayResult): string[] {
  const sent = Object.entries(result.replayed);
  const count = sent.reduce((n, [, c]) => n + c, 0);
  return [
    `replayed ${count} of ${result.seen} dead letters${
      sent.length ? ` (${sent.map(([q, c]) => `${c} to ${printable(q)}`).join(", ")})` : ""
    }`,
    ...Object.entries(result.skipped).map(([why, c]) =>
      `left ${c} in ${QUEUES.deadLetter}: ${printable(why)}`
    ),
  ];
}
