/**
 * The controller's own page (`/` on its port): each scaled service's replica counts over time
 * beside its backlog, and the latest changes with their reasons. It draws from the decisions the
 * autoscaler made since this process started (the last hour), served as `/history.json`; the
 * long history is in Prometheus (`ml_autoscale_replicas`, `ml_autoscale_backlog_messages`).
 *
 * The page is one HTML file with its script inline, imported as text (no read permission, no
 * CDN) and drawn as SVG: two lines of data do not need a chart library.
 *
 * @module
 */
import page from "./dashboard.html" with { type: "text" };
import type { DecisionPoint } from "./autoscale_loop.ts";

/** The decisions of the last `keepMs`, by service. */
export class DecisionHistory {
  readonly #keepMs: number;
  readonly #points = new Map<string, DecisionPoint[]>();

  constructor(keepMs = 3_600_000) {
    this.#keepMs = keepMs;
  }

  add(point: DecisionPoint): void {
    const points = this.#points.get(point.service) ?? [];
    points.push(point);
    const oldest = point.atMs - this.#keepMs;
    const drop = points.findIndex((p) => p.atMs >= oldest);
    if (drop > 0) points.splice(0, drop);
    this.#points.set(point.service, points);
  }

  /** Every service's points, oldest first, as the page reads them. */
  toJSON(): Record<string, DecisionPoint[]> {
    return Object.fromEntries(this.#points);
  }
}

/** The dashboard's routes; undefined for any other path. */
export function dashboardRoute(history: DecisionHistory, url: URL): Response | undefined {
  if (url.pathname === "/" || url.pathname === "/index.html") {
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  if (url.pathname === "/history.json") {
    return Response.json(history.toJSON(), { headers: { "cache-control": "no-store" } });
  }
  return undefined;
}
