/**
 * `deno task shadow start <artifact> [--stack ml]`, `shadow status`, `shadow stop`: runs a
 * candidate model in shadow on the Swarm, beside the stable `<stack>_model`, on the same image.
 *
 * `start` checks the artifact as the model service will at load, makes it the Swarm config
 * `ml_model_<version>` (kept if it exists), and creates `<stack>_model_candidate`: a copy of the
 * stable service's spec (image, user, secrets, limits, network) with `MODEL_ROLE=candidate`, the
 * candidate's config at MODEL_PATH, one replica, and neither the stable one's network alias nor
 * its `ml.autoscale.*` and `ml.rollout.*` labels, so the autoscaler never sizes it and nothing
 * takes it for the stable model. It keeps the stack's namespace label: `docker stack rm` removes it too. The
 * candidate then opens the copy of `features` and metric pairs its predictions apart
 * (`shadow_log.csv`, docs/operations.md, "A candidate in shadow"). `stop` removes the service:
 * Swarm stops its task, and the broker ends the copy with the candidate's consumer. `status` says
 * which version shadows since when, and its tasks by state.
 *
 * This starts and stops the shadow; deciding on it (promote or roll back) is the controller's.
 *
 * It talks to the Docker Engine API on `DOCKER_HOST` (`unix://` only) or /var/run/docker.sock,
 * and needs a manager. Exit 0 on success, 1 when Docker refused, 2 for bad arguments.
 *
 * @module
 */
import { loadModelArtifact } from "../model/artifact.ts";
import {
  candidateService,
  MODEL_TARGET,
  modelConfigName,
  mountedModelConfig,
  SHADOW_VERSION_LABEL,
} from "../stack/model_service.ts";

export { candidateService, SHADOW_VERSION_LABEL };

/** What a Swarm service spec holds, as far as a shadow cares; the rest is carried over as is. */
export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Env?: string[];
      Configs?: {
        File?: { Name: string; UID?: string; GID?: string; Mode?: number };
        ConfigID: string;
        ConfigName: string;
      }[];
      [key: string]: unknown;
    };
    Networks?: { Target: string; Aliases?: string[] }[];
    [key: string]: unknown;
  };
  Mode?: { Replicated?: { Replicas?: number } };
  [key: string]: unknown;
}

/**
 * The spec of the candidate service, from the stable one's: see the module documentation. Pure;
 * `config` is the candidate's Swarm config (its ID and name).
 */
export function candidateSpec(
  stable: ServiceSpec,
  candidate: { stack: string; version: string; configId: string; configName: string },
): ServiceSpec {
  const spec: ServiceSpec = structuredClone(stable);
  spec.Name = candidateService(candidate.stack);
  spec.Labels = Object.fromEntries(
    Object.entries(stable.Labels ?? {}).filter(([key]) =>
      !key.startsWith("ml.autoscale.") && !key.startsWith("ml.rollout.")
    ),
  );
  spec.Labels[SHADOW_VERSION_LABEL] = candidate.version;
  const container = spec.TaskTemplate.ContainerSpec;
  container.Env = [
    ...(container.Env ?? []).filter((entry) => !entry.startsWith("MODEL_ROLE=")),
    "MODEL_ROLE=candidate",
  ];
  const mounted = mountedModelConfig(container.Configs ?? []);
  if (!mounted) {
    throw new Error(
      `Cannot shadow ${stable.Name} as no config of it is mounted at ${MODEL_TARGET}: deploy ` +
        `the stack from docker-stack.yml, which mounts the model's`,
    );
  }
  container.Configs = (container.Configs ?? []).map((c) =>
    c === mounted ? { ...c, ConfigID: candidate.configId, ConfigName: candidate.configName } : c
  );
  // The network without the stable service's alias: nothing finds the candidate as `model`.
  spec.TaskTemplate.Networks = (spec.TaskTemplate.Networks ?? []).map(({ Target }) => ({
    Target,
    Aliases: ["model_candidate"],
  }));
  spec.Mode = { Replicated: { Replicas: 1 } };
  return spec;
}

/** Parsed command line. */
export type ShadowCommand =
  | { command: "start"; artifact: string; stack: string }
  | { command: "status" | "stop"; stack: string };

const USAGE = "usage: deno task shadow start <artifact.json> [--stack ml] | status | stop";

/**
 * Parses `<command> [operand] [--stack name]`: `withOperand` commands take one operand, `bare`
 * ones none. Throws a RangeError with `usage` for anything else. Shared by `shadow` and `rollout`.
 */
export function parseStackCommand(
  args: readonly string[],
  commands: { withOperand: readonly string[]; bare: readonly string[] },
  usage: string,
): { command: string; operand?: string; stack: string } {
  const rest = [...args];
  let stack = "ml";
  const at = rest.indexOf("--stack");
  if (at >= 0) {
    const name = rest[at + 1];
    if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
      throw new RangeError(`--stack needs a stack name: current value is ${name}. ${usage}`);
    }
    stack = name;
    rest.splice(at, 2);
  }
  const [command, ...operands] = rest;
  if (commands.withOperand.includes(command) && operands.length === 1) {
    return { command, operand: operands[0], stack };
  }
  if (commands.bare.includes(command) && operands.length === 0) return { command, stack };
  throw new RangeError(`Cannot understand '${args.join(" ")}'. ${usage}`);
}

/** Parses the arguments; throws a RangeError with the usage for anything else. */
export function parseShadowArgs(args: readonly string[]): ShadowCommand {
  const { command, operand, stack } = parseStackCommand(
    args,
    { withOperand: ["start"], bare: ["status", "stop"] },
    USAGE,
  );
  return command === "start"
    ? { command, artifact: operand!, stack }
    : { command: command as "status" | "stop", stack };
}

/** The host name of the API's URLs; `deno task shadow` may reach it and the socket, nothing else. */
export const API_HOST = "docker.invalid";

/** The Docker Engine API on its unix socket. */
export class DockerSocket {
  readonly #client: Deno.HttpClient;

  constructor(readonly path: string) {
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
  }

  /** The socket `DOCKER_HOST` names (`unix://` only), else Docker's default. */
  static fromEnv(dockerHost: string | undefined): DockerSocket {
    if (dockerHost && !dockerHost.startsWith("unix://")) {
      throw new RangeError(
        `DOCKER_HOST must be a unix:// socket for this command: current value is ${dockerHost}`,
      );
    }
    return new DockerSocket(
      dockerHost ? dockerHost.slice("unix://".length) : "/var/run/docker.sock",
    );
  }

  /** Calls the API; the parsed JSON body, or undefined for 404 when `allow404`. */
  async call<T>(
    method: string,
    path: string,
    options: { body?: unknown; allow404?: boolean } = {},
  ): Promise<T | undefined> {
    // The host is never resolved (the client goes to the socket); `.invalid` never resolves
    // anywhere (RFC 6761), so the net permission it needs reaches nothing else.
    const response = await fetch(`http://${API_HOST}/v1.41${path}`, {
      method,
      client: this.#client,
      headers: options.body === undefined ? undefined : { "content-type": "application/json" },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    if (response.status === 404 && options.allow404) return undefined;
    if (!response.ok) {
      let message = text.trim();
      try {
        message = JSON.parse(text).message ?? message;
      } catch { /* not JSON */ }
      throw new Error(`Docker refused ${method} ${path}: HTTP ${response.status}, ${message}`);
    }
    return text === "" ? undefined : JSON.parse(text) as T;
  }

  close(): void {
    this.#client.close();
  }
}

/** The ID of the config `name`, creating it with `text` when missing (content-versioned names). */
async function ensureConfigId(docker: DockerSocket, name: string, text: string): Promise<string> {
  const found = await docker.call<{ ID: string }>("GET", `/configs/${name}`, { allow404: true });
  if (found) return found.ID;
  const created = await docker.call<{ ID: string }>("POST", "/configs/create", {
    body: { Name: name, Data: btoa(text) },
  });
  return created!.ID;
}

/** Starts the shadow of `artifact`; returns what it said. */
export async function startShadow(
  docker: DockerSocket,
  artifact: string,
  stack: string,
): Promise<string> {
  const model = await loadModelArtifact(artifact);
  const name = candidateService(stack);
  const existing = await docker.call<{ Spec: ServiceSpec }>("GET", `/services/${name}`, {
    allow404: true,
  });
  if (existing) {
    const running = existing.Spec.Labels?.[SHADOW_VERSION_LABEL];
    throw new Error(
      `Cannot start a shadow of ${model.version} as ${name} runs ${running} already: ` +
        `deno task shadow stop, then start again`,
    );
  }
  const stable = await docker.call<{ Spec: ServiceSpec }>("GET", `/services/${stack}_model`);
  const configName = modelConfigName(model.version);
  const configId = await ensureConfigId(docker, configName, await Deno.readTextFile(artifact));
  const spec = candidateSpec(stable!.Spec, {
    stack,
    version: model.version,
    configId,
    configName,
  });
  await docker.call("POST", "/services/create", { body: spec });
  return `${name} shadows ${stack}_model with ${model.version} (config ${configName})`;
}

/** What `status` prints: the candidate's version, its running tasks, since when. */
export async function shadowStatus(docker: DockerSocket, stack: string): Promise<string> {
  const name = candidateService(stack);
  const service = await docker.call<{ Spec: ServiceSpec; CreatedAt: string }>(
    "GET",
    `/services/${name}`,
    { allow404: true },
  );
  if (!service) return `no shadow: ${name} does not exist`;
  const filters = encodeURIComponent(
    JSON.stringify({ service: [name], "desired-state": ["running"] }),
  );
  const tasks = await docker.call<{ Status?: { State?: string } }[]>(
    "GET",
    `/tasks?filters=${filters}`,
  );
  // As the manager knows them: a task's state reaches it a moment after the container's.
  const states = new Map<string, number>();
  for (const task of tasks ?? []) {
    const state = task.Status?.State ?? "unknown";
    states.set(state, (states.get(state) ?? 0) + 1);
  }
  const summary = [...states].map(([state, count]) => `${count} ${state}`).join(", ") || "none";
  return `${name} shadows with ${service.Spec.Labels?.[SHADOW_VERSION_LABEL]} since ` +
    `${service.CreatedAt}; tasks: ${summary}. Pairs: ml_metric_shadow_paired_errors in ` +
    `Prometheus (/prometheus/ on the gateway)`;
}

/** Removes the candidate's service; says whether there was one. */
export async function stopShadow(docker: DockerSocket, stack: string): Promise<string> {
  const name = candidateService(stack);
  if (!(await docker.call("GET", `/services/${name}`, { allow404: true }))) {
    return "no shadow to stop";
  }
  await docker.call("DELETE", `/services/${name}`, { allow404: true });
  return `removed ${name}; its task stops with SIGTERM, and the copy of features ends with it`;
}

/**
 * A Docker command's `main`: parses `args` (exit 2 with the message when they do not parse), runs
 * the command on the socket `DOCKER_HOST` names and prints what it said (exit 1 with the message
 * when Docker refused). Shared by `shadow` and `rollout`.
 */
export async function runDockerCommand<C>(
  args: readonly string[],
  parse: (args: readonly string[]) => C,
  run: (docker: DockerSocket, command: C) => Promise<string>,
): Promise<number> {
  let command: C;
  try {
    command = parse(args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  const docker = DockerSocket.fromEnv(Deno.env.get("DOCKER_HOST"));
  try {
    console.log(await run(docker, command));
    return 0;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  } finally {
    docker.close();
  }
}

if (import.meta.main) {
  Deno.exit(
    await runDockerCommand(
      Deno.args,
      parseShadowArgs,
      (docker, command) =>
        command.command === "start"
          ? startShadow(docker, command.artifact, command.stack)
          : command.command === "status"
          ? shadowStatus(docker, command.stack)
          : stopShadow(docker, command.stack),
    ),
  );
}
