import assert from "node:assert/strict";
import { figuresBetween, histogramFigures, scrapedHistograms } from "./prometheus.ts";

const labels = 'service="metric",replica="metric"';

/** A scrape of `ml_metric_hop_seconds` for one hop, as prom-client writes it. */
function scrape(hop: string, counts: [number, number, number], sumSeconds: number): string {
  const [a, b, c] = counts;
  return [
    "# HELP ml_metric_hop_seconds Each hop",
    "# TYPE ml_metric_hop_seconds histogram",
    `ml_metric_hop_seconds_bucket{le="0.001",${labels},hop="${hop}"} ${a}`,
    `ml_metric_hop_seconds_bucket{le="0.005",${labels},hop="${hop}"} ${b}`,
    `ml_metric_hop_seconds_bucket{le="+Inf",${labels},hop="${hop}"} ${c}`,
    `ml_metric_hop_seconds_sum{${labels},hop="${hop}"} ${sumSeconds}`,
    `ml_metric_hop_seconds_count{${labels},hop="${hop}"} ${c}`,
    `ml_metric_hop_negative_total{hop="${hop}",${labels}} 0`,
    "",
  ].join("\n");
}

Deno.test("scrapedHistograms() reads a histogram's buckets and sum in ms, by a label", () => {
  const text = scrape("model", [2, 4, 4], 0.006) + scrape("metric", [0, 1, 1], 0.002);
  const histograms = scrapedHistograms(text, "ml_metric_hop_seconds", "hop");
  assert.deepEqual(Object.keys(histograms), ["model", "metric"]);
  assert.deepEqual(histograms.model, {
    bounds: [1, 5, Number.POSITIVE_INFINITY],
    cumulative: [2, 4, 4],
    sumMs: 6,
  });
  assert.deepEqual(scrapedHistograms(text, "ml_metric_absent", "hop"), {});
});

Deno.test("histogramFigures() gives the figures of what was observed between two scrapes", async (t) => {
  const [before, after] = [scrape("model", [2, 4, 4], 0.006), scrape("model", [2, 12, 14], 0.06)]
    .map((text) => scrapedHistograms(text, "ml_metric_hop_seconds", "hop").model);
  await t.step("when only the steady state counts", () => {
    const figures = histogramFigures(before, after);
    assert.equal(figures.count, 10);
    assert.ok(Math.abs(figures.meanMs - 5.4) < 1e-9);
    assert.equal(figures.p50Ms, 3.5);
    assert.equal(figures.p99Ms, 5, "in the +Inf bucket: its finite bound");
    assert.equal(figures.maxBoundMs, 5);
  });
  await t.step("when there is no earlier scrape, everything since the start counts", () => {
    assert.equal(histogramFigures(undefined, after).count, 14);
  });
  await t.step("when nothing was observed", () => {
    const figures = histogramFigures(after, after);
    assert.equal(figures.count, 0);
    assert.ok(Number.isNaN(figures.meanMs) && Number.isNaN(figures.maxBoundMs));
  });
});

Deno.test("figuresBetween() keys the figures by the label, from the later scrape's series", () => {
  const figures = figuresBetween(
    scrape("model", [1, 1, 1], 0.0005),
    scrape("model", [3, 3, 3], 0.0015) + scrape("metric", [0, 2, 2], 0.004),
    "ml_metric_hop_seconds",
    "hop",
  );
  assert.deepEqual(Object.keys(figures), ["model", "metric"]);
  assert.equal(figures.model.count, 2);
  assert.equal(figures.metric.count, 2);
  assert.equal(figures.metric.maxBoundMs, 5);
});
