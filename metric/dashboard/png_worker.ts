/**
 * What renders `error_distribution.png`: resvg (`@resvg/resvg-wasm`, pinned in deno.json) turning
 * the histogram's SVG into PNG bytes, and the message loop that does it in a Web Worker.
 *
 * The metric service runs this module as a worker (`png_worker_host.ts`), started when someone asks
 * for the picture, so that a render, tens of milliseconds of WebAssembly, never holds up the event
 * loop that pairs and acknowledges samples. The host loads it from a `blob:` URL made of its text, so this module imports nothing
 * but the npm package: a worker started from a file needs `--allow-read` of every local module it
 * loads, and it reads no file either. The host reads resvg's binary and the font and sends their
 * bytes. `png.ts` imports the renderer from here for the same picture in-process (tests, tools).
 *
 * @module
 */
import { initWasm, Resvg } from "@resvg/resvg-wasm";

/** Renders an SVG document to PNG bytes. */
export type PngRenderer = (svg: string) => Uint8Array;

/** How {@link pngRendererOf} draws. */
export interface PngRenderSettings {
  /** The font file's bytes; the SVG's `sans-serif` maps to it. */
  readonly font: Uint8Array;
  /** The family the font file holds. */
  readonly fontFamily?: string;
  /** Output pixels per SVG user unit; 1 keeps the SVG's width and height. */
  readonly scale?: number;
  /** Fill behind the drawing (the SVG has none; a PNG viewer would show transparency). */
  readonly background?: string;
}

/** The family of the font the repository ships (`metric/vendor/fonts/DejaVuSans.ttf`). */
export const FONT_FAMILY = "DejaVu Sans";

// resvg's module may be instantiated once per isolate.
let ready: Promise<void> | undefined;

/**
 * Instantiates resvg's WebAssembly once in this isolate; `wasm` is called only the first time
 * (and again after a failure, so a later call may succeed).
 */
export function loadResvg(wasm: () => Promise<Uint8Array> | Uint8Array): Promise<void> {
  ready ??= Promise.resolve().then(wasm).then((bytes) => initWasm(bytes)).catch((error) => {
    ready = undefined;
    throw error;
  });
  return ready;
}

/** A synchronous renderer; call after {@link loadResvg} resolved. */
export function pngRendererOf(settings: PngRenderSettings): PngRenderer {
  const scale = settings.scale ?? 1;
  const family = settings.fontFamily ?? FONT_FAMILY;
  const background = settings.background ?? "white";
  return (svg) => {
    const resvg = new Resvg(svg, {
      background,
      fitTo: scale === 1 ? { mode: "original" } : { mode: "zoom", value: scale },
      font: { fontBuffers: [settings.font], defaultFontFamily: family, sansSerifFamily: family },
    });
    try {
      const image = resvg.render();
      try {
        return image.asPng();
      } finally {
        image.free();
      }
    } finally {
      resvg.free();
    }
  };
}

/** What the host sends the worker. */
export type PngRequest =
  /** Load resvg and the font: see {@link servePngRequests}. */
  | { readonly kind: "load"; readonly wasm: Uint8Array; readonly font: Uint8Array }
  | { readonly kind: "render"; readonly id: number; readonly svg: string };

/** What the worker answers. */
export type PngReply =
  | { readonly kind: "loaded"; readonly ms: number }
  /** `ms`: the render's time on the worker's thread. */
  | {
    readonly kind: "rendered";
    readonly id: number;
    readonly png: Uint8Array;
    readonly ms: number;
  }
  /** `id` absent: loading failed. */
  | { readonly kind: "failed"; readonly id?: number; readonly error: string };

/** The worker's side of a message channel (`self` in a worker). */
export interface WorkerScopeLike {
  onmessage: ((event: MessageEvent<PngRequest>) => void) | null;
  postMessage(message: PngReply, transfer?: Transferable[]): void;
}

/** A small SVG with text: rendering it compiles the code paths a histogram takes. */
const WARM_UP_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" ` +
  `font-family="sans-serif" font-size="12"><rect width="40" height="20" fill="#4c78a8"/>` +
  `<line x1="0" x2="64" y1="30" y2="30" stroke="#d62728" stroke-dasharray="6 4"/>` +
  `<text x="2" y="14">n = 42 · ≥ 400</text></svg>`;

/**
 * Answers {@link PngRequest}s on `scope` until the host terminates the worker.
 *
 * Loading includes one render of a small picture, so that a failure to render at all shows as a
 * failed load. V8 runs resvg's WebAssembly first as compiled by its baseline compiler and
 * recompiles the hot functions later: measured on a 2-core VM, a fresh worker's first histogram
 * costs about 450 ms of its thread, the later ones 20–40 ms, which is why the host keeps a worker
 * while requests come and the dashboard caches the picture.
 */
export function servePngRequests(scope: WorkerScopeLike): void {
  let render: PngRenderer | undefined;
  scope.onmessage = async ({ data: request }) => {
    const started = performance.now();
    if (request.kind === "load") {
      try {
        await loadResvg(() => request.wasm);
        render = pngRendererOf({ font: request.font });
        render(WARM_UP_SVG);
        scope.postMessage({ kind: "loaded", ms: performance.now() - started });
      } catch (error) {
        scope.postMessage({ kind: "failed", error: messageOf(error) });
      }
      return;
    }
    if (!render) {
      scope.postMessage({ kind: "failed", id: request.id, error: "resvg is not loaded" });
      return;
    }
    try {
      const png = render(request.svg);
      // Handed over rather than copied when the bytes own their buffer (never resvg's memory).
      const owned = png.byteOffset === 0 && png.byteLength === png.buffer.byteLength;
      scope.postMessage(
        { kind: "rendered", id: request.id, png, ms: performance.now() - started },
        owned ? [png.buffer as ArrayBuffer] : [],
      );
    } catch (error) {
      scope.postMessage({ kind: "failed", id: request.id, error: messageOf(error) });
    }
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (import.meta.main) servePngRequests(self as unknown as WorkerScopeLike);
