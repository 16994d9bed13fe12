/**
 * `error_distribution.png`, the picture the course's final projects wrote, rendered from the
 * dashboard's SVG by resvg (`@resvg/resvg-wasm`, pinned in deno.json) with a font shipped in
 * the repository, so the PNG looks the same on every machine and needs no system fonts.
 *
 * Permissions: `--allow-read` of the two files it loads, {@link RESVG_WASM} and
 * {@link PNG_FONT} (`metric/vendor/resvg/index_bg.wasm,metric/vendor/fonts/DejaVuSans.ttf`),
 * plus whatever the caller needs to write the PNG.
 *
 * @module
 */
import { FONT_FAMILY, loadResvg, type PngRenderer, pngRendererOf } from "./png_worker.ts";

export type { PngRenderer };

/** Written beside `error_distribution.svg`. */
export const PNG_FILE = "error_distribution.png";
/** resvg's WebAssembly binary, copied from the pinned npm package by `metric/vendor/resvg/update.sh`. */
export const RESVG_WASM = new URL("../vendor/resvg/index_bg.wasm", import.meta.url);
/** DejaVu Sans (Bitstream Vera licence, from Debian's fonts-dejavu-core). */
export const PNG_FONT = new URL("../vendor/fonts/DejaVuSans.ttf", import.meta.url);

/** Where the renderer's files are; defaults to the ones shipped in `metric/vendor/`. */
export interface PngRendererOptions {
  wasm?: URL | string;
  font?: URL | string;
  /** Output pixels per SVG user unit; 1 keeps the SVG's width and height. */
  scale?: number;
  /** Fill behind the drawing (the SVG has none; a PNG viewer would show transparency). */
  background?: string;
}

/**
 * Loads resvg and the font once and returns a synchronous renderer in this isolate (the metric
 * service renders in a worker instead: `png_worker_host.ts`). Rejects when a file cannot be read
 * (a missing `--allow-read` names the file), so a caller can log it and go on with the SVG alone.
 */
export async function createPngRenderer(options: PngRendererOptions = {}): Promise<PngRenderer> {
  const scale = options.scale ?? 1;
  if (!(scale > 0 && scale <= 8)) {
    throw new RangeError(
      `Cannot render a PNG as 'scale' must be in (0, 8]: current value is ${scale}`,
    );
  }
  const font = await Deno.readFile(options.font ?? PNG_FONT);
  await loadResvg(() => Deno.readFile(options.wasm ?? RESVG_WASM));
  return pngRendererOf({ font, fontFamily: FONT_FAMILY, scale, background: options.background });
}

/** The PNG's width and height from its IHDR chunk; throws a TypeError if it is not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.byteLength < 24 || signature.some((byte, i) => png[i] !== byte)) {
    throw new TypeError("Cannot read the PNG size as the data does not start with PNG's signature");
  }
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
