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
import {
  candidateSpec,
  type DockerCalls,
  type ServiceSpec,
  startShadow as startShadowOf,
} from "../controller/rollout/start.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import { candidateService, SHADOW_VERSION_LABEL } from "../stack/model_service.ts";

export { candidateService, candidateSpec, SHADOW_VERSION_LABEL };
export type { ServiceSpec };

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
export class DockerSocket implements DockerCalls {
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
    method: "GET" | "POST" | "DELETE",
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

/** Starts the shadow of the artifact at `path`, checked as the model service will at load. */
export async function startShadow(
  docker: DockerCalls,
  path: string,
  stack: string,
): Promise<string> {
  const model = await loadModelArtifact(path);
  return await startShadowOf(docker, { model, text: await Deno.readTextFile(path) }, stack);
}

/** What `status` prints: the candidate's version, its running tasks, since when. */
export async function shadowStatus(docker: DockerCalls, stack: string): Promise<string> {
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
export async function stopShadow(docker: DockerCalls, stack: string): Promise<string> {
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
