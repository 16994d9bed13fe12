/**
 * `deno task rollout start <artifact> [--stack ml]`, `rollout status`, `rollout abort`: hands a
 * candidate model to the controller's rollout loop (`controller/rollout/rollout_loop.ts`), which
 * promotes it or removes it on the measured quality of its predictions.
 *
 * `start` runs the candidate in shadow (`deno task shadow start`: its config, its service) and
 * then puts a `shadowing` rollout on `<stack>_model`'s `ml.rollout.state` label, measured against
 * the version `<stack>_model` serves now. In that order: the loop leaves a candidate without a
 * rollout alone, but aborts a rollout without a candidate. The label is set by a service update
 * made from the spec just read, as the controller's are, so neither overwrites the other; a label
 * change restarts no task. `abort` records the rollout as aborted by an operator and removes the
 * candidate at once (the loop would on its next look). `status` prints the label and the shadow.
 *
 * Talks to the Docker Engine API on its unix socket, as `shadow` does; needs a manager. Exit 0 on
 * success, 1 when Docker refused or the state forbids it, 2 for bad arguments.
 *
 * @module
 */
import {
  type DockerCalls,
  readStable,
  rolloutOf,
  servedVersion,
  setRollout,
  startRollout as startRolloutOf,
} from "../controller/rollout/start.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import { parseStackCommand, runDockerCommand, shadowStatus, stopShadow } from "./shadow.ts";

export { servedVersion };

const USAGE = "usage: deno task rollout start <artifact.json> [--stack ml] | status | abort";

/** Parsed command line. */
export type RolloutCommand =
  | { command: "start"; artifact: string; stack: string }
  | { command: "status" | "abort"; stack: string };

/** Parses the arguments; throws a RangeError with the usage for anything else. */
export function parseRolloutArgs(args: readonly string[]): RolloutCommand {
  const { command, operand, stack } = parseStackCommand(
    args,
    { withOperand: ["start"], bare: ["status", "abort"] },
    USAGE,
  );
  return command === "start"
    ? { command, artifact: operand!, stack }
    : { command: command as "status" | "abort", stack };
}

/** Starts the rollout of the artifact at `path`, checked as the model service will at load. */
export async function startRollout(
  docker: DockerCalls,
  path: string,
  stack: string,
  nowMs = Date.now(),
): Promise<string> {
  const model = await loadModelArtifact(path);
  return await startRolloutOf(docker, { model, text: await Deno.readTextFile(path) }, stack, {
    nowMs,
    origin: "operator",
  });
}

/** What `status` prints: the rollout on the label, and the shadow. */
export async function rolloutStatus(docker: DockerCalls, stack: string): Promise<string> {
  const rollout = rolloutOf(await readStable(docker, stack));
  const said = rollout
    ? `rollout of ${rollout.candidate} against ${rollout.stable}: ${rollout.phase}` +
      (rollout.reason ? ` (${rollout.reason}; ${rollout.pairs ?? 0} pairs)` : "") +
      `, started ${new Date(rollout.startedAtMs).toISOString()}`
    : "no rollout";
  return `${said}\n${await shadowStatus(docker, stack)}`;
}

/** Aborts the rollout under way: recorded first, then the candidate removed. */
export async function abortRollout(
  docker: DockerCalls,
  stack: string,
  nowMs = Date.now(),
): Promise<string> {
  const read = await readStable(docker, stack);
  const rollout = rolloutOf(read);
  if (rollout?.phase !== "shadowing") {
    return `no rollout under way (${rollout ? rollout.phase : "none"}); ${await stopShadow(
      docker,
      stack,
    )}`;
  }
  await setRollout(docker, read, {
    ...rollout,
    phase: "aborted",
    decidedAtMs: nowMs,
    reason: "aborted by an operator",
    pairs: rollout.pairs ?? 0,
  });
  return `aborted the rollout of ${rollout.candidate}; ${await stopShadow(docker, stack)}`;
}

if (import.meta.main) {
  Deno.exit(
    await runDockerCommand(
      Deno.args,
      parseRolloutArgs,
      (docker, command) =>
        command.command === "start"
          ? startRollout(docker, command.artifact, command.stack)
          : command.command === "status"
          ? rolloutStatus(docker, command.stack)
          : abortRollout(docker, command.stack),
    ),
  );
}
