/**
 * The rollout loop's pure core: from what the Swarm, metric and the autoscaler say now, the one
 * step to take. The loop around it (next to build) reads, calls {@link planRollout}, and acts.
 *
 * ## Where the state lives
 *
 * In one label on the stable service, `ml.rollout.state` ({@link ROLLOUT_LABEL}): the candidate,
 * the stable version it is measured against, the phase, when it started and how it ended. Never
 * in the controller's memory, so a controller killed at any point plans the same step again on
 * restart:
 *
 * - **Promotion is one service update** that swaps `ml_model`'s model config to the candidate's
 *   and sets the phase to `promoted` in the same spec. Docker applies a spec whole and refuses an
 *   update made from a stale one (the spec's version index), so either both happened or neither:
 *   never a half-swapped service, never two promotions, and an autoscaler update computed before
 *   it cannot undo it. The candidate's service is removed after, by the next look.
 * - **Rejection and abort** record the phase first, then remove the candidate: a controller
 *   killed in between finds a decided rollout with its candidate still running, and removes it.
 * - A rollout whose candidate vanished, runs another version, or whose stable version changed
 *   under it (someone promoted by hand) is aborted: its pairs no longer measure what it started.
 *
 * ## With the autoscaler
 *
 * The two loops touch `ml_model` through different fields (replicas; config and this label) and
 * each update is made from the spec just read, so neither undoes the other. A promotion still
 * waits while the replica count moves ({@link SCALE_SETTLE_MS} after the autoscaler's last
 * change): a start-first update during a scale-up would replace replicas that have not started.
 *
 * @module
 */
import type { PairedErrors } from "../../stack/paired_errors.ts";
import { decide, type Decision } from "./decision.ts";
import type { RolloutPolicy } from "./rollout_policy.ts";

/** The label on the stable service that holds the rollout's state. */
export const ROLLOUT_LABEL = "ml.rollout.state";

/** How long after the autoscaler's last change a promotion waits. */
export const SCALE_SETTLE_MS = 30_000;

/** Where a rollout stands. */
export type Phase = "shadowing" | "promoted" | "rejected" | "aborted";

const PHASES: readonly Phase[] = ["shadowing", "promoted", "rejected", "aborted"];

/** A rollout, as its label keeps it. */
export interface Rollout {
  /** The candidate's model version. */
  readonly candidate: string;
  /** The version serving when it started: what the candidate is measured against. */
  readonly stable: string;
  readonly phase: Phase;
  readonly startedAtMs: number;
  /** When and why it ended; absent while shadowing. */
  readonly decidedAtMs?: number;
  readonly reason?: string;
  /** Pairs behind the decision. */
  readonly pairs?: number;
  /** Who started it: an operator (`deno task rollout start`), or the controller on drift. */
  readonly origin?: "operator" | "drift";
}

/** A rollout's label value: compact JSON. */
export function rolloutLabel(rollout: Rollout): string {
  return JSON.stringify(rollout);
}

/**
 * The rollout in `labels`, none when the label is absent, or why it cannot be read (a hand-edited
 * label: the loop then acts on nothing and says so).
 */
export function readRollout(
  labels: Readonly<Record<string, string>>,
): { ok: true; rollout?: Rollout } | { ok: false; reason: string } {
  const raw = labels[ROLLOUT_LABEL];
  if (raw === undefined) return { ok: true };
  let value: Partial<Record<keyof Rollout, unknown>>;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, reason: `${ROLLOUT_LABEL} is not JSON: ${raw.slice(0, 80)}` };
  }
  const text = (v: unknown) => typeof v === "string" && v !== "";
  const time = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (
    typeof value !== "object" || value === null || !text(value.candidate) ||
    !text(value.stable) || !PHASES.includes(value.phase as Phase) || !time(value.startedAtMs) ||
    (value.origin !== undefined && value.origin !== "operator" && value.origin !== "drift")
  ) {
    return { ok: false, reason: `${ROLLOUT_LABEL} is not a rollout: ${raw.slice(0, 80)}` };
  }
  return { ok: true, rollout: value as Rollout };
}

/** What the loop sees at one look. */
export interface Observation {
  readonly nowMs: number;
  /** The rollout on the stable service's label (`readRollout`), if any. */
  readonly rollout?: Rollout;
  /** The model version `ml_model` serves (its config). */
  readonly stableVersion: string;
  /** The candidate service's version, undefined when there is no such service. */
  readonly candidateVersion?: string;
  /** The candidate's paired errors from metric; undefined when they cannot be read now. */
  readonly moments?: PairedErrors;
  /** The autoscaler's last change of `ml_model` (its state label), if any. */
  readonly lastScaleMs?: number;
  /**
   * Swarm rolled back an update of `ml_model` that started at this time (ms), with its message.
   * A rollback restores the whole previous spec, the rollout label included: a promotion whose
   * replicas could not start comes back as `shadowing`, and must end, not be tried again.
   */
  readonly rolledBack?: { readonly startedAtMs: number; readonly message: string };
}

/** The one step to take. */
export type Step =
  /** Nothing to do; `why` for the log at debug. */
  | { readonly kind: "idle"; readonly why: string }
  /** Shadowing, no verdict yet (or waiting for the replica count to settle). */
  | { readonly kind: "hold"; readonly why: string; readonly decision?: Decision }
  /** One update of ml_model: the candidate's config and `rollout` (phase promoted). */
  | { readonly kind: "promote"; readonly rollout: Rollout; readonly decision: Decision }
  /** Record `rollout` (rejected or aborted) on the label; the candidate goes next. */
  | { readonly kind: "end"; readonly rollout: Rollout; readonly decision?: Decision }
  /** Remove the candidate's service: its rollout is decided. */
  | { readonly kind: "remove-candidate"; readonly why: string };

/** The step for what `observed` shows; see the module documentation. Pure. */
export function planRollout(observed: Observation, policy: RolloutPolicy): Step {
  const { rollout, nowMs } = observed;
  if (!rollout) {
    return {
      kind: "idle",
      why: observed.candidateVersion === undefined
        ? "no rollout"
        : `a candidate (${observed.candidateVersion}) shadows without a rollout: left alone`,
    };
  }
  if (rollout.phase !== "shadowing") {
    if (observed.candidateVersion !== undefined) {
      return {
        kind: "remove-candidate",
        why: `the rollout of ${rollout.candidate} is ${rollout.phase}`,
      };
    }
    return { kind: "idle", why: `the rollout of ${rollout.candidate} is ${rollout.phase}` };
  }
  const end = (phase: "rejected" | "aborted", reason: string, decision?: Decision): Step => ({
    kind: "end",
    rollout: { ...rollout, phase, decidedAtMs: nowMs, reason, pairs: decision?.pairs ?? 0 },
    ...(decision ? { decision } : {}),
  });
  if (observed.candidateVersion === undefined) {
    return end("aborted", "the candidate's service is gone");
  }
  if (observed.candidateVersion !== rollout.candidate) {
    return end("aborted", `the candidate's service runs ${observed.candidateVersion} instead`);
  }
  if (observed.rolledBack && observed.rolledBack.startedAtMs >= rollout.startedAtMs) {
    return end(
      "aborted",
      `Swarm rolled back the promotion of ${rollout.candidate}: ${observed.rolledBack.message}`,
    );
  }
  if (observed.stableVersion !== rollout.stable) {
    return end(
      "aborted",
      `ml_model serves ${observed.stableVersion}, not ${rollout.stable} it was measured against`,
    );
  }
  const elapsedMs = nowMs - rollout.startedAtMs;
  if (!observed.moments) {
    if (elapsedMs >= policy.timeLimitSeconds * 1000) {
      return end(
        "aborted",
        `no pairs readable within the time limit of ${policy.timeLimitSeconds} s`,
      );
    }
    return { kind: "hold", why: "the candidate's pairs cannot be read now" };
  }
  const decision = decide(observed.moments, policy, elapsedMs);
  switch (decision.verdict) {
    case "hold":
      return { kind: "hold", why: decision.reason, decision };
    case "reject":
      return end("rejected", decision.reason, decision);
    case "abort":
      return end("aborted", decision.reason, decision);
    case "promote": {
      const settling = observed.lastScaleMs !== undefined &&
        nowMs - observed.lastScaleMs < SCALE_SETTLE_MS;
      if (settling) {
        return {
          kind: "hold",
          why: `promote, once the replica count has settled (${SCALE_SETTLE_MS / 1000} s ` +
            `after the autoscaler's last change)`,
          decision,
        };
      }
      return {
        kind: "promote",
        rollout: {
          ...rollout,
          phase: "promoted",
          decidedAtMs: nowMs,
          reason: decision.reason,
          pairs: decision.pairs,
        },
        decision,
      };
    }
  }
}
