/**
 * Where a missed memory target's memory goes, for `report_missed.ts`: each peak split into the
 * process's private memory and the shared file pages of the deno binary, and each stack limit
 * against both. Pure.
 *
 * @module
 */
import type { Explain } from "./report_missed.ts";
import type { BenchResults } from "./results.ts";
import { finiteMedian as median, formatNumber, summarizeFinite as finite } from "./stats.ts";

/** The peak at full throughput of the services `names` picks that are over the target. */
export function fullSpeedPeakGoes(names: RegExp): Explain {
  return (r, limit) => {
    const f = r.footprint;
    const peaks = Object.entries(f.peakMiB).filter(([name]) => names.test(name))
      .map(([name, s]) => ({ name, peak: median(s), own: median(f.peakAnonMiB?.[name]) }));
    return memoryGoes(peaks, limit, "at full throughput", "section 5");
  };
}

export function atRatePeakGoes(r: BenchResults, limit?: number): (string | undefined)[] {
  const peaks = Object.entries(r.footprint.atRateMiB).map(([name, s]) => ({
    name,
    peak: median(s),
    own: median(finite(r.latency.runs.map((f) => f.peakAnonMiB?.[name] ?? Number.NaN))),
  }));
  return memoryGoes(
    peaks,
    limit,
    `at ${formatNumber(r.settings.latencyRatePerSec)} samples/s`,
    "section 5; private: the latency runs' RssAnon",
  );
}

/** How much of each peak over `limit` is private, and how much shared file pages. */
function memoryGoes(
  services: readonly { name: string; peak: number | undefined; own: number | undefined }[],
  limit: number | undefined,
  when: string,
  where: string,
): (string | undefined)[] {
  const known = services.filter((s): s is typeof s & { peak: number } => s.peak !== undefined)
    .sort((a, b) => b.peak - a.peak);
  // A missed target has a peak over its limit; the largest one else (a limit the row hid).
  const over = known.filter((s) => limit !== undefined && s.peak > limit);
  const split = (over.length > 0 ? over : known.slice(0, 1)).filter((
    s,
  ): s is typeof s & { own: number } => s.own !== undefined);
  if (split.length === 0) return [];
  const overOwn = split.filter((s) => limit !== undefined && s.own > limit);
  return [
    `Each peak ${when} is private memory (RssAnon) + shared file pages (RssFile, VmHWM − private: the deno binary and its ICU data, the same pages in every Deno process): ${
      split.map((s) =>
        `${s.name} ${formatNumber(s.peak)} = ${formatNumber(s.own)} + ${
          formatNumber(fileMiB(s))
        } MiB`
      ).join(", ")
    } (${where}).`,
    limit === undefined
      ? undefined
      : overOwn.length === 0
      ? `${split.length > 1 ? "Each" : "The"} private part alone is within the ${
        mib(limit)
      } target.`
      : `The private part alone is over ${mib(limit)} in ${
        overOwn.map((s) => s.name).join(" and ")
      }.`,
  ];
}

export function headroomGoes(r: BenchResults, limit?: number): (string | undefined)[] {
  const f = r.footprint;
  const rows = Object.entries(f.peakMiB).flatMap(([name, s]) => {
    const peak = median(s);
    const cap = f.limitsMiB[name];
    return peak !== undefined && cap > 0
      ? [{ name, peak, cap, own: median(f.peakAnonMiB?.[name]) }]
      : [];
  }).sort((a, b) => a.cap / a.peak - b.cap / b.peak);
  const short = rows.filter((s) => limit !== undefined && s.cap / s.peak < limit);
  return (short.length > 0 ? short : rows.slice(0, 1)).map((s) =>
    `${s.name}'s ${mib(s.cap)} limit is ${formatNumber(s.cap / s.peak, 2)}× its ${
      mib(s.peak)
    } peak${
      s.own === undefined
        ? ""
        : `, of which ${
          mib(fileMiB({ peak: s.peak, own: s.own }))
        } are shared file pages (RssFile), charged to one container's cgroup only; against its ${
          mib(s.own)
        } of private memory the limit is ${formatNumber(s.cap / s.own, 2)}×`
    } (section 5).`
  );
}

/** VmHWM − private, of the figures as printed (so that the parts add up to the whole). */
function fileMiB(s: { peak: number; own: number }): number {
  return Math.round(s.peak) - Math.round(s.own);
}

function mib(value: number): string {
  return `${formatNumber(value)} MiB`;
}
