/**
 * Where a missed target's time goes, for `report_missed.ts`: the CPU a sample costs and what it
 * bounds on the machine's cores, the latency's hops and queue types, metric's periodic jobs and
 * the model replicas' prefetch slots. Pure.
 *
 * @module
 */
import { HOP_LABELS } from "../metric/hops.ts";
import type { BenchResults, HistogramSummaries, Target } from "./results.ts";
import {
  finiteMedian as median,
  formatNumber,
  formatPercent,
  formatSummary,
  summarizeFinite as finite,
  type Summary,
} from "./stats.ts";

export function throughputGoes(r: BenchResults, target?: number): (string | undefined)[] {
  const cpu = cpuBound(r);
  if (!cpu) return [];
  return [
    `${spends(cpu)}, so on ${cpu.cores} cores it cannot exceed ${
      formatNumber(cpu.maxPerSecond)
    } samples/s.`,
    target === undefined
      ? undefined
      : cpu.maxPerSecond < target
      ? `Reaching ${formatNumber(target)} samples/s ${needs(cpu, target)}`
      : `That is above the target, so the cores alone do not forbid it: ${busyAt(r, cpu)}`,
  ];
}

export function ofCeilingGoes(r: BenchResults, target?: number): (string | undefined)[] {
  const cpu = cpuBound(r);
  const ceiling = median(r.ceiling.samplesPerSecond);
  if (!cpu) return [];
  const broker = median(finite(r.ceiling.runs.map((c) => c.brokerCpuUsPerMessage)));
  const client = median(finite(r.ceiling.runs.map((c) => c.clientCpuUsPerMessage)));
  const ceilingCpu = broker !== undefined && client !== undefined
    ? `, against ${formatNumber(3 * broker)} + ${
      formatNumber(3 * client)
    } µs of broker + client CPU for the ceiling run's 3 messages (section 1)`
    : "";
  const first = `${spends(cpu)}${ceilingCpu}.`;
  if (ceiling === undefined) return [first];
  const best = cpu.maxPerSecond / ceiling;
  const bound = `On ${cpu.cores} cores the pipeline cannot exceed ${
    formatNumber(cpu.maxPerSecond)
  } samples/s, ${formatPercent(best)} of ceiling ÷ 3 (${formatNumber(ceiling)})`;
  if (target === undefined) return [first, `${bound}.`];
  if (best >= target) {
    return [first, `${bound}: the cores alone do not forbid the target; ${busyAt(r, cpu)}`];
  }
  return [
    first,
    `${bound} at best, even with every core busy all the time.`,
    `Reaching ${formatPercent(target)} of it ${needs(cpu, target * ceiling)}`,
  ];
}

export function latencyGoes(r: BenchResults, p: "p50" | "p99"): (string | undefined)[] {
  const l = r.latency;
  const rate = median(l.offeredPerSecond);
  const total = totalOf(l.cpuUsPerSample);
  const hops = l.hops
    ? Object.entries(l.hops.on).map(([hop, s]) => [hop, median(s[p])] as const)
      .filter((e): e is readonly [string, number] => e[1] !== undefined)
      .sort((a, b) => b[1] - a[1])
    : [];
  const off = median(l.plotOff?.p99);
  const ratio = median(l.p99OverPlotOff);
  const ofType = (type: "classic" | "quorum") => {
    const figures = r.queueTypes?.byType[type];
    return median(p === "p50" ? figures?.latencyP50Ms : figures?.latencyP99Ms);
  };
  const [classic, quorum] = [ofType("classic"), ofType("quorum")];
  const plot = p === "p99" && off !== undefined
    ? `With metric's plot off the p99 was ${ms(off)}${
      ratio === undefined ? "" : ` (as shipped ÷ plot off: ${formatNumber(ratio, 2)})`
    }`
    : undefined;
  const queues = classic !== undefined && quorum !== undefined
    ? `with classic work queues the ${p} was ${ms(classic)} against ${
      ms(quorum)
    } with quorum ones (section 6)`
    : undefined;
  return [
    rate !== undefined && total !== undefined
      ? `At ${formatNumber(rate)} samples/s the processes spend ${
        formatNumber(total)
      } µs of CPU per sample, ${
        formatNumber((total * rate) / 1e6, 2)
      } of the machine's ${r.machine.cores} cores busy (section 3).`
      : undefined,
    hops.length > 0
      ? `Each hop's ${p}, largest first: ${
        hops.map(([hop, v]) => `${hopLabel(hop)} ${ms(v)}`).join(", ")
      } (section 3, "Where the time goes").`
      : undefined,
    plot && queues
      ? `${plot}; ${queues}.`
      : plot
      ? `${plot}.`
      : queues
      ? `${capital(queues)}.`
      : undefined,
  ];
}

export function plotGoes(r: BenchResults): (string | undefined)[] {
  const l = r.latency;
  const on = median(l.p99);
  const off = median(l.plotOff?.p99);
  const plot = l.periodicJobs?.plot;
  const cpu = median(l.periodicJobsCpu?.plot?.p99);
  return [
    on !== undefined && off !== undefined
      ? `As shipped the p99 was ${ms(on)}, with the plot off ${ms(off)} (section 3).`
      : undefined,
    plot && median(plot.p99) !== undefined
      ? `The plot's stretches on metric's event loop: p99 ${ms(median(plot.p99)!, 3)}${
        cpu === undefined ? "" : ` (CPU ${ms(cpu, 3)})`
      } (section 3, "metric's periodic jobs").`
      : undefined,
  ];
}

export function periodicGoes(
  r: BenchResults,
  target: number | undefined,
  t: Target,
): (string | undefined)[] {
  const limit = target ?? 0;
  const own = r.periodicWork;
  if (t.what.startsWith("a periodic job's own work") && own) {
    const jobs = Object.entries(own.jobs).sort(([, a], [, b]) => b.p99Ms - a.p99Ms);
    const [largest, ...rest] = jobs;
    if (!largest) return [];
    const over = rest.filter(([, w]) => w.p99Ms > limit);
    const inSitu = median(r.latency.periodicJobs?.[largest[0]]?.p99);
    return [
      `The largest own work on a quiet loop is ${largest[0]}'s: p99 ${
        ms(largest[1].p99Ms, 3)
      } over ${formatNumber(own.runs)} runs (max ${ms(largest[1].maxMs, 3)})${
        over.length > 0
          ? `, then ${over.map(([job, w]) => `${job} ${ms(w.p99Ms, 3)}`).join(", ")}`
          : ""
      } (section 3, "metric's periodic jobs").`,
      inSitu === undefined
        ? undefined
        : `In the pipeline its stretches reach p99 ${
          ms(inSitu, 3)
        }, other processes' turns included.`,
    ];
  }
  const jobs = r.latency.periodicJobs ?? {};
  const cpu = r.latency.periodicJobsCpu ?? {};
  const byP99 = Object.entries(jobs).filter(([, s]) => median(s.p99) !== undefined)
    .sort(([, a], [, b]) => median(b.p99)! - median(a.p99)!);
  const over = byP99.filter(([, s]) => (median(s.maxBound) ?? 0) > limit);
  const shown = over.length > 0 ? over : byP99.slice(0, 1);
  if (shown.length === 0) return [];
  return [
    `${
      over.length > 0
        ? `The jobs whose stretches passed ${plain(limit)} ms, by p99`
        : "The job with the largest stretches"
    } (with the CPU metric used meanwhile): ${
      shown.map(([job, s]) => `${job} ${ms(median(s.p99)!, 3)}${cpuOf(cpu[job])}`).join(", ")
    } (section 3, "metric's periodic jobs").`,
    "Where the CPU is well below the stretch, the core went to another process meanwhile.",
  ];
}

export function replicasGo(
  r: BenchResults,
  target: number | undefined,
  t: Target,
): (string | undefined)[] {
  const n = /^(\d+)/.exec(t.what)![1];
  const d = r.scaling.delayed;
  const speedup = d.speedup[n];
  const one = median(d.samplesPerSecond["1"]);
  const many = median(d.samplesPerSecond[n]);
  const split = Object.entries(d.runs[n]?.at(-1)?.byReplica ?? {})
    .sort(([a], [b]) => a.localeCompare(b));
  const counts = split.map(([, c]) => c);
  const { scalingPrefetch: prefetch, scalingDelayMs: delay } = r.settings;
  // Little's law: each replica's prefetch slots stay full while the backlog drains.
  const held = (replicas: number, perSecond: number) => (replicas * prefetch * 1000) / perSecond;
  return [
    median(speedup) !== undefined
      ? `The median speed-up is ${formatSummary(speedup, 3)}×${
        target !== undefined && median(speedup)! < target &&
          formatNumber(median(speedup)!, 2) === formatNumber(target, 2)
          ? `, under ${plain(target)} though the table rounds it to ${formatNumber(target, 2)}`
          : ""
      }.`
      : undefined,
    one !== undefined && many !== undefined
      ? `Each of the ${n} replicas predicted ${formatNumber(many / Number(n))} samples/s against ${
        formatNumber(one)
      } for one alone${
        split.length > 1
          ? `; the last run split ${
            split.map(([name, c]) => `${name} ${formatNumber(c)}`).join(", ")
          } (the busiest ${
            formatPercent(Math.max(...counts) / Math.min(...counts) - 1)
          } above the least)`
          : ""
      }.`
      : undefined,
    one !== undefined && many !== undefined && prefetch > 0 && delay > 0
      ? `A delivery held one of its replica's ${prefetch} prefetch slots for ${
        ms(held(1, one), 1)
      } on average with one replica and ${
        ms(held(Number(n), many), 1)
      } with ${n} (replicas × prefetch ÷ samples/s): ${formatNumber(held(1, one) - delay, 1)} and ${
        formatNumber(held(Number(n), many) - delay, 1)
      } ms beyond the model's ${
        plain(delay)
      } ms delay, for the prediction's publish and confirm and the ack (section 4).`
      : undefined,
  ];
}

export function sizingGoes(r: BenchResults): (string | undefined)[] {
  const u = r.footprint.unsized;
  const sized = median(r.throughput.samplesPerSecond);
  const own = median(u.samplesPerSecond);
  const sizedCpu = totalOf(r.throughput.cpuUsPerSample);
  const ownCpu = totalOf(u.cpuUsPerSample);
  if (sized === undefined || own === undefined) return [];
  const at = (cpu: number | undefined) =>
    cpu === undefined ? "" : ` at ${formatNumber(cpu)} µs of CPU per sample`;
  return [
    `With the containers' V8 sizing the pipeline did ${formatNumber(sized)} samples/s${
      at(sizedCpu)
    }, with V8's own sizing ${formatNumber(own)}${at(ownCpu)} (section 5).`,
  ];
}

/** The CPU every process of the throughput runs spent per sample, and what it bounds. */
interface CpuBound {
  /** µs per sample in all, and by process (largest first). */
  readonly total: number;
  readonly byProcess: readonly (readonly [string, number])[];
  readonly cores: number;
  /** Samples/s with every core busy all the time. */
  readonly maxPerSecond: number;
}

function cpuBound(r: BenchResults): CpuBound | undefined {
  const byProcess = Object.entries(r.throughput.cpuUsPerSample)
    .map(([name, s]) => [name, median(s)] as const);
  const known = byProcess.filter((e): e is readonly [string, number] => e[1] !== undefined);
  const cores = r.machine.cores;
  if (known.length === 0 || known.length < byProcess.length || !(cores > 0)) return undefined;
  const total = known.reduce((sum, [, us]) => sum + us, 0);
  return {
    total,
    byProcess: known.sort((a, b) => b[1] - a[1]),
    cores,
    maxPerSecond: (cores * 1e6) / total,
  };
}

/** "The pipeline spends 561 µs of CPU per sample in all (broker 297, …: section 2's table)". */
function spends(cpu: CpuBound): string {
  return `The pipeline spends ${formatNumber(cpu.total)} µs of CPU per sample in all (${
    cpu.byProcess.map(([name, us]) => `${name} ${formatNumber(us)}`).join(", ")
  }: section 2's table)`;
}

/** What `perSecond` samples/s would take of the CPU, the broker's left as it is. */
function needs(cpu: CpuBound, perSecond: number): string {
  const allowed = (cpu.cores * 1e6) / perSecond;
  const broker = cpu.byProcess.find(([name]) => name === "broker")?.[1];
  const all = `needs at most ${formatNumber(allowed)} µs of CPU per sample in all`;
  if (broker === undefined) return `${all}.`;
  return allowed > broker
    ? `${all}: beside the broker's ${formatNumber(broker)}, the services' own CPU (now ${
      formatNumber(cpu.total - broker)
    }) below ${formatNumber(allowed - broker)} µs per sample.`
    : `${all}, less than the broker's ${formatNumber(broker)} alone.`;
}

/** "at the measured N samples/s the processes kept K of the C cores busy." */
function busyAt(r: BenchResults, cpu: CpuBound): string | undefined {
  const measured = median(r.throughput.samplesPerSecond);
  if (measured === undefined) return undefined;
  const broker = cpu.byProcess.find(([name]) => name === "broker")?.[1];
  return `at the measured ${formatNumber(measured)} samples/s the processes kept ${
    formatNumber((measured * cpu.total) / 1e6, 2)
  } of the ${cpu.cores} cores busy${
    broker === undefined ? "" : `, the broker ${formatNumber((measured * broker) / 1e6, 2)} of them`
  }.`;
}

/** The sum of the medians, undefined if any is missing. */
function totalOf(cpu: Readonly<Record<string, Summary>>): number | undefined {
  const medians = Object.values(cpu).map(median);
  if (medians.length === 0 || medians.some((m) => m === undefined)) return undefined;
  return medians.reduce((sum: number, m) => sum + m!, 0);
}

function cpuOf(s: HistogramSummaries | undefined): string {
  const cpu = median(s?.p99);
  return cpu === undefined ? "" : ` (CPU ${ms(cpu, 3)})`;
}

function hopLabel(hop: string): string {
  return (HOP_LABELS as Readonly<Record<string, string>>)[hop] ?? hop;
}

function ms(value: number, digits = 2): string {
  return `${formatNumber(value, digits)} ms`;
}

/** A setting or a threshold as it was given: `10`, `2.8`. */
function plain(value: number): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
