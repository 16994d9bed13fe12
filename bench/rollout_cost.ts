/**
 * What a shadow rollout costs the running pipeline: `deno task bench --rollout`. A rollout's
 * candidate (`deno task rollout start`) runs beside the stable model until the controller decides,
 * and every sample then costs more: the broker copies each `features` message into
 * `features_shadow`, delivers it to the candidate, takes the candidate's prediction into
 * `y_pred_shadow` and delivers it to metric, which pairs it apart (`shadow_log.csv`). So five
 * deliveries per sample instead of three, one more model's work, and metric's shadow pairing.
 *
 * Each round runs the pipeline at the stack's full-load rate twice on one throwaway broker: as it
 * runs every day, and with a candidate in shadow (the same program with `MODEL_ROLE=candidate`),
 * the order alternating between rounds so both see the same machine. Figures per recorded sample
 * of the stable pipeline: CPU time of the broker, of each service and in all, and the stable
 * latency's p50 and p99; the report gives each mode's median and each round's ratio
 * with ÷ without.
 *
 * @module
 */
import type { PipelineFigures } from "./results.ts";
import type { PipelineRun } from "./pipeline.ts";
import {
  formatNumber,
  formatSummary,
  markdownTable,
  ratio,
  summarize,
  type Summary,
} from "./stats.ts";

/** The two ways the pipeline runs, the reference first. */
export const MODES = ["stable alone", "with a candidate"] as const;
/** One of {@link MODES}. */
export type Mode = typeof MODES[number];

/** How much of each run. */
export interface RolloutCostSizes {
  /** Samples per run. */
  readonly samples: number;
  /** Samples features sends per second. */
  readonly ratePerSecond: number;
  /** Samples at the start of each run left out of the latency percentiles. */
  readonly warmup: number;
}

/** The full sizes: 30 s per run at 1,000 samples/s, the first 3 s left out of the latency. */
export const ROLLOUT_COST_SIZES: RolloutCostSizes = {
  samples: 30_000,
  ratePerSecond: 1_000,
  warmup: 3_000,
};

/** What one run gives, per recorded sample of the stable pipeline. */
export interface ModeFigures {
  /** CPU µs per sample of each process (broker, features, model-1, metric, candidate). */
  readonly cpuUsPerSample: Readonly<Record<string, number>>;
  /** The sum of those. */
  readonly totalCpuUsPerSample: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** One round: both modes. */
export type RolloutCostRound = Readonly<Record<Mode, ModeFigures>>;

/** One mode's figures over the rounds: {@link ModeFigures}, each a summary. */
export interface ModeSummary {
  readonly cpuUsPerSample: Readonly<Record<string, Summary>>;
  readonly totalCpuUsPerSample: Summary;
  readonly p50Ms: Summary;
  readonly p99Ms: Summary;
}

/** The comparison over the rounds, as rollout.json holds it. */
export interface RolloutCostFigures {
  readonly sizes: RolloutCostSizes;
  readonly byMode: Readonly<Record<Mode, ModeSummary>>;
  /** Each round's figure with a candidate ÷ that round's figure without. */
  readonly withOverWithout: {
    readonly broker: Summary;
    readonly total: Summary;
    readonly p50: Summary;
    readonly p99: Summary;
  };
}

/** One run's figures from the bench's pipeline figures. */
export function modeFigures(figures: PipelineFigures): ModeFigures {
  const cpu = figures.cpuUsPerSample;
  return {
    cpuUsPerSample: cpu,
    totalCpuUsPerSample: Object.values(cpu).reduce((sum, us) => sum + us, 0),
    p50Ms: figures.latencyMs.p50,
    p99Ms: figures.latencyMs.p99,
  };
}

/** The rounds, summarized: medians, spreads and per-round ratios. */
export function summarizeRolloutCost(
  sizes: RolloutCostSizes,
  rounds: readonly RolloutCostRound[],
): RolloutCostFigures {
  const byMode = Object.fromEntries(MODES.map((mode) => {
    const of = (f: (figures: ModeFigures) => number) => summarize(rounds.map((r) => f(r[mode])));
    const processes = new Set(rounds.flatMap((r) => Object.keys(r[mode].cpuUsPerSample)));
    const summary: ModeSummary = {
      cpuUsPerSample: Object.fromEntries(
        [...processes].map((name) => [name, of((f) => f.cpuUsPerSample[name] ?? Number.NaN)]),
      ),
      totalCpuUsPerSample: of((f) => f.totalCpuUsPerSample),
      p50Ms: of((f) => f.p50Ms),
      p99Ms: of((f) => f.p99Ms),
    };
    return [mode, summary];
  })) as Record<Mode, ModeSummary>;
  const over = (f: (figures: ModeFigures) => number) =>
    summarize(rounds.map((r) => ratio(f(r["with a candidate"]), f(r["stable alone"]))));
  return {
    sizes,
    byMode,
    withOverWithout: {
      broker: over((f) => f.cpuUsPerSample.broker ?? Number.NaN),
      total: over((f) => f.totalCpuUsPerSample),
      p50: over((f) => f.p50Ms),
      p99: over((f) => f.p99Ms),
    },
  };
}

/** The report: CPU per sample of each process and the latency, by mode, then the ratios. */
export function rolloutCostReport(figures: RolloutCostFigures, machine: string): string {
  const { byMode, withOverWithout: r, sizes } = figures;
  const rounds = r.total.runs.length;
  const processes = [
    ...new Set(MODES.flatMap((mode) => Object.keys(byMode[mode].cpuUsPerSample))),
  ].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const row = (what: string, of: (mode: ModeSummary) => Summary | undefined, digits: number) => [
    what,
    ...MODES.map((mode) => {
      const summary = of(byMode[mode]);
      return summary ? formatSummary(summary, digits) : "–";
    }),
  ];
  return [
    "# What a shadow rollout costs",
    "",
    `\`deno task bench --rollout\`: ${machine}. ${rounds} round(s), each running the pipeline ` +
    `as it runs every day and with a candidate in shadow (the order alternating); ` +
    `${formatNumber(sizes.samples)} samples per run at ${
      formatNumber(sizes.ratePerSecond)
    }/s on quorum queues, one stable model replica; median (min–max) over the rounds. ` +
    `CPU is per sample the stable pipeline recorded (user + system, from /proc); latency is the ` +
    `stable pipeline's, the first ${formatNumber(sizes.warmup)} samples left out.`,
    "",
    markdownTable(
      ["CPU µs per sample", ...MODES, "with ÷ without, per round"],
      [
        ...processes.map((name) => [
          ...row(name, (m) => m.cpuUsPerSample[name], 0),
          name === "broker" ? formatSummary(r.broker, 2) : "",
        ]),
        [...row("**total**", (m) => m.totalCpuUsPerSample, 0), formatSummary(r.total, 2)],
        [...row("latency p50 ms", (m) => m.p50Ms, 2), formatSummary(r.p50, 2)],
        [...row("latency p99 ms", (m) => m.p99Ms, 2), formatSummary(r.p99, 2)],
      ],
      ["left", "right", "right", "right"],
    ),
    "",
  ].join("\n");
}

/** The broker first, then the pipeline's order. */
function order(name: string): number {
  const at = ["broker", "features", "model", "candidate", "metric"].findIndex((p) =>
    name.startsWith(p)
  );
  return at < 0 ? 99 : at;
}

/** What the bench gives this module. */
export interface RolloutCostBench {
  readonly rounds: number;
  readonly sizes: RolloutCostSizes;
  /** One pipeline run; latency percentiles leave out the first `warmup` samples. */
  pipeline(count: number, settings: Partial<PipelineRun>, warmup: number): Promise<PipelineFigures>;
  /** Waits for the machine to be quiet before a measurement. */
  quiet(): Promise<void>;
  say(message: string): void;
}

/** Runs the rounds: per round, the pipeline alone and with a candidate, in alternating order. */
export async function measureRolloutCost(bench: RolloutCostBench): Promise<RolloutCostRound[]> {
  const { sizes } = bench;
  const rounds: RolloutCostRound[] = [];
  for (let round = 0; round < bench.rounds; round++) {
    const order = round % 2 === 0 ? MODES : [...MODES].reverse();
    const figures: Partial<Record<Mode, ModeFigures>> = {};
    for (const mode of order) {
      await bench.quiet();
      const run = await bench.pipeline(sizes.samples, {
        queueType: "quorum",
        features: { INTERVAL_MS: "0", RATE_PER_SEC: String(sizes.ratePerSecond) },
        ...(mode === "with a candidate" ? { candidate: {} } : {}),
      }, sizes.warmup);
      figures[mode] = modeFigures(run);
      bench.say(
        `round ${round + 1} ${mode}: ${
          formatNumber(figures[mode]!.totalCpuUsPerSample)
        } CPU µs per sample (broker ${formatNumber(run.cpuUsPerSample.broker ?? Number.NaN)}), ` +
          `p99 ${formatNumber(run.latencyMs.p99, 2)} ms`,
      );
    }
    rounds.push(figures as RolloutCostRound);
  }
  return rounds;
}
