/**
 * The controller's own page (`/` on its port): each scaled service's replica counts over time
 * beside its backlog, and the latest changes with their reasons; below, a rollout's candidate and
 * stable MAE on their pairs with the decision's interval while it shadows, and the decisions
 * after (`/rollouts.json`). It draws from the decisions the
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
import type { RolloutDecision, RolloutLook } from "./rollout/rollout_loop.ts";

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

/**
 * The rollout loop's looks of the last `keepMs` (candidate and stable MAE on the pairs, the
 * interval) and its last decisions, as `/rollouts.json` serves them.
 */
export class RolloutHistory {
  readonly #keepMs: number;
  readonly #looks: RolloutLook[] = [];
  readonly #decisions: RolloutDecision[] = [];

  constructor(keepMs = 3_600_000, readonly keepDecisions = 50) {
    this.#keepMs = keepMs;
  }

  look(look: RolloutLook): void {
    this.#looks.push(look);
    const oldest = look.atMs - this.#keepMs;
    const drop = this.#looks.findIndex((l) => l.atMs >= oldest);
    if (drop > 0) this.#looks.splice(0, drop);
  }

  decided(decision: RolloutDecision): void {
    this.#decisions.push(decision);
    if (this.#decisions.length > this.keepDecisions) this.#decisions.shift();
  }

  toJSON(): { looks: RolloutLook[]; decisions: RolloutDecision[] } {
    return { looks: [...this.#looks], decisions: [...this.#decisions] };
  }
}

/** The dashboard's routes; undefined for any other path. */
export function dashboardRoute(
  history: DecisionHistory,
  url: URL,
  rollouts: RolloutHistory = new RolloutHistory(),
): Response | undefined {
  if (url.pathname === "/" || url.pathname === "/index.html") {
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  if (url.pathname === "/history.json") {
    return Response.json(history.toJSON(), { headers: { "cache-control": "no-store" } });
  }
  if (url.pathname === "/rollouts.json") {
    return Response.json(rollouts.toJSON(), { headers: { "cache-control": "no-store" } });
  }
  return undefined;
}
