/**
 * Retraining on drift (`AUTO_RETRAIN`, off by default): when Alertmanager tells the controller
 * that `ModelDrift` fires for the version `<stack>_model` serves, it reads the rows metric recorded
 * since the alert's condition began to hold (metric's `GET /records`), fits a candidate on them
 * (`model/retrain.ts`, the same code as `deno task train --from`), and starts a shadow rollout of
 * it (`rollout/start.ts`, as `deno task rollout start` does). From there the rollout loop decides,
 * on the candidate's paired errors, as it does for an operator's rollout.
 *
 * It acts at most once per drift: not while a rollout or a shadow runs, not on a version that is
 * no longer served, and not again within the cooldown (an hour) after a rollout it started. What it did last is on `<stack>_model`'s rollout label (`origin: "drift"`), so a
 * controller restarted mid-way neither forgets nor repeats it; a retrain interrupted before the
 * label was written is started again by Alertmanager's next notification (every hour while the
 * alert fires).
 *
 * @module
 */
import { errorText } from "../stack/async.ts";
import { parseMetricLog } from "../metric/metric_log/format.ts";
import { parseModelArtifact, serializeModelArtifact } from "../model/artifact.ts";
import type { ModelArtifact } from "../model/linear.ts";
import { retrain, type Retrained, WindowedSamples } from "../model/retrain.ts";
import { candidateService, mountedModelConfig } from "../stack/model_service.ts";
import type { ReceivedAlert } from "./alerts.ts";
import type { LoopLog } from "./autoscale_loop.ts";
import type { Rollout } from "./rollout/plan.ts";
import {
  configText,
  type DockerCalls,
  readStable,
  rolloutOf,
  servedVersion,
  type ServiceRead,
  startRollout,
} from "./rollout/start.ts";

/** The alert that starts a retrain. */
export const DRIFT_ALERT = "ModelDrift";

/** The retrain policy, from the controller's settings. */
export interface RetrainPolicy {
  readonly enabled: boolean;
  /** The most recent rows it learns from, at most. */
  readonly lastRows: number;
  /** Fewer rows than this since the drift began: wait for more. */
  readonly minRows: number;
  /** Share of the rows held out to score the candidate and the serving model. */
  readonly holdout: number;
  /** After a rollout it started, none again this long. */
  readonly cooldownMs: number;
}

/**
 * The policy's numbers: the last 5,000 rows since the drift began (at most), at least 500 of them
 * (a fit of 11 parameters, and 100 held-out rows to score it), a fifth held out, as `deno task
 * train --from` does, and one hour between two retrains.
 */
export const RETRAIN_DEFAULTS = {
  lastRows: 5_000,
  minRows: 500,
  holdout: 0.2,
  cooldownMs: 3_600_000,
} as const satisfies Omit<RetrainPolicy, "enabled">;

/** What the Swarm says when a drift alert arrives. */
export interface RetrainState {
  readonly nowMs: number;
  /** The version `<stack>_model` serves. */
  readonly served: string;
  /** The rollout on its label, if any. */
  readonly rollout?: Rollout;
  /** Whether `<stack>_model_candidate` exists (a shadow, with or without a rollout). */
  readonly candidateRuns: boolean;
  /** Whether this controller is retraining already. */
  readonly retraining: boolean;
}

/** Whether a firing drift alert starts a retrain now, or why not. Pure. */
export function retrainDecision(
  alert: ReceivedAlert,
  state: RetrainState,
  policy: RetrainPolicy,
): { act: true } | { act: false; reason: string } {
  const version = alert.labels.model_version;
  if (!policy.enabled) return { act: false, reason: "AUTO_RETRAIN is off" };
  if (version !== state.served) {
    return {
      act: false,
      reason: `the drift is of ${version ?? "no version"}, and ${state.served} is served now`,
    };
  }
  if (state.retraining) return { act: false, reason: "a retrain is under way" };
  const rollout = state.rollout;
  if (rollout?.phase === "shadowing") {
    return { act: false, reason: `the rollout of ${rollout.candidate} is under way` };
  }
  if (state.candidateRuns) {
    return { act: false, reason: "a candidate shadows without a rollout (deno task shadow)" };
  }
  // Whatever the version: a model retrained on a drift that then reverts drifts in its turn,
  // and retraining at once again would chase the data back and forth.
  if (rollout?.origin === "drift" && state.nowMs - rollout.startedAtMs < policy.cooldownMs) {
    const minutes = Math.round((state.nowMs - rollout.startedAtMs) / 60_000);
    return {
      act: false,
      reason: `a retrain (of ${rollout.stable}) started ${minutes} min ago, ${rollout.phase}; ` +
        `the cooldown is ${Math.round(policy.cooldownMs / 60_000)} min`,
    };
  }
  return { act: true };
}

/**
 * How long ModelDrift must hold before it fires: its `for:` in ops/images/prometheus/alerts.yml
 * (`retrain_test.ts` checks they agree).
 */
export const DRIFT_ALERT_FOR_MS = 60_000;

/**
 * Since when the rows of a drift alert are drifted: Prometheus sends the time the alert fired as
 * its `startsAt`, and its condition held for `DRIFT_ALERT_FOR_MS` before that. Prometheus and
 * metric read the same clock on one node; across nodes, Swarm's nodes keep theirs in sync (NTP).
 * 0 (every row) when `startsAt` is not a time.
 */
export function driftBeganMs(alert: ReceivedAlert): number {
  const firedMs = Date.parse(alert.startsAt);
  return Number.isFinite(firedMs) ? firedMs - DRIFT_ALERT_FOR_MS : 0;
}

/** The samples of recorded rows (metric's `/records` CSV) paired at or after `sinceMs`. */
export function windowOf(csv: string, sinceMs: number, lastRows: number) {
  const window = new WindowedSamples({ last: lastRows, sinceMs });
  for (const record of parseMetricLog(csv)) window.add(record);
  return window;
}

/** Where a retrain gets what it needs, and tells what it did. */
export interface RetrainPorts {
  readonly stack: string;
  readonly docker: DockerCalls;
  /** metric's `GET /records?last=N`: the header and the last N rows of its log. */
  records(last: number): Promise<string>;
  readonly log: LoopLog;
  /** Counts each outcome (started, skipped, waiting, failed). */
  outcome(outcome: "started" | "skipped" | "failed"): void;
  readonly now?: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** How often, and how many times, a retrain waits for rows while the alert fires. */
export const WAIT_FOR_ROWS = { everyMs: 30_000, times: 20 } as const;

/**
 * Hears alerts (from `POST /alerts`) and, for a firing drift alert the policy acts on, retrains
 * and starts the rollout, in the background: the alert's answer does not wait for it.
 */
export class RetrainTrigger {
  readonly #policy: RetrainPolicy;
  readonly #ports: RetrainPorts;
  #running: Promise<void> | undefined;
  #considering: Promise<void> = Promise.resolve();
  /** Versions whose drift alert resolved since the retrain began waiting. */
  readonly #resolved = new Set<string>();

  constructor(policy: RetrainPolicy, ports: RetrainPorts) {
    this.#policy = policy;
    this.#ports = ports;
  }

  /** The retrain under way, if any (for tests and shutdown). */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /**
   * Considers each drift alert of a webhook message, one message after the other: two
   * notifications that arrive together never both start a retrain.
   */
  consider(alerts: readonly ReceivedAlert[]): Promise<void> {
    this.#considering = this.#considering.then(() => this.#considerAll(alerts));
    return this.#considering;
  }

  async #considerAll(alerts: readonly ReceivedAlert[]): Promise<void> {
    for (const alert of alerts) {
      if (alert.name !== DRIFT_ALERT) continue;
      const version = alert.labels.model_version ?? "";
      if (alert.status === "resolved") {
        this.#resolved.add(version);
        continue;
      }
      this.#resolved.delete(version);
      if (!this.#policy.enabled) continue;
      try {
        await this.#consider(alert);
      } catch (error) {
        this.#ports.outcome("failed");
        this.#ports.log.error("cannot consider a retrain for {alert}: {error}", {
          alert: alert.name,
          error: errorText(error),
        });
      }
    }
  }

  async #consider(alert: ReceivedAlert): Promise<void> {
    const { docker, stack, log } = this.#ports;
    const now = this.#ports.now ?? Date.now;
    const stable = await readStable(docker, stack);
    const candidate = await docker.call("GET", `/services/${candidateService(stack)}`, {
      allow404: true,
    });
    const decision = retrainDecision(alert, {
      nowMs: now(),
      served: servedVersion(stable.Spec),
      rollout: rolloutOf(stable),
      candidateRuns: candidate !== undefined,
      retraining: this.#running !== undefined,
    }, this.#policy);
    if (!decision.act) {
      this.#ports.outcome("skipped");
      log.info("not retraining on {alert} of {version}: {reason}", {
        alert: alert.name,
        version: alert.labels.model_version,
        reason: decision.reason,
      });
      return;
    }
    this.#running = this.#retrain(alert, stable).finally(() => (this.#running = undefined));
  }

  /** Retrains on `alert`'s drift of the version `stable` (as read to decide) serves. */
  async #retrain(alert: ReceivedAlert, stable: ServiceRead): Promise<void> {
    const { log } = this.#ports;
    const version = alert.labels.model_version;
    const sinceMs = driftBeganMs(alert);
    try {
      const serving = await this.#servingArtifact(stable);
      let rows: ReturnType<typeof windowOf> | undefined;
      for (let attempt = 0;; attempt++) {
        rows = windowOf(
          await this.#ports.records(this.#policy.lastRows),
          sinceMs,
          this.#policy.lastRows,
        );
        if (rows.samples.length >= this.#policy.minRows) break;
        if (this.#resolved.has(version) || attempt + 1 >= WAIT_FOR_ROWS.times) {
          this.#ports.outcome("skipped");
          log.warn(
            "not retraining {version}: {rows} rows recorded since the drift began at " +
              "{since}, fewer than {min}{why}",
            {
              version,
              rows: rows.samples.length,
              since: new Date(sinceMs).toISOString(),
              min: this.#policy.minRows,
              why: this.#resolved.has(version) ? ", and the alert resolved" : "",
            },
          );
          return;
        }
        log.info("retrain of {version} waits for rows: {rows} of {min} since {since}", {
          version,
          rows: rows.samples.length,
          min: this.#policy.minRows,
          since: new Date(sinceMs).toISOString(),
        });
        await this.#ports.sleep(WAIT_FOR_ROWS.everyMs, this.#ports.signal);
        if (this.#ports.signal?.aborted) return;
      }
      const result = await retrain(rows.samples, {
        holdout: this.#policy.holdout,
        serving,
      });
      const text = serializeModelArtifact(result.candidate);
      // The check the model service makes at load: a candidate that fails it never starts.
      const model = await parseModelArtifact(JSON.parse(text));
      const said = await startRollout(this.#ports.docker, { model, text }, this.#ports.stack, {
        nowMs: (this.#ports.now ?? Date.now)(),
        origin: "drift",
      });
      this.#ports.outcome("started");
      log.warn(
        "retrained on drift of {version}: {summary}; {said}",
        { version, summary: summaryOf(result), said, candidate: model.version },
      );
    } catch (error) {
      this.#ports.outcome("failed");
      log.error("retrain on drift of {version} failed: {error}", {
        version,
        error: errorText(error),
      });
    }
  }

  /** The artifact `stable` serves, from its Swarm config. */
  async #servingArtifact(stable: ServiceRead): Promise<ModelArtifact> {
    const mounted = mountedModelConfig(stable.Spec.TaskTemplate.ContainerSpec.Configs ?? []);
    if (!mounted) throw new Error(`${stable.Spec.Name} mounts no model config`);
    const config = await this.#ports.docker.call<{ Spec: { Data: string } }>(
      "GET",
      `/configs/${mounted.ConfigID}`,
    );
    return await parseModelArtifact(JSON.parse(configText(config!.Spec.Data)));
  }
}

/** One line on a retrain: rows, and both models' MAE on the same held-out rows. */
export function summaryOf(result: Retrained): string {
  const mae = (scores: { mae: number }) => scores.mae.toFixed(2);
  return `${result.rows.train} training rows, ${result.rows.heldOut} held out; held-out MAE ` +
    `${mae(result.heldOut.candidate)} for ${result.candidate.version} (training MAE ` +
    `${mae(result.candidate.training)}), ${mae(result.heldOut.serving)} for the serving model`;
}
