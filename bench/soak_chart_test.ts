import assert from "node:assert/strict";
import { renderLineChart } from "./soak_chart.ts";

Deno.test("renderLineChart() draws a line per series, from 0 up to a round top", () => {
  const svg = renderLineChart({
    title: "RSS <of> each",
    unit: "MiB",
    xs: [60, 120, 180],
    series: [{ name: "metric", values: [40, 45, 43] }, { name: "model-1", values: [20, 21, 20] }],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, />RSS &lt;of&gt; each \(MiB\)</);
  assert.equal(svg.match(/<polyline /g)?.length, 2);
  // The highest value, 45, rounds up to the next step of 20: the top label is 60.
  assert.match(svg, />60<\/text>/);
  // The last point of "metric" sits at the right edge of the plot (x = 60 + 450).
  assert.match(svg, /points="210,\d+(\.\d+)? 360,\d+(\.\d+)? 510,\d+(\.\d+)?"/);
});

Deno.test("renderLineChart() leaves a gap where a value is missing", () => {
  const svg = renderLineChart({
    title: "t",
    unit: "ms",
    xs: [1, 2, 3, 4],
    series: [{ name: "p99", values: [1, Number.NaN, 2, 3] }],
  });
  assert.equal(svg.match(/<polyline /g)?.length, 2);
});
