/**
 * The Docker Engine API calls the controller makes, and only those: list services, list a
 * service's tasks, list nodes, update a service, remove a rollout's candidate; and, for a retrain
 * on drift (`retrain.ts`, through {@link DockerCalls}), read a config, create a model's config and
 * create the candidate's service. They go over HTTP to the filtering proxy
 * (`ops/images/docker-proxy/haproxy.cfg`), which refuses every other call with 403; the
 * controller never mounts the Docker socket.
 *
 * An update sends back the whole spec read with the service, with its version: Swarm refuses
 * it ("update out of sequence") when anyone changed the service in between, so two loops, a
 * person and the controller never overwrite each other's change.
 *
 * @module
 */

import type { RolloutSwarm } from "./rollout/rollout_loop.ts";
import type { DockerCalls } from "./rollout/start.ts";

/** The API version of Debian bookworm's engine (20.10); newer engines serve it too. */
export const DOCKER_API_VERSION = "v1.41";

/** Swarm's rolling-update states during which a service is being changed. */
export const UPDATING_STATES: readonly string[] = [
  "updating",
  "paused",
  "rollback_started",
  "rollback_paused",
];

/** A Swarm service as the controller needs it. */
export interface SwarmService {
  readonly id: string;
  /** The spec's version index: an update must name it. */
  readonly version: number;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Replicated services only; undefined for global ones. */
  readonly replicas: number | undefined;
  /** The containers' environment, `NAME=value`. */
  readonly env: readonly string[];
  /** Swarm's rolling-update state (`updating`, `paused`, `completed`, ...), if any. */
  readonly updateState: string | undefined;
  /** When that update started (ms), and Swarm's word on it (why it rolled back). */
  readonly updateStartedAtMs?: number;
  readonly updateMessage?: string;
  /** The spec as read, sent back (changed) by an update. */
  readonly spec: Readonly<Record<string, unknown>>;
}

/** The Docker calls the controller makes; tests pass plain objects. */
export interface SwarmPort {
  services(): Promise<SwarmService[]>;
  /** Tasks of `serviceName` that Swarm wants running and that run. */
  runningTasks(serviceName: string): Promise<number>;
  /** Nodes of the swarm: hostname, role and state. */
  nodes(): Promise<{ hostname: string; role: string; state: string }[]>;
  /** Sets `service`'s replicas and labels, at the version it was read. */
  update(
    service: SwarmService,
    change: { replicas: number; labels: Record<string, string> },
  ): Promise<void>;
}

interface RawService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate?: { ContainerSpec?: { Env?: string[] } };
  };
  UpdateStatus?: { State?: string; StartedAt?: string; Message?: string };
}

/** Reads the API's service object. */
export function serviceOf(raw: RawService): SwarmService {
  return {
    id: raw.ID,
    version: raw.Version.Index,
    name: raw.Spec.Name,
    labels: raw.Spec.Labels ?? {},
    replicas: raw.Spec.Mode?.Replicated?.Replicas,
    env: raw.Spec.TaskTemplate?.ContainerSpec?.Env ?? [],
    updateState: raw.UpdateStatus?.State,
    ...(raw.UpdateStatus?.StartedAt && !Number.isNaN(Date.parse(raw.UpdateStatus.StartedAt))
      ? { updateStartedAtMs: Date.parse(raw.UpdateStatus.StartedAt) }
      : {}),
    ...(raw.UpdateStatus?.Message ? { updateMessage: raw.UpdateStatus.Message } : {}),
    spec: raw.Spec as unknown as Record<string, unknown>,
  };
}

/** `service`'s spec with `change` applied: what an update sends. */
export function updatedSpec(
  service: SwarmService,
  change: { replicas: number; labels: Record<string, string> },
): Record<string, unknown> {
  const spec = structuredClone(service.spec) as RawService["Spec"] & Record<string, unknown>;
  spec.Labels = change.labels;
  spec.Mode = { ...spec.Mode, Replicated: { ...spec.Mode?.Replicated, Replicas: change.replicas } };
  return spec;
}

/** A {@link SwarmPort} talking HTTP to `baseUrl` (`http://docker-proxy:2375`). */
export function dockerClient(
  baseUrl: URL,
  options: { timeoutMs: number; fetch?: typeof fetch },
): SwarmPort & RolloutSwarm & DockerCalls {
  const send = options.fetch ?? fetch;
  async function call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const url = new URL(`${DOCKER_API_VERSION}${path}`, baseUrl);
    let response: Response;
    try {
      response = await send(url, {
        method,
        headers: body === undefined ? undefined : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (error) {
      throw new Error(`Cannot ${method} ${url.pathname}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text.trim();
      try {
        message = JSON.parse(text).message ?? message;
      } catch { /* not JSON: a proxy's page */ }
      throw new DockerApiError(
        `Cannot ${method} ${url.pathname}: HTTP ${response.status}, ${message}`,
        response.status,
      );
    }
    return text === "" ? undefined : JSON.parse(text);
  }
  const query = (filters: Record<string, string[]>) => encodeURIComponent(JSON.stringify(filters));
  return {
    async services() {
      return ((await call("GET", "/services")) as RawService[]).map(serviceOf);
    },
    async runningTasks(serviceName) {
      const tasks = await call(
        "GET",
        `/tasks?filters=${query({ service: [serviceName], "desired-state": ["running"] })}`,
      ) as { Status?: { State?: string } }[];
      return tasks.filter((task) => task.Status?.State === "running").length;
    },
    async nodes() {
      const nodes = await call("GET", "/nodes") as {
        Description?: { Hostname?: string };
        Spec?: { Role?: string };
        Status?: { State?: string };
      }[];
      return nodes.map((node) => ({
        hostname: node.Description?.Hostname ?? "?",
        role: node.Spec?.Role ?? "?",
        state: node.Status?.State ?? "?",
      }));
    },
    async update(service, change) {
      await call(
        "POST",
        `/services/${encodeURIComponent(service.id)}/update?version=${service.version}`,
        updatedSpec(service, change),
      );
    },
    async updateSpec(service, spec) {
      await call(
        "POST",
        `/services/${encodeURIComponent(service.id)}/update?version=${service.version}`,
        spec,
      );
    },
    async call<T>(
      method: "GET" | "POST" | "DELETE",
      path: string,
      options: { body?: unknown; allow404?: boolean } = {},
    ): Promise<T | undefined> {
      try {
        return await call(method, path, options.body) as T;
      } catch (error) {
        if (options.allow404 && error instanceof DockerApiError && error.status === 404) {
          return undefined;
        }
        throw error;
      }
    },
    async removeService(name) {
      // Gone already (a person, or the look before) is what was asked for.
      await call("DELETE", `/services/${encodeURIComponent(name)}`).catch((error) => {
        if (!(error instanceof DockerApiError && error.status === 404)) throw error;
      });
    },
  };
}

/** A call the Docker API (or the filter in front of it) answered with an error status. */
export class DockerApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = "DockerApiError";
  }
}
