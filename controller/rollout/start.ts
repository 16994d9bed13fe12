/**
 * Starting a rollout: the candidate's Swarm config, its shadow service, and the `shadowing` label
 * on `<stack>_model`, in that order (the rollout loop leaves a candidate without a rollout alone,
 * but aborts a rollout without a candidate). One copy for both who start one: an operator's
 * `deno task rollout start` (ops/rollout.ts, on the Docker socket) and the controller's retrain on
 * drift (`../retrain.ts`, through the Docker API filter). Either talks to the Engine API through a
 * {@link DockerCalls}.
 *
 * @module
 */
import type { ModelArtifact } from "../../model/linear.ts";
import {
  candidateService,
  MODEL_TARGET,
  modelConfigName,
  modelService,
  mountedModelConfig,
  SHADOW_VERSION_LABEL,
  versionOfConfig,
} from "../../stack/model_service.ts";
import { readRollout, type Rollout, ROLLOUT_LABEL, rolloutLabel } from "./plan.ts";

/** The Docker Engine API, one call at a time (API 1.41). */
export interface DockerCalls {
  /** The parsed JSON body, or undefined for a 404 when `allow404`; throws on any other error. */
  call<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    options?: { body?: unknown; allow404?: boolean },
  ): Promise<T | undefined>;
}

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
 * The spec of the candidate service, from the stable one's: the same image, user, secrets, limits
 * and network, with `MODEL_ROLE=candidate`, the candidate's config at MODEL_PATH, one replica, and
 * neither the stable one's network alias nor its `ml.autoscale.*` and `ml.rollout.*` labels, so
 * the autoscaler never sizes it and nothing takes it for the stable model. Pure; `candidate`
 * names its Swarm config (ID and name).
 */
export function candidateSpec(
  stable: ServiceSpec,
  candidate: { stack: string; version: string; configId: string; configName: string },
): ServiceSpec {
  // Name first: the Docker API filter reads a create's name from the start of its body.
  const { Name: _stable, ...rest } = structuredClone(stable);
  const spec: ServiceSpec = { Name: candidateService(candidate.stack), ...rest };
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

/** The text a Swarm config holds, from its `Spec.Data` (base64, as the API and the CLI give it). */
export function configText(data: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
}

/** The ID of the config `name`, creating it with `text` when missing (content-versioned names). */
async function ensureConfigId(docker: DockerCalls, name: string, text: string): Promise<string> {
  const found = await docker.call<{ ID: string }>("GET", `/configs/${name}`, { allow404: true });
  if (found) return found.ID;
  // Name first: the Docker API filter reads it from the start of the body.
  const created = await docker.call<{ ID: string }>("POST", "/configs/create", {
    body: { Name: name, Data: btoa(text) },
  });
  return created!.ID;
}

/** A checked artifact and its text as it will be mounted (`serializeModelArtifact`). */
export interface CandidateArtifact {
  readonly model: ModelArtifact;
  readonly text: string;
}

/** Starts the shadow of `candidate`; returns what it said. */
export async function startShadow(
  docker: DockerCalls,
  candidate: CandidateArtifact,
  stack: string,
): Promise<string> {
  const { version } = candidate.model;
  const name = candidateService(stack);
  const existing = await docker.call<{ Spec: ServiceSpec }>("GET", `/services/${name}`, {
    allow404: true,
  });
  if (existing) {
    const running = existing.Spec.Labels?.[SHADOW_VERSION_LABEL];
    throw new Error(
      `Cannot start a shadow of ${version} as ${name} runs ${running} already: ` +
        `deno task shadow stop, then start again`,
    );
  }
  const stable = await docker.call<{ Spec: ServiceSpec }>(
    "GET",
    `/services/${modelService(stack)}`,
  );
  const configName = modelConfigName(version);
  const configId = await ensureConfigId(docker, configName, candidate.text);
  const spec = candidateSpec(stable!.Spec, { stack, version, configId, configName });
  await docker.call("POST", "/services/create", { body: spec });
  return `${name} shadows ${modelService(stack)} with ${version} (config ${configName})`;
}

/** A service as the API returns it: what an update needs. */
export interface ServiceRead {
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

/** `<stack>_model` as the API returns it; throws when the stack is not deployed. */
export async function readStable(docker: DockerCalls, stack: string): Promise<ServiceRead> {
  const stable = await docker.call<ServiceRead>("GET", `/services/${modelService(stack)}`, {
    allow404: true,
  });
  if (!stable) throw new Error(`Cannot find ${modelService(stack)}: is the stack deployed?`);
  return stable;
}

/** Puts `rollout` on the label of the service read as `read`, at the version it was read. */
export async function setRollout(docker: DockerCalls, read: ServiceRead, rollout: Rollout) {
  const spec = structuredClone(read.Spec);
  spec.Labels = { ...spec.Labels, [ROLLOUT_LABEL]: rolloutLabel(rollout) };
  await docker.call("POST", `/services/${read.ID}/update?version=${read.Version.Index}`, {
    body: spec,
  });
}

/** The rollout on the stable service's label; throws on a label that is not one. */
export function rolloutOf(read: ServiceRead): Rollout | undefined {
  const found = readRollout(read.Spec.Labels ?? {});
  if (!found.ok) throw new Error(`Cannot read ${read.Spec.Name}'s rollout: ${found.reason}`);
  return found.rollout;
}

/**
 * Starts the rollout of `candidate` against the version `<stack>_model` serves; returns what it
 * said. `origin` is who started it (an operator, or the controller on drift), kept on the label.
 */
export async function startRollout(
  docker: DockerCalls,
  candidate: CandidateArtifact,
  stack: string,
  options: { nowMs?: number; origin?: Rollout["origin"] } = {},
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
  const { version } = candidate.model;
  if (version === stable) {
    throw new Error(`Cannot roll out ${version} as ${modelService(stack)} serves it already`);
  }
  const started = await startShadow(docker, candidate, stack);
  // Read again: the update must name the spec's version as it is now.
  await setRollout(docker, await readStable(docker, stack), {
    candidate: version,
    stable,
    phase: "shadowing",
    startedAtMs: options.nowMs ?? Date.now(),
    ...(options.origin ? { origin: options.origin } : {}),
  });
  return `${started}; rollout of ${version} against ${stable} started: the controller ` +
    `promotes or removes it (deno task rollout status)`;
}
