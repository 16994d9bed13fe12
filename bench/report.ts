/**
 * Renders {@link BenchResults} as `docs/benchmarks.md`. Pure: the numbers
 * come from the JSON, the prose around them says how they were measured and
 * what each setting trades.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import { formatNumber, markdownTable, verdict } from "./stats.ts";
import { ceilingSection, throughputSection } from "./report_throughput.ts";
import { latencySection } from "./report_latency.ts";
import { footprintSection, queueTypesSection, scalingSection } from "./report_scaling.ts";
import { methodSection, settingsSection } from "./report_method.ts";
import { missedSection } from "./report_missed.ts";

/** The markdown document. */
export function renderReport(r: BenchResults): string {
  const m = r.machine;
  const sections = [
    `# Benchmarks

Measured by \`deno task bench\` on ${r.generatedAt.slice(0, 16).replace("T", " ")} UTC${
      r.quick ? " in **quick mode** (1 run, fewer samples: a smoke test, not a result)" : ""
    }: every figure is the median of ${r.runsPerFigure} run${r.runsPerFigure > 1 ? "s" : ""}${
      r.runsPerFigure > 1 ? ", with min–max in brackets" : ""
    }; the whole bench took ${
      formatNumber(r.durationSeconds)
    } s. Against ${r.broker}. This file and \`benchmarks.json\` (every run's raw figures) are
written by the bench: rerun it rather than editing them.`,
    `## Machine

${
      markdownTable(["", ""], [
        ["CPU", m.cpuModel],
        ["Cores", String(m.cores)],
        ["Memory", `${formatNumber(m.memoryBytes / 2 ** 30, 1)} GiB`],
        ["Kernel", m.kernel],
        ["Deno", `${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript})`],
        ["RabbitMQ", m.rabbitmq],
      ])
    }`,
    `## Results against the targets

${
      markdownTable(
        ["What", "Target", "Measured (median)", ""],
        r.targets.map((t) => [t.what, t.target, t.measured, verdict(t.met)]),
      )
    }`,
    ...[missedSection(r)].filter((list) => list !== ""),
    ceilingSection(r),
    throughputSection(r),
    latencySection(r),
    scalingSection(r),
    footprintSection(r),
    ...(r.queueTypes ? [queueTypesSection(r.queueTypes)] : []),
    settingsSection(r),
    methodSection(r),
  ];
  return sections.join("\n\n") + "\n";
}
