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
  readRollout,
  type Rollout,
  ROLLOUT_LABEL,
  rolloutLabel,
} from "../controller/rollout/plan.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import {
  MODEL_TARGET,
  modelService,
  mountedModelConfig,
  versionOfConfig,
} from "../stack/model_service.ts";
import {
  DockerSocket,
  parseStackCommand,
  runDockerCommand,
  type ServiceSpec,
  shadowStatus,
  startShadow,
  stopShadow,
} from "./shadow.ts";

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

/** A service as the API returns it: what an update needs. */
interface ServiceRead {
  ID: string;
  Version: { Index: number };
  Spec: ServiceSpec;
}

/** The version `spec` serves: the `ml_model_<version>` config mounted at MODEL_TARGET. */
export function servedVersion(spec: ServiceSpec): string {
  const mounted = mountedModelConfig(spec.TaskTemplate.ContainerSpec.Configs ?? []);
  const version = mounted && versionOfConfig(mounted.ConfigName);
  if (!version) {
    throw new Error(
      `Cannot tell which version ${spec.Name} serves as it mounts no ml_model_<version> config ` +
        `at ${MODEL_TARGET}: deploy the stack from docker-stack.yml`,
    );
  }
  return version;
}

async function readStable(docker: DockerSocket, stack: string): Promise<ServiceRead> {
  const stable = await docker.call<ServiceRead>("GET", `/services/${modelService(stack)}`, {
    allow404: true,
  });
  if (!stable) throw new Error(`Cannot find ${modelService(stack)}: is the stack deployed?`);
  return stable;
}

/** Puts `rollout` on the label of the service read as `read`, at the version it was read. */
async function setRollout(docker: DockerSocket, read: ServiceRead, rollout: Rollout) {
  const spec = structuredClone(read.Spec);
  spec.Labels = { ...spec.Labels, [ROLLOUT_LABEL]: rolloutLabel(rollout) };
  await docker.call("POST", `/services/${read.ID}/update?version=${read.Version.Index}`, {
    body: spec,
  });
}

/** The rollout on the stable service's label; throws on a label that is not one. */
function rolloutOf(read: ServiceRead): Rollout | undefined {
  const found = readRollout(read.Spec.Labels ?? {});
  if (!found.ok) throw new Error(`Cannot read ${read.Spec.Name}'s rollout: ${found.reason}`);
  return found.rollout;
}

/** Starts the rollout of `artifact`; returns what it said. */
export async function startRollout(
  docker: DockerSocket,
  artifact: string,
  stack: string,
  nowMs = Date.now(),
): Promise<string> {
  const before = await readStable(docker, stack);
  const running = rolloutOf(before);
  if (running?.phase === "shadowing") {
    throw new Error(
      `Cannot start a rollout as ${running.candidate} is being rolled out already: ` +
        `deno task rollout abort, then start again`,
    );
  }
  const stable = servedVersion(before.Spec);
  const { version: candidate } = await loadModelArtifact(artifact);
  if (candidate === stable) {
    throw new Error(`Cannot roll out ${candidate} as ${modelService(stack)} serves it already`);
  }
  const started = await startShadow(docker, artifact, stack);
  // Read again: the update must name the spec's version as it is now.
  await setRollout(docker, await readStable(docker, stack), {
    candidate,
    stable,
    phase: "shadowing",
    startedAtMs: nowMs,
  });
  return `${started}; rollout of ${candidate} against ${stable} started: the controller ` +
    `promotes or removes it (deno task rollout status)`;
}

/** What `status` prints: the rollout on the label, and the shadow. */
export async function rolloutStatus(docker: DockerSocket, stack: string): Promise<string> {
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
  docker: DockerSocket,
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
