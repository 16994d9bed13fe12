/**
 * Container health probe: `deno run --allow-net=localhost:PORT stack/healthcheck.ts URL`.
 *
 * Fetches URL with a 3 s timeout; exits 0 when it answers HTTP 200, else prints one line saying
 * why on stderr and exits 1. Used by the images' exec-form HEALTHCHECK (the scratch base has no
 * shell, curl or wget).
 *
 * @module
 */

const TIMEOUT_MS = 3000;

async function probe(url: string): Promise<string | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return `no answer within ${TIMEOUT_MS} ms`;
    }
    return error instanceof Error ? error.message : String(error);
  }
  await response.body?.cancel();
  return response.status === 200 ? undefined : `HTTP ${response.status} ${response.statusText}`;
}

if (import.meta.main) {
  const url = Deno.args[0];
  if (!url) {
    console.error("healthcheck: usage: healthcheck.ts <url>");
    Deno.exit(1);
  }
  const problem = await probe(url);
  if (problem !== undefined) {
    console.error(`healthcheck: ${url}: ${problem.split("\n")[0]}`);
    Deno.exit(1);
  }
  Deno.exit(0);
}
