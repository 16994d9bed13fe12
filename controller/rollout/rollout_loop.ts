/**
 * The rollout loop: on each tick, read `<stack>_model` (its rollout label and its model config),
 * the candidate's service and the candidate's paired errors from Prometheus, plan the one step
 * (`plan.ts`), and take it:
 *
 * - **promote**: one update of the stable service, made from the spec just read, that mounts the
 *   candidate's config where the stable one's was and records the phase `promoted`. The service's
 *   own update settings (start-first, rollback on failure) roll it out.
 * - **end** (rejected, aborted): one update that records the phase, then the candidate's removal.
 * - **remove-candidate**: a decided rollout whose candidate still runs (a controller killed
 *   between the two steps above).
 *
 * Every decision (promote, reject, abort) is logged with its reason, statistic and pair count,
 * counted (`ml_rollout_decisions_total`) and handed to `record` (the dashboard's history). A
 * hold is logged when its reason changes. Nothing the loop needs survives only in its memory:
 * the label does, so a restarted controller plans the same step again.
 *
 * Its policy is the `ml.rollout.*` labels on the stable service (`rollout_policy.ts`), read at
 * every look; a bad one is named in the log and nothing is done. A rollout starts when
 * `deno task rollout start` (ops/rollout.ts) puts a candidate beside `<stack>_model` and a
 * `shadowing` rollout on its label.
 *
 * @module
 */
import { type SwarmService, UPDATING_STATES } from "../docker_api.ts";
import { readScaleState } from "../labels.ts";
import type { PrometheusPort } from "../prometheus.ts";
import type { LoopLog } from "../autoscale_loop.ts";
import type { ControlLoop } from "../loops.ts";
import { PAIRED_ERROR_MOMENTS, type PairedErrors } from "../../stack/paired_errors.ts";
import {
  candidateService,
  MODEL_TARGET,
  modelService,
  mountedModelConfig,
  SHADOW_VERSION_LABEL,
  versionOfConfig,
} from "../../stack/model_service.ts";
import type { Decision } from "./decision.ts";
import { planRollout, readRollout, type Rollout, ROLLOUT_LABEL, rolloutLabel } from "./plan.ts";
import { parseRolloutPolicy } from "./rollout_policy.ts";

/** The loop's name: its hold label is `ml.hold.rollout`, which the autoscaler respects. */
export const ROLLOUT = "rollout";

/** The Docker calls the rollout makes. */
export interface RolloutSwarm {
  services(): Promise<SwarmService[]>;
  /** Sends `spec` as `service`'s spec, at the version it was read (Swarm refuses a stale one). */
  updateSpec(service: SwarmService, spec: Record<string, unknown>): Promise<void>;
  /** Removes the service named `name`. */
  removeService(name: string): Promise<void>;
}

/** One decision, for the decision log and the dashboard. */
export interface RolloutDecision {
  readonly atMs: number;
  readonly candidate: string;
  readonly stable: string;
  readonly phase: Rollout["phase"];
  readonly reason: string;
  readonly pairs: number;
  readonly decision?: Decision;
}

/** One look at a shadowing candidate's pairs, for the dashboard: both MAEs and the interval. */
export interface RolloutLook {
  readonly atMs: number;
  readonly candidate: string;
  readonly stable: string;
  readonly pairs: number;
  readonly maeCandidate: number;
  readonly maeStable: number;
  /** Bounds of the tested contrast's mean: promote below 0, reject above; null before min-pairs. */
  readonly interval: { readonly lower: number; readonly upper: number } | null;
}

/** Ports and settings of {@link RolloutLoop}. */
export interface RolloutOptions {
  readonly stack: string;
  readonly swarm: RolloutSwarm;
  readonly prometheus: PrometheusPort;
  readonly log: LoopLog;
  /** How often the loop reads the Swarm; it decides at the policy's `look-seconds` at most. */
  readonly intervalMs: number;
  /** `ml_rollout_decisions_total{phase}`. */
  readonly decisions: { inc(labels: { phase: string }): void };
  readonly record?: (decision: RolloutDecision) => void;
  /** Called at every look that has a statistic (two pairs or more). */
  readonly look?: (look: RolloutLook) => void;
}

/** A config reference of a service spec. */
interface ConfigRef {
  File?: { Name: string };
  ConfigID: string;
  ConfigName: string;
}

function configsOf(spec: Readonly<Record<string, unknown>>): ConfigRef[] {
  const template = spec.TaskTemplate as { ContainerSpec?: { Configs?: ConfigRef[] } } | undefined;
  return template?.ContainerSpec?.Configs ?? [];
}

/** The config `spec` mounts at MODEL_TARGET, if any. */
export function mountedModel(spec: Readonly<Record<string, unknown>>): ConfigRef | undefined {
  return mountedModelConfig(configsOf(spec));
}

/** `service`'s spec with `rollout` on its label. */
export function labelledSpec(service: SwarmService, rollout: Rollout): Record<string, unknown> {
  const spec = structuredClone(service.spec) as Record<string, unknown>;
  spec.Labels = { ...service.labels, [ROLLOUT_LABEL]: rolloutLabel(rollout) };
  return spec;
}

/**
 * The promotion, as one spec: `stable`'s with the candidate's model config mounted where the
 * stable one was, and `rollout` (phase promoted) on the label. Everything else (image, replicas,
 * update order, the autoscaler's labels) stays as read.
 */
export function promotedSpec(
  stable: SwarmService,
  candidate: SwarmService,
  rollout: Rollout,
): Record<string, unknown> {
  const wanted = mountedModel(candidate.spec);
  if (!wanted) throw new Error(`Cannot promote: ${candidate.name} mounts no model config`);
  const spec = labelledSpec(stable, rollout);
  const container = (spec.TaskTemplate as { ContainerSpec: { Configs?: ConfigRef[] } })
    .ContainerSpec;
  const mounted = mountedModel(spec);
  container.Configs = configsOf(spec).map((config) =>
    config === mounted
      ? { ...config, ConfigID: wanted.ConfigID, ConfigName: wanted.ConfigName }
      : config
  );
  return spec;
}

/** The PromQL of a candidate's paired errors (metric's `ml_metric_shadow_paired_errors`). */
export function pairedErrorsQuery(candidateVersion: string): string {
  return `ml_metric_shadow_paired_errors{candidate_version="${candidateVersion}"}`;
}

/** The paired errors in Prometheus's answer; undefined unless all six moments are there once. */
export function pairedErrorsFrom(
  samples: readonly {
    metric: Readonly<Record<string, string>>;
    value: readonly [number, string];
  }[],
): PairedErrors | undefined {
  const values: Partial<Record<keyof PairedErrors, number>> = {};
  for (const [moment, field] of PAIRED_ERROR_MOMENTS) {
    const found = samples.filter((sample) => sample.metric.moment === moment);
    // Two metric replicas (or a stale series beside a fresh one) cannot be told apart: no read.
    if (found.length !== 1) return undefined;
    const value = Number(found[0].value[1]);
    if (!Number.isFinite(value)) return undefined;
    values[field] = value;
  }
  return values as PairedErrors;
}

/** The rollout controller, as one of the controller's loops. */
export class RolloutLoop implements ControlLoop {
  readonly name = ROLLOUT;
  readonly intervalMs: number;
  readonly #options: RolloutOptions;
  /** The last hold or problem logged, so that each is logged once until it changes. */
  #lastSaid = "";
  /** When the rollout's pairs were last looked at (the policy's look-seconds apart). */
  #lastLookMs = -Infinity;

  constructor(options: RolloutOptions) {
    this.#options = options;
    this.intervalMs = options.intervalMs;
  }

  get #stableName(): string {
    return modelService(this.#options.stack);
  }

  get #candidateName(): string {
    return candidateService(this.#options.stack);
  }

  async tick(nowMs: number): Promise<void> {
    const { swarm, prometheus, log } = this.#options;
    const services = await swarm.services();
    const stable = services.find((service) => service.name === this.#stableName);
    if (!stable) return;
    const candidate = services.find((service) => service.name === this.#candidateName);
    const read = readRollout(stable.labels);
    if (!read.ok) return this.#sayOnce("warn", "not rolling out: {why}", read.reason);
    const mounted = mountedModel(stable.spec);
    const stableVersion = mounted && versionOfConfig(mounted.ConfigName);
    if (!stableVersion) {
      return this.#sayOnce(
        "warn",
        "not rolling out: {why}",
        `${stable.name} mounts no ml_model_<version> config at ${MODEL_TARGET}`,
      );
    }
    // The policy is ml.rollout.* on the stable service, read at each look like the autoscaler's.
    const policyLabels = { ...stable.labels };
    delete policyLabels[ROLLOUT_LABEL];
    let policy;
    try {
      policy = parseRolloutPolicy(policyLabels);
    } catch (error) {
      return this.#sayOnce("warn", "not rolling out: {why}", (error as Error).message);
    }
    const rollout = read.rollout;
    if (rollout?.phase === "shadowing" && candidate) {
      if (nowMs - this.#lastLookMs < policy.lookSeconds * 1000) return;
      this.#lastLookMs = nowMs;
    }
    let moments: PairedErrors | undefined;
    if (rollout?.phase === "shadowing" && candidate) {
      moments = await prometheus.query(pairedErrorsQuery(rollout.candidate))
        .then(pairedErrorsFrom, () => undefined);
    }
    const step = planRollout({
      nowMs,
      rollout,
      stableVersion,
      candidateVersion: candidate?.labels[SHADOW_VERSION_LABEL],
      moments,
      lastScaleMs: readScaleState(stable.labels).lastChangeMs,
      ...(stable.updateState === "rollback_completed" && stable.updateStartedAtMs !== undefined
        ? {
          rolledBack: {
            startedAtMs: stable.updateStartedAtMs,
            message: stable.updateMessage ?? "no message",
          },
        }
        : {}),
    }, policy);
    const decision = "decision" in step ? step.decision : undefined;
    if (rollout && decision?.statistic) {
      this.#options.look?.({
        atMs: nowMs,
        candidate: rollout.candidate,
        stable: rollout.stable,
        pairs: decision.pairs,
        maeCandidate: decision.statistic.maeCandidate,
        maeStable: decision.statistic.maeStable,
        interval: decision.interval,
      });
    }
    switch (step.kind) {
      case "idle":
        return;
      case "hold":
        // Named: a log read later, or two rollouts in a row, must tell whose hold it was.
        return this.#sayOnce("info", "holding the rollout of {candidate}: {why}", step.why, {
          candidate: rollout!.candidate,
        });
      case "promote": {
        if (UPDATING_STATES.includes(stable.updateState ?? "")) {
          return this.#sayOnce(
            "info",
            "holding the rollout of {candidate}: {why}",
            `promote, once Swarm's ${stable.updateState} update of ${stable.name} has ended`,
            { candidate: step.rollout.candidate },
          );
        }
        await swarm.updateSpec(stable, promotedSpec(stable, candidate!, step.rollout));
        this.#decided(step.rollout, nowMs, step.decision);
        log.info("promoted {candidate} over {stable}: {reason} ({pairs} pairs)", {
          ...this.#fields(step.rollout, step.decision),
        });
        return;
      }
      case "end": {
        await swarm.updateSpec(stable, labelledSpec(stable, step.rollout));
        this.#decided(step.rollout, nowMs, step.decision);
        log.warn(`${step.rollout.phase} {candidate} against {stable}: {reason} ({pairs} pairs)`, {
          ...this.#fields(step.rollout, step.decision),
        });
        if (candidate) await this.#remove(step.rollout);
        return;
      }
      case "remove-candidate":
        await this.#remove(rollout!);
        return;
    }
  }

  async #remove(rollout: Rollout): Promise<void> {
    await this.#options.swarm.removeService(this.#candidateName);
    this.#options.log.info("removed {service}: the rollout of {candidate} is {phase}", {
      service: this.#candidateName,
      candidate: rollout.candidate,
      phase: rollout.phase,
    });
  }

  #decided(rollout: Rollout, nowMs: number, decision?: Decision): void {
    this.#options.decisions.inc({ phase: rollout.phase });
    this.#options.record?.({
      atMs: nowMs,
      candidate: rollout.candidate,
      stable: rollout.stable,
      phase: rollout.phase,
      reason: rollout.reason ?? "",
      pairs: rollout.pairs ?? 0,
      ...(decision ? { decision } : {}),
    });
    this.#lastSaid = "";
  }

  #fields(rollout: Rollout, decision?: Decision): Record<string, unknown> {
    return {
      candidate: rollout.candidate,
      stable: rollout.stable,
      phase: rollout.phase,
      reason: rollout.reason,
      pairs: rollout.pairs ?? 0,
      statistic: decision?.statistic ?? null,
      interval: decision?.interval ?? null,
    };
  }

  #sayOnce(
    level: "info" | "warn",
    message: string,
    why: string,
    fields: Record<string, unknown> = {},
  ): void {
    if (why === this.#lastSaid) return;
    this.#lastSaid = why;
    this.#options.log[level](message, { ...fields, why });
  }
}
