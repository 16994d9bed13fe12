import assert from "node:assert/strict";
import type { BinnedHistogram } from "./view.ts";
import { COLORS, escapeXml, niceStep, renderHistogramSvg } from "./svg_histogram.ts";

function histogram(counts: number[], overflow = 0): BinnedHistogram {
  return { width: 10, counts, overflow, overflowFrom: 400 };
}

/** Asserts every tag is closed in order: a well-formedness check without an XML parser. */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], "unclosed elements");
}

function attribute(element: string, name: string): number {
  const match = element.match(new RegExp(`${name}="([^"]+)"`));
  assert.ok(match, `no ${name} on ${element}`);
  return Number(match[1]);
}

Deno.test("renderHistogramSvg() draws one bar per non-empty bin", async (t) => {
  const svg = renderHistogramSvg(histogram([3, 0, 6, 1]), { count: 10, mae: 14, median: 22.5 });

  await t.step("when the document is standalone SVG", () => {
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    assertBalanced(svg);
  });
  await t.step("when bar heights follow the counts", () => {
    const bars = [...svg.matchAll(/<rect class="bar"[^>]*>/g)].map((m) => m[0]);
    assert.equal(bars.length, 3, "the empty bin has no bar");
    const heights = bars.map((b) => attribute(b, "height"));
    assert.ok(Math.abs(heights[1] / heights[0] - 2) < 0.01, "6 is twice as tall as 3");
    assert.ok(Math.abs(heights[1] / heights[2] - 6) < 0.05);
    const lefts = bars.map((b) => attribute(b, "x"));
    assert.ok(lefts[0] < lefts[1] && lefts[1] < lefts[2], "bars in error order");
  });
  await t.step("when the mean and the median are marked where they fall", () => {
    const marks = [...svg.matchAll(/<line class="mark" data-mark="(\w+)"[^>]*>/g)];
    assert.deepEqual(marks.map((m) => m[1]), ["MAE", "median"]);
    const [mae, median] = marks.map((m) => attribute(m[0], "x1"));
    const bars = [...svg.matchAll(/<rect class="bar"[^>]*>/g)].map((m) => attribute(m[0], "x"));
    // MAE 14 lies in the second bin [10, 20), the median 22.5 in the third.
    assert.ok(mae > bars[0] && mae < bars[1], `MAE at ${mae}`);
    assert.ok(median > bars[1], `median at ${median}`);
    assert.ok(svg.includes(`stroke="${COLORS.mae}"`));
    assert.ok(svg.includes("MAE 14.0"));
    assert.ok(svg.includes("median 22.5"));
    assert.ok(svg.includes("n = 10"));
  });
});

Deno.test("renderHistogramSvg() handles the edges of the data", async (t) => {
  await t.step("when there are no samples", () => {
    const svg = renderHistogramSvg(histogram([]), { count: 0, mae: Number.NaN, median: null });
    assertBalanced(svg);
    assert.ok(svg.includes("no samples yet"));
    assert.equal(svg.match(/class="bar"/g), null);
    assert.equal(svg.match(/class="mark"/g), null);
    assert.ok(!svg.includes("NaN"));
  });
  await t.step("when some errors overflow the last bin", () => {
    const svg = renderHistogramSvg(histogram([2, 1], 4), { count: 7, mae: 500, median: 450 });
    assertBalanced(svg);
    assert.equal(svg.match(/class="bar"/g)?.length, 3);
    assert.ok(svg.includes("≥ 400: 4"));
    // A bin's width of gap sets the overflow bar apart from the regular ones.
    const bars = [...svg.matchAll(/<rect class="bar"[^>]*>/g)].map((m) => m[0]);
    const regularEnd = attribute(bars[1], "x") + attribute(bars[1], "width");
    const barWidth = attribute(bars[1], "width");
    assert.ok(attribute(bars[2], "x") - regularEnd > barWidth, "no gap before the overflow bar");
    assert.ok(!svg.includes("NaN"));
    // Marks beyond the plotted range stay inside it.
    for (const m of svg.matchAll(/<line class="mark"[^>]*>/g)) {
      assert.ok(attribute(m[0], "x1") <= 720);
    }
  });
  await t.step("when the title holds markup", () => {
    const svg = renderHistogramSvg(histogram([1]), { count: 1, mae: 1, median: 1 }, {
      title: `<script>"x" & 'y'</script>`,
    });
    assert.ok(!svg.includes("<script>"));
    assert.ok(svg.includes("&lt;script&gt;&quot;x&quot; &amp; &apos;y&apos;&lt;/script&gt;"));
    assertBalanced(svg);
  });
  await t.step("when a size is given", () => {
    const svg = renderHistogramSvg(histogram([1]), { count: 1, mae: 1, median: 1 }, {
      width: 300,
      height: 200,
    });
    assert.match(svg, /width="300" height="200" viewBox="0 0 300 200"/);
  });
});

Deno.test("niceStep() picks 1, 2 or 5 times a power of ten", () => {
  assert.equal(niceStep(100, 5), 20);
  assert.equal(niceStep(7, 5), 2);
  assert.equal(niceStep(3, 5), 1);
  assert.equal(niceStep(2300, 5), 500);
  assert.equal(niceStep(0, 5), 1);
});

Deno.test("escapeXml() escapes the five XML specials", () => {
  assert.equal(
    escapeXml(`<a href="x">&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;",
  );
});
