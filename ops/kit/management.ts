/**
 * The few calls of RabbitMQ's management HTTP API that the integration
 * tests, `deno task start` and the bench need on a broker they did not start
 * (`AMQP_URL`): a vhost per test, the AMQP user's permissions on it, its
 * queues, and the pipeline's policies.
 *
 * @module
 */
import { type Policy, policyBody } from "../../stack/policies.ts";

/** Where the management API is and who to log in as. */
export interface ManagementEndpoint {
  /** E.g. `http://localhost:15672`, without a trailing slash. */
  readonly url: string;
  readonly user: string;
  readonly password: string;
}

/**
 * The management endpoint of the broker at `amqpUrl`: `managementUrl` when
 * given (its credentials, else the AMQP URL's), else port 15672 of the AMQP
 * host, with the AMQP URL's credentials (guest/guest when it has none).
 */
export function managementEndpoint(amqpUrl: string, managementUrl?: string): ManagementEndpoint {
  const amqp = new URL(amqpUrl);
  const user = decodeURIComponent(amqp.username) || "guest";
  const password = decodeURIComponent(amqp.password) || (amqp.username ? "" : "guest");
  if (managementUrl) {
    const http = new URL(managementUrl);
    return {
      url: `${http.origin}${http.pathname.replace(/\/+$/, "")}`,
      user: decodeURIComponent(http.username) || user,
      password: http.username ? decodeURIComponent(http.password) : password,
    };
  }
  const scheme = amqp.protocol === "amqps:" ? "https" : "http";
  return { url: `${scheme}://${amqp.hostname}:15672`, user, password };
}

/** A queue as the management API lists it. */
export interface QueueInfo {
  readonly name: string;
  /** Ready plus unacknowledged, from the statistics (updated every few seconds). */
  readonly messages?: number;
}

/** A client of the management API; `fetch` can be replaced in tests. */
export class ManagementApi {
  readonly endpoint: ManagementEndpoint;
  readonly #fetch: typeof fetch;

  constructor(endpoint: ManagementEndpoint, options: { fetch?: typeof fetch } = {}) {
    this.endpoint = endpoint;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Creates `vhost` (an existing one is kept). */
  async addVhost(vhost: string): Promise<void> {
    await this.#call("PUT", `/api/vhosts/${encodeURIComponent(vhost)}`, {});
  }

  /** Lets `user` configure, write and read everything in `vhost`. */
  async setPermissions(vhost: string, user: string): Promise<void> {
    await this.#call(
      "PUT",
      `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(user)}`,
      { configure: ".*", write: ".*", read: ".*" },
    );
  }

  /** Deletes `vhost` with its queues. */
  async deleteVhost(vhost: string): Promise<void> {
    await this.#call("DELETE", `/api/vhosts/${encodeURIComponent(vhost)}`);
  }

  /** Sets `policy` in `vhost` (replacing one of the same name). */
  async putPolicy(vhost: string, policy: Policy): Promise<void> {
    await this.#call(
      "PUT",
      `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(policy.name)}`,
      policyBody(policy),
    );
  }

  /** The policies of `vhost`, as the broker holds them. */
  async policies(vhost: string): Promise<(Policy & { vhost: string })[]> {
    const response = await this.#call("GET", `/api/policies/${encodeURIComponent(vhost)}`);
    return await response.json();
  }

  /** The queues of `vhost`. */
  async queues(vhost: string): Promise<QueueInfo[]> {
    const response = await this.#call("GET", `/api/queues/${encodeURIComponent(vhost)}`);
    return await response.json();
  }

  async #call(method: string, path: string, body?: unknown): Promise<Response> {
    const { url, user, password } = this.endpoint;
    const response = await this.#fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Basic ${btoa(`${user}:${password}`)}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) {
      const text = await response.text();
      throw new Error(
        `Cannot ${method} ${url}${path}: the management API answered ${response.status} ${text}`,
      );
    }
    return response;
  }
}
