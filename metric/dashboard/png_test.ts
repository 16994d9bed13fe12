import assert from "node:assert/strict";
import { createPngRenderer, PNG_FONT, pngSize, RESVG_WASM } from "./png.ts";
import { renderHistogramSvg } from "./svg_histogram.ts";

Deno.test("createPngRenderer() renders an SVG to a PNG of the SVG's size", async () => {
  const render = await createPngRenderer();
  const png = render(
    `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30" font-family="sans-serif">` +
      `<rect width="40" height="30" fill="#36c"/><text x="2" y="20">42</text></svg>`,
  );
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.deepEqual(pngSize(png), { width: 40, height: 30 });
});

Deno.test("createPngRenderer() draws the dashboard's histogram, text included", async () => {
  const svg = renderHistogramSvg(
    { width: 10, counts: [3, 5, 8, 13, 21, 34, 55, 21, 8], overflow: 2, overflowFrom: 90 },
    { count: 170, mae: 43.2, median: 38 },
    { width: 640, height: 400 },
  );
  const [plain, doubled] = await Promise.all([
    createPngRenderer().then((render) => render(svg)),
    createPngRenderer({ scale: 2 }).then((render) => render(svg)),
  ]);
  assert.deepEqual(pngSize(plain), { width: 640, height: 400 });
  assert.deepEqual(pngSize(doubled), { width: 1280, height: 800 });
  // The shipped font is found: without it text would be dropped and the file smaller.
  const noText = (await createPngRenderer())(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ""));
  assert.ok(plain.byteLength > noText.byteLength, `${plain.byteLength} vs ${noText.byteLength}`);
});

Deno.test("createPngRenderer() says which file it could not read", async () => {
  await assert.rejects(
    createPngRenderer({ font: new URL("../vendor/fonts/missing.ttf", import.meta.url) }),
    /missing\.ttf/,
  );
  await assert.rejects(
    createPngRenderer({ scale: 0 }),
    /'scale' must be in \(0, 8\]: current value is 0/,
  );
});

Deno.test("pngSize() refuses what is not a PNG", () => {
  assert.throws(() => pngSize(new TextEncoder().encode("<svg/>".repeat(5))), TypeError);
});

Deno.test("the vendored resvg binary matches the version deno.json pins", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const pinned = config.imports["@resvg/resvg-wasm"].replace(/^npm:@resvg\/resvg-wasm@/, "");
  const vendored =
    (await Deno.readTextFile(new URL("../vendor/resvg/resvg.version", import.meta.url)))
      .trim();
  assert.equal(vendored, pinned, "run metric/vendor/resvg/update.sh");
  assert.ok((await Deno.stat(RESVG_WASM)).size > 1_000_000);
  assert.ok((await Deno.stat(PNG_FONT)).size > 100_000);
});
