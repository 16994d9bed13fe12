/**
 * How long drawing `error_distribution.svg` holds the event loop: the periodic plot job does this
 * and a file write, nothing else, so it must stay well under a millisecond. Statistics like a
 * long run's: a million errors spread over every bin, some past the histogram's limit.
 *
 * `deno bench metric/dashboard/plot_svg_bench.ts`
 */
import { ErrorStats } from "../pairing/stats.ts";
import { plotSvg } from "./plot_writer.ts";

function longRunStats(): ErrorStats {
  const stats = new ErrorStats();
  // A deterministic spread: most errors small, a long tail, a few beyond the limit.
  for (let i = 0; i < 1_000_000; i++) {
    const u = ((i * 2654435761) % 2 ** 32) / 2 ** 32;
    stats.add({ absoluteError: -60 * Math.log(1 - u), modelVersion: "v1", replica: "model-a" });
  }
  return stats;
}

const stats = longRunStats();

Deno.bench("plotSvg() of a million errors (the periodic plot's work on the event loop)", () => {
  plotSvg(stats);
});
