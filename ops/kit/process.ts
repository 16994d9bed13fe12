/**
 * The services as subprocesses: spawn one with its derived permission
 * flags, read its log lines, wait until it is ready, stop it with a deadline,
 * and wait for a condition. `ops/kit/pipeline.ts` drives the whole pipeline
 * with these; tests that need one process alone use them directly.
 *
 * @module
 */
import { sleep } from "../../stack/async.ts";
import { type Placement, runArgs, type ServiceName } from "../launch.ts";

/** How to run a `deno` subprocess. */
export interface SpawnOptions {
  /** Shown in messages; defaults to the service's name. */
  name?: string;
  /** Working directory; the services read paths relative to the repository root. */
  cwd?: string | URL;
  env?: Record<string, string>;
  /** Start from an empty environment instead of this process's. */
  clearEnv?: boolean;
  /** The port its `/healthz`, `/readyz` and `/metrics` answer on; 0 when it serves none. */
  httpPort?: number;
  /** Called with each line it writes, as it comes. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Keep every line in `lines` (default true); a long-running process would grow without end. */
  keepLines?: boolean;
}

/** A running `deno` subprocess with its output read line by line. */
export class ServiceProcess {
  readonly name: string;
  readonly httpPort: number;
  /** Its output lines, stdout and stderr interleaved as they arrived (unless `keepLines` is false). */
  readonly lines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #pumps: Promise<void>;
  #exitStatus: Deno.CommandStatus | undefined;

  /** Runs `deno` with `args`. */
  constructor(args: readonly string[], options: SpawnOptions & { name: string }) {
    this.name = options.name;
    this.httpPort = options.httpPort ?? 0;
    this.#child = new Deno.Command("deno", {
      args: [...args],
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const keep = options.keepLines ?? true;
    const onLine = (line: string, stream: "stdout" | "stderr") => {
      if (keep) this.lines.push(line);
      options.onLine?.(line, stream);
    };
    this.#pumps = Promise.all([
      readLines(this.#child.stdout, (line) => onLine(line, "stdout")),
      readLines(this.#child.stderr, (line) => onLine(line, "stderr")),
    ]).then(() => {});
    this.status = this.#child.status.then((status) => this.#exitStatus = status);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Its exit status once it has exited. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exitStatus;
  }

  /** Its lines that are JSON objects (our log events), parsed. */
  logs(): Record<string, unknown>[] {
    return jsonLines(this.lines);
  }

  /** Sends `signal`; does nothing when it has exited already. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.#child.kill(signal);
    } catch { /* exited already */ }
  }

  /** Resolves with its exit status once it exited and all its output was read. */
  async exit(): Promise<Deno.CommandStatus> {
    const status = await this.status;
    await this.#pumps;
    return status;
  }

  /**
   * SIGTERM, then SIGKILL when it has not exited after `graceMs` (calling
   * `onKill` first); resolves with its exit status.
   */
  async stop(
    options: { graceMs?: number; onKill?: (process: ServiceProcess) => void } = {},
  ): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (this.#exitStatus) return;
      options.onKill?.(this);
      this.kill("SIGKILL");
    }, options.graceMs ?? 15_000);
    try {
      return await this.exit();
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Extra options of `spawnService`. */
export interface ServiceOptions extends SpawnOptions {
  /** `deno run` flags before the script, e.g. `--cpu-prof`. */
  denoFlags?: readonly string[];
}

/**
 * Spawns `service` with exactly the permissions its config needs where it
 * is placed (`runArgs`). `options.httpPort` defaults to the placement's.
 */
export function spawnService(
  service: ServiceName,
  placement: Placement,
  options: ServiceOptions = {},
): ServiceProcess {
  const [run, ...rest] = runArgs(service, placement);
  return new ServiceProcess([run, ...(options.denoFlags ?? []), ...rest], {
    httpPort: placement.httpPort,
    ...options,
    name: options.name ?? service,
  });
}

/** Stops every process as `ServiceProcess.stop` does, all at once. */
export function stopAll(
  processes: readonly ServiceProcess[],
  options: { graceMs?: number; onKill?: (process: ServiceProcess) => void } = {},
): Promise<Deno.CommandStatus[]> {
  return Promise.all(processes.map((process) => process.stop(options)));
}

/**
 * Polls `check` every `intervalMs` until it returns true; throws after
 * `timeoutMs` saying `what`. A check that throws counts as "not yet" (a
 * server that is not listening yet, a file not written yet); its last error
 * is quoted in the timeout's message.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError === undefined ? "" : `; the check last failed with: ${lastError}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** The HTTP status of `url`, or 0 when nothing answers within 2 s. */
export async function httpStatus(url: string): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * Resolves once `process` answers `/readyz` with 200: connected to the broker
 * with its consumers and publish channel up. Throws when it exits first, or
 * after `timeoutMs`.
 */
export async function waitReady(
  process: ServiceProcess,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  if (process.httpPort === 0) {
    throw new RangeError(`Cannot wait for ${process.name} to be ready as it serves no HTTP port`);
  }
  let ready = false;
  await waitFor(`${process.name} to answer /readyz with 200`, async () => {
    if (process.exitStatus) return true;
    ready = await httpStatus(`http://127.0.0.1:${process.httpPort}/readyz`) === 200;
    return ready;
  }, options);
  if (!ready) {
    throw new Error(`${process.name} exited with code ${process.exitStatus?.code} at start`);
  }
}

/** The lines that are JSON objects, parsed; other lines are left out. */
export function jsonLines(lines: Iterable<string>): Record<string, unknown>[] {
  const parsed: Record<string, unknown>[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      parsed.push(JSON.parse(line));
    } catch { /* not one of ours */ }
  }
  return parsed;
}

/** Splits `text` into complete lines, returning them and the unfinished rest. */
export function splitLines(text: string): { lines: string[]; rest: string } {
  const lines = text.split("\n");
  const rest = lines.pop()!;
  return { lines: lines.map((line) => line.replace(/\r$/, "")), rest };
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const split = splitLines(rest + chunk);
    rest = split.rest;
    for (const line of split.lines) onLine(line);
  }
  if (rest !== "") onLine(rest.replace(/\r$/, ""));
}
