/**
 * The list under the targets table of `docs/benchmarks.md`: for each target this run missed,
 * where its time or memory goes, in the figures the later sections hold (CPU per sample, the
 * ceiling's CPU, each hop, classic against quorum queues, private against shared memory), and
 * the section with the detail. Pure: every number comes from the results; a clause whose figures
 * an older `benchmarks.json` lacks is left out.
 *
 * @module
 */
import { atRatePeakGoes, fullSpeedPeakGoes, headroomGoes } from "./report_missed_memory.ts";
import {
  latencyGoes,
  ofCeilingGoes,
  periodicGoes,
  plotGoes,
  replicasGo,
  sizingGoes,
  throughputGoes,
} from "./report_missed_time.ts";
import type { BenchResults, Target } from "./results.ts";

/**
 * The sentences on one missed target `t`, whose row states `limit` (undefined when it states no
 * number); undefined for a clause the results have no figures for.
 */
export type Explain = (
  r: BenchResults,
  limit: number | undefined,
  t: Target,
) => readonly (string | undefined)[];

/** Each judged target, by how `targetsOf` words its `what`, and what explains a miss of it. */
const EXPLANATIONS: readonly { readonly what: RegExp; readonly explain: Explain }[] = [
  { what: /^pipeline throughput$/, explain: throughputGoes },
  { what: /^throughput ÷ \(ceiling ÷ 3\)/, explain: ofCeilingGoes },
  { what: /^latency p50 at /, explain: (r) => latencyGoes(r, "p50") },
  { what: /^latency p99 at /, explain: (r) => latencyGoes(r, "p99") },
  { what: /^latency p99 as shipped ÷ p99 with metric's plot off/, explain: plotGoes },
  { what: /^(longest run of|a periodic job's own work on) .*event loop/, explain: periodicGoes },
  { what: /^\d+ model replicas vs 1/, explain: replicasGo },
  {
    what: /^peak RSS of features and model at full/,
    explain: fullSpeedPeakGoes(/^(features|model)/),
  },
  { what: /^peak RSS of metric at full/, explain: fullSpeedPeakGoes(/^metric$/) },
  { what: /^peak RSS of each service at /, explain: atRatePeakGoes },
  { what: /^throughput with the containers' V8 sizing/, explain: sizingGoes },
  { what: /^docker-stack\.yml memory limit ÷ peak/, explain: headroomGoes },
];

/**
 * "Where the missed targets' time and memory go": a bullet for each target `r` missed, or ""
 * when it missed none (a target judged by none, `met` undefined, is not missed).
 */
export function missedSection(r: BenchResults): string {
  const bullets = r.targets.filter((t) => t.met === false).flatMap((t) => {
    const explain = EXPLANATIONS.find((e) => e.what.test(t.what))?.explain;
    const sentences = explain ? explain(r, thresholdOf(t), t).filter((s) => s !== undefined) : [];
    return sentences.length > 0 ? [`- **${t.what}**: ${sentences.join(" ")}`] : [];
  });
  if (bullets.length === 0) return "";
  return `### Where the missed targets' time and memory go\n\n${bullets.join("\n")}`;
}

/** The threshold a target's row states (`≥ 85%` → 0.85, `≤ 64 MiB` → 64); else undefined. */
export function thresholdOf(t: Target): number | undefined {
  const match = /^[≥≤]\s*([\d,]+(?:\.\d+)?)\s*(%?)/.exec(t.target);
  if (!match) return undefined;
  const value = Number(match[1].replaceAll(",", ""));
  return match[2] ? value / 100 : value;
}
