/**
 * What the rollout's tests share: a shadowing rollout and paired errors of a chosen size.
 *
 * @module
 */
import { addPair, NO_PAIRS, type PairedErrors } from "../../stack/paired_errors.ts";
import type { Rollout } from "./plan.ts";

/** When the test rollouts started. */
export const START = Date.UTC(2026, 11, 4);

/** Candidate v2 shadowing stable v1 since {@link START}. */
export const SHADOWING: Rollout = {
  candidate: "v2",
  stable: "v1",
  phase: "shadowing",
  startedAtMs: START,
};

/** `n` pairs whose errors alternate around the given MAEs (a spread, so there is a variance). */
export function pairs(n: number, maeCandidate: number, maeStable: number): PairedErrors {
  let state = NO_PAIRS;
  for (let i = 0; i < n; i++) {
    const wobble = i % 2 === 0 ? 0.8 : 1.2;
    state = addPair(state, maeCandidate * wobble, maeStable * wobble);
  }
  return state;
}
