/**
 * Instant queries against Prometheus's HTTP API (`GET /api/v1/query`): the one call the
 * controller makes to it.
 *
 * @module
 */
import type { VectorSample } from "./inputs.ts";

/** What the controller asks Prometheus; tests pass a function. */
export interface PrometheusPort {
  /** The instant vector `expr` evaluates to now; throws when Prometheus cannot answer. */
  query(expr: string): Promise<VectorSample[]>;
}

/**
 * A {@link PrometheusPort} on `baseUrl` (`http://prometheus:9090`), sending `login` as HTTP Basic
 * when given (the stack's Prometheus asks for one: its `--web.config.file`).
 */
export function prometheusClient(
  baseUrl: URL,
  options: { timeoutMs: number; fetch?: typeof fetch; login?: { user: string; password: string } },
): PrometheusPort {
  const get = options.fetch ?? fetch;
  const headers: Record<string, string> = options.login
    ? { authorization: `Basic ${btoa(`${options.login.user}:${options.login.password}`)}` }
    : {};
  return {
    async query(expr) {
      const url = new URL("api/v1/query", baseUrl);
      url.searchParams.set("query", expr);
      let response: Response;
      try {
        response = await get(url, { headers, signal: AbortSignal.timeout(options.timeoutMs) });
      } catch (error) {
        throw new Error(
          `Cannot query Prometheus at ${baseUrl.origin}: ${(error as Error).message}`,
        );
      }
      const text = await response.text();
      let body: {
        status?: string;
        error?: string;
        data?: { resultType?: string; result?: unknown };
      };
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(
          `Cannot query Prometheus at ${baseUrl.origin}: HTTP ${response.status}, not JSON: ${
            JSON.stringify(text.slice(0, 200))
          }`,
        );
      }
      if (!response.ok || body.status !== "success") {
        throw new Error(
          `Cannot query Prometheus at ${baseUrl.origin}: HTTP ${response.status}, ${
            body.error ?? body.status
          }`,
        );
      }
      if (body.data?.resultType !== "vector" || !Array.isArray(body.data.result)) {
        throw new Error(
          `Cannot read Prometheus's answer as a vector: current value is ${
            JSON.stringify(body.data?.resultType)
          }`,
        );
      }
      return (body.data.result as { metric: Record<string, string>; value: [number, string] }[])
        .map(({ metric, value }) => ({ metric, value }));
    },
  };
}
