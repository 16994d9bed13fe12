/**
 * `deno task promote <artifact> [--stack ml]`: serves a model artifact on the Swarm, with no new
 * image. It checks the artifact as the model service will at load (a corrupt or foreign one is
 * refused here, before the Swarm is touched), makes it the Swarm config `ml_model_<version>`
 * (kept if it exists: names are content-versioned), swaps `<stack>_model`'s config for it with
 * the service's own start-first update, and waits for the update to end. Exit 0 when every
 * replica serves the new version; 1 when Swarm rolled the update back (a replica could not
 * start), with the failed task's error; 2 for bad arguments.
 *
 * This is the last step of a rollout, alone: for a model already trusted. Proving a candidate on
 * live traffic first is issue 19's shadow rollout, which will end with this same swap.
 *
 * Runs the `docker` CLI, so it follows `DOCKER_HOST` and the current context like any docker
 * command, and needs a manager.
 *
 * @module
 */
import { loadModelArtifact } from "../model/artifact.ts";
import { type CommandResult, runCommand } from "./kit/command.ts";
import { MODEL_TARGET, modelConfigName } from "../stack/model_service.ts";

export { MODEL_TARGET, modelConfigName } from "../stack/model_service.ts";

/** Runs `docker args`, with `stdin` as its standard input when given. */
export function docker(args: readonly string[], stdin?: string): Promise<CommandResult> {
  return runCommand("docker", args, { stdin });
}

async function must(args: readonly string[], stdin?: string): Promise<string> {
  const result = await docker(args, stdin);
  if (!result.ok) {
    throw new Error(`'docker ${args.join(" ")}' failed: ${result.stderr.trim() || result.stdout}`);
  }
  return result.stdout;
}

/** The model service's spec as far as a promotion cares. */
export interface ModelSpec {
  readonly image: string;
  /** The config mounted at {@link MODEL_TARGET}; "" when there is none. */
  readonly config: string;
  /** How its last update ended or stands (`completed`, `rollback_completed`, ...); "" if none. */
  readonly update: string;
  /** Why, in Swarm's words, for a paused or rolled-back update. */
  readonly message: string;
  /** When that update started: tells the update just asked for from the one before. */
  readonly updateStartedAt: string;
}

/** Reads {@link ModelSpec} from the JSON `docker service inspect <service>` prints. */
export function parseModelSpec(inspectJson: string): ModelSpec {
  const [service] = JSON.parse(inspectJson) as {
    Spec: {
      TaskTemplate: {
        ContainerSpec: {
          Image: string;
          Configs?: { ConfigName: string; File?: { Name: string } }[];
        };
      };
    };
    UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
  }[];
  const container = service.Spec.TaskTemplate.ContainerSpec;
  return {
    image: container.Image,
    config: container.Configs?.find((c) => c.File?.Name === MODEL_TARGET)?.ConfigName ?? "",
    update: service.UpdateStatus?.State ?? "",
    message: service.UpdateStatus?.Message ?? "",
    updateStartedAt: service.UpdateStatus?.StartedAt ?? "",
  };
}

/** Whether an update in state `state` is over: neither running nor rolling back. */
export function updateEnded(state: string): boolean {
  return !["updating", "rollback_started"].includes(state);
}

/** The `docker service update` arguments that swap `service`'s model config from `from` to `to`. */
export function swapArgs(service: string, from: string, to: string): string[] {
  return [
    "service",
    "update",
    "--detach",
    ...(from === "" ? [] : ["--config-rm", from]),
    "--config-add",
    `source=${to},target=${MODEL_TARGET},uid=1000,gid=1000,mode=0400`,
    service,
  ];
}

/** The spec of `service` now. */
export async function modelSpec(service: string): Promise<ModelSpec> {
  return parseModelSpec(await must(["service", "inspect", service]));
}

/** Makes `name` a config holding `text`, unless it exists (a content-versioned name: same text). */
export async function ensureConfig(name: string, text: string): Promise<"created" | "kept"> {
  if ((await docker(["config", "inspect", name])).ok) return "kept";
  await must(["config", "create", name, "-"], text);
  return "created";
}

/**
 * Swaps `service` to the config `to` and waits until the update ends (at most `timeoutMs`);
 * returns the spec then.
 */
export async function swapModelConfig(
  service: string,
  to: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<ModelSpec> {
  const { timeoutMs = 600_000, pollMs = 1_000 } = options;
  const before = await modelSpec(service);
  await must(swapArgs(service, before.config, to));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spec = await modelSpec(service);
    // Right after the call the status may still be the previous update's: wait for this one's.
    const ours = spec.update !== "" && spec.updateStartedAt !== before.updateStartedAt;
    if (ours && updateEnded(spec.update)) return spec;
    if (Date.now() > deadline) {
      throw new Error(`${service}'s update did not end within ${timeoutMs} ms: ${spec.update}`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Why the last task of `service` that failed did: Swarm's error, one line. */
async function lastFailure(service: string): Promise<string> {
  const out = await docker([
    "service",
    "ps",
    service,
    "--no-trunc",
    "--filter",
    "desired-state=shutdown",
    "--format",
    "{{.CurrentState}}: {{.Error}}",
  ]);
  return out.stdout.split("\n").find((line) => /^(Failed|Rejected)/.test(line)) ?? "";
}

/** Parses the arguments: the artifact's path and the stack's name. */
export function parseArgs(
  args: readonly string[],
): { ok: true; artifact: string; stack: string } | { ok: false; error: string } {
  const rest = [...args];
  let stack = "ml";
  const flag = rest.indexOf("--stack");
  if (flag !== -1) {
    const value = rest[flag + 1];
    if (value === undefined || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) {
      return { ok: false, error: `'--stack' must name a stack: current value is '${value ?? ""}'` };
    }
    stack = value;
    rest.splice(flag, 2);
  }
  if (rest.length !== 1 || rest[0].startsWith("-")) {
    return {
      ok: false,
      error: `the arguments must be one artifact (and --stack NAME): current arguments are '${
        args.join(" ")
      }'`,
    };
  }
  return { ok: true, artifact: rest[0], stack };
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const parsed = parseArgs(args);
  if (!parsed.ok) {
    console.error(`Cannot promote as ${parsed.error}`);
    return 2;
  }
  const service = `${parsed.stack}_model`;
  try {
    const artifact = await loadModelArtifact(parsed.artifact);
    const name = modelConfigName(artifact.version);
    const before = await modelSpec(service);
    if (before.config === name) {
      console.error(`${service} already serves ${artifact.version}`);
      return 0;
    }
    const made = await ensureConfig(name, await Deno.readTextFile(parsed.artifact));
    console.error(
      `${made === "created" ? "Created" : "Found"} config ${name}; updating ${service} ` +
        `from ${before.config || "its image's model"} (start-first, rolled back on failure)`,
    );
    const after = await swapModelConfig(service, name);
    if (after.config === name && after.update === "completed") {
      console.error(`${service} serves ${artifact.version} on every replica, image ${after.image}`);
      return 0;
    }
    console.error(
      `${service} did not take ${artifact.version}: the update ended '${after.update}' ` +
        `(${after.message}); it serves ${after.config || "its image's model"}. ` +
        `Last failed task: ${await lastFailure(service) || "none found"}`,
    );
    return 1;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
