/**
 * The dashboard's static files, compiled into the module graph with text
 * imports. The metric service runs with `--allow-read=logs` only, and these
 * imports need no read permission (they load like code, also under
 * `--cached-only` in the image), so serving the page and the vendored uPlot
 * widens nothing and never reaches a CDN.
 *
 * @module
 */
import indexHtml from "./static/index.html" with { type: "text" };
import dashboardJs from "./static/dashboard.js" with { type: "text" };
import dashboardCss from "./static/dashboard.css" with { type: "text" };
import uplotJs from "./static/vendor/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "./static/vendor/uPlot.min.css" with { type: "text" };
import uplotLicense from "./static/vendor/LICENSE" with { type: "text" };

/** A file the dashboard serves. */
export interface Asset {
  readonly body: string;
  readonly contentType: string;
}

const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const TEXT = "text/plain; charset=utf-8";

/** URL path → file. */
export const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ["/", { body: indexHtml, contentType: HTML }],
  ["/index.html", { body: indexHtml, contentType: HTML }],
  ["/dashboard.js", { body: dashboardJs, contentType: JS }],
  ["/dashboard.css", { body: dashboardCss, contentType: CSS }],
  ["/vendor/uPlot.iife.min.js", { body: uplotJs, contentType: JS }],
  ["/vendor/uPlot.min.css", { body: uplotCss, contentType: CSS }],
  ["/vendor/LICENSE", { body: uplotLicense, contentType: TEXT }],
]);
