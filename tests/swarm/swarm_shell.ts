/**
 * What the Swarm end-to-end tests share: running `docker` (against the local engine or another
 * one, such as a Docker-in-Docker node's socket), waiting at Swarm's pace, timing phases,
 * following a service's logs, finding a service's containers and tasks, asking a broker
 * container's rabbitmqctl, waiting for metric's rows to grow, and removing a stack.
 *
 * Both tests/swarm/e2e_swarm.ts and tests/swarm/e2e_cluster.ts use it.
 */
import { runCommand } from "../../ops/kit/command.ts";
import { waitFor as poll } from "../../ops/kit/process.ts";

/** What a command printed, and whether it succeeded. */
export interface ShResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `command args`; throws with its output when it fails, unless `allowFail`. */
export async function sh(
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; allowFail?: boolean; stdin?: string } = {},
): Promise<ShResult> {
  const out = await runCommand(command, args, { env: options.env, stdin: options.stdin });
  if (!out.ok && !options.allowFail) {
    throw new Error(
      `'${command} ${args.join(" ")}' failed (${out.code}):\n${out.stderr}${out.stdout}`,
    );
  }
  return { ok: out.ok, stdout: out.stdout, stderr: out.stderr };
}

/** `docker` against one engine: `host` is a DOCKER_HOST value, or undefined for the default. */
export function dockerOn(host?: string) {
  const env = host === undefined ? undefined : { DOCKER_HOST: host };
  return {
    host,
    run: (
      args: readonly string[],
      options: { allowFail?: boolean; env?: Record<string, string> } = {},
    ) => sh("docker", args, { ...options, env: { ...env, ...options.env } }),
    /** Its stdout, trimmed; throws when it fails. */
    out: async (...args: string[]) => (await sh("docker", args, { env })).stdout.trim(),
  };
}

/** A Docker engine to talk to, as `dockerOn` returns it. */
export type Docker = ReturnType<typeof dockerOn>;

/** `waitFor` at Swarm's pace: every 500 ms, for 2 minutes unless told. */
export function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 120_000,
): Promise<void> {
  return poll(what, check, { timeoutMs, intervalMs: 500 });
}

/** Seconds since `start` (a `performance.now()`), one decimal. */
export function secondsSince(start: number): number {
  return Math.round((performance.now() - start) / 100) / 10;
}

/** How often {@link followLogs} looks for a service's new containers. */
const FOLLOW_POLL_MS = 1_000;

/**
 * Follows the logs of a service's containers on one engine, new tasks' too: one `docker logs
 * --follow` per container, each started as its container has started (looked for every second), so
 * that scaling a service down or losing its node, which removes containers and their logs, loses
 * none of what they said. `lines()` is what came so far, container by container. Not `docker
 * service logs --follow`: on this machine's Docker 20.10 that stream intermittently stops giving
 * lines, or never returns, once one of the service's tasks has been killed (e2e saw both).
 */
export function followLogs(
  docker: Docker,
  service: string,
): { lines(): string[]; stop(): Promise<string[]> } {
  const env = docker.host === undefined ? undefined : { DOCKER_HOST: docker.host };
  const followed = new Map<
    string,
    { lines: string[]; child: Deno.ChildProcess; done: Promise<unknown> }
  >();
  const read = async (stream: ReadableStream<Uint8Array>, lines: string[]) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const split = (rest + chunk).split("\n");
      rest = split.pop()!;
      lines.push(...split);
    }
    if (rest !== "") lines.push(rest);
  };
  let stopped = false;
  const look = async () => {
    // Started ones only: `docker logs --follow` of a container not started yet returns at once.
    for (const id of await containersOf(docker, service, { started: true })) {
      if (followed.has(id) || stopped) continue;
      const child = new Deno.Command("docker", {
        args: ["logs", "--follow", id],
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const lines: string[] = [];
      followed.set(id, {
        lines,
        child,
        done: Promise.all([read(child.stdout, lines), read(child.stderr, lines), child.status]),
      });
    }
  };
  let looking = look();
  const timer = setInterval(() => {
    looking = looking.then(look).catch(() => {});
  }, FOLLOW_POLL_MS);
  const all = () => [...followed.values()].flatMap((f) => f.lines);
  return {
    lines: all,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await looking.catch(() => {});
      for (const { child } of followed.values()) {
        try {
          child.kill("SIGTERM");
        } catch { /* exited already */ }
      }
      await Promise.all([...followed.values()].map((f) => f.done.catch(() => {})));
      return all();
    },
  };
}

/** `docker service ls`'s REPLICAS of one service, e.g. "3/3". */
export async function replicasRunning(docker: Docker, service: string): Promise<string> {
  const lines = (await docker.out(
    "service",
    "ls",
    "--filter",
    `name=${service}`,
    "--format",
    "{{.Name}} {{.Replicas}}",
  )).split("\n");
  return lines.find((line) => line.startsWith(`${service} `))?.split(" ")[1] ?? "";
}

/** The task states of a task that runs or is on its way to (`docker service ps`'s CURRENT STATE). */
const LIVE_STATE = /^(New|Allocated|Pending|Assigned|Accepted|Preparing|Ready|Starting|Running)\b/;

/**
 * Whether a Swarm service has settled after a change: as many tasks running as its spec asks for
 * (a task with a health check runs once healthy), none on its way to running, and every task it
 * stopped stopped (a replica scaled away has exited, so its exit code is known), `gone` (task ids,
 * as {@link runningTasks} gives them) among them. This is what `docker service scale` and
 * `update` wait for when attached, without the pause they add after it, the service's update
 * monitor (20–30 s in docker-stack.yml), which they take even for a change of count: about 6 of
 * the e2e's minutes. A change Swarm rolls out with a monitor of its own (a rolling update) goes on
 * as it would; a test that needs its end still waits for that.
 */
export async function settled(
  docker: Docker,
  service: string,
  gone: readonly string[] = [],
): Promise<boolean> {
  const wanted = Number(
    await docker.out(
      "service",
      "inspect",
      "--format",
      "{{.Spec.Mode.Replicated.Replicas}}",
      service,
    ),
  );
  const tasks = (await docker.out(
    "service",
    "ps",
    "--no-trunc",
    "--format",
    "{{.ID}}|{{.DesiredState}}|{{.CurrentState}}",
    service,
  )).split("\n").filter(Boolean).map((line) => line.split("|"));
  let running = 0;
  for (const [id, desired, current] of tasks) {
    const live = LIVE_STATE.test(current);
    if (live && gone.includes(id)) return false;
    if (desired === "Running" && /^Running\b/.test(current)) running++;
    else if (live) return false;
  }
  return running === wanted;
}

/** The ids of a service's tasks meant to be running now (for {@link settled}'s `gone`). */
export async function runningTasks(docker: Docker, service: string): Promise<string[]> {
  return (await docker.out(
    "service",
    "ps",
    "-q",
    "--no-trunc",
    "--filter",
    "desired-state=running",
    service,
  )).split("\n").filter(Boolean);
}

/**
 * Runs `docker service <args>` detached, then waits until each of `services` has {@link settled}
 * (the tasks running before it, when `replace` is set, gone).
 */
export async function converge(
  docker: Docker,
  args: readonly string[],
  services: readonly string[],
  options: { replace?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  const gone = options.replace
    ? (await Promise.all(services.map((s) => runningTasks(docker, s)))).flat()
    : [];
  await docker.run(["service", args[0], "--detach", ...args.slice(1)]);
  for (const service of services) {
    await waitFor(
      `${service} settled after docker service ${args[0]}`,
      () => settled(docker, service, gone),
      options.timeoutMs,
    );
  }
}

/**
 * The ids of a Swarm service's containers on one engine: running ones, every one it keeps
 * (`all`), or those that have started, running or not (`started`).
 */
export async function containersOf(
  docker: Docker,
  service: string,
  options: { all?: boolean; started?: boolean } = {},
): Promise<string[]> {
  const result = await docker.run([
    "ps",
    options.all || options.started ? "-aq" : "-q",
    "--filter",
    `label=com.docker.swarm.service.name=${service}`,
    ...(options.started ? ["running", "exited", "dead"] : []).flatMap((status) => [
      "--filter",
      `status=${status}`,
    ]),
  ], { allowFail: true });
  return result.ok ? result.stdout.trim().split("\n").filter(Boolean) : [];
}

/** The node of each running task of a service (one entry per task). */
export async function taskNodes(docker: Docker, service: string): Promise<string[]> {
  return (await docker.out(
    "service",
    "ps",
    service,
    "--filter",
    "desired-state=running",
    "--format",
    "{{.Node}} {{.CurrentState}}",
  )).split("\n").filter((line) => / Running /.test(line)).map((line) => line.split(" ")[0]);
}

/** `rabbitmqctl -q <args> --formatter json` in a broker container, parsed. */
export async function rabbitmqctlJson<T>(
  docker: Docker,
  container: string,
  ...args: string[]
): Promise<T> {
  return JSON.parse(
    await docker.out("exec", container, "rabbitmqctl", "-q", ...args, "--formatter", "json"),
  ) as T;
}

/** Waits until `rows()` has grown by more than `by` rows from now. */
export async function growth(
  what: string,
  rows: () => Promise<readonly unknown[]>,
  options: { by?: number; timeoutMs?: number } = {},
): Promise<void> {
  const before = (await rows()).length;
  await waitFor(
    what,
    async () => (await rows()).length > before + (options.by ?? 5),
    options.timeoutMs,
  );
}

/**
 * `docker stack rm`, then waits until none of the stack's containers is left on any of
 * `engines` (default: the one it ran on) and none of its services or networks on the first.
 */
export async function removeStack(
  docker: Docker,
  stack: string,
  options: { engines?: readonly Docker[]; timeoutMs?: number } = {},
): Promise<void> {
  await docker.run(["stack", "rm", stack], { allowFail: true });
  const label = `label=com.docker.stack.namespace=${stack}`;
  for (const engine of options.engines ?? [docker]) {
    await waitFor(
      `the stack's containers gone${engine.host ? ` on ${engine.host}` : ""}`,
      async () => (await engine.out("ps", "-aq", "--filter", label)) === "",
      options.timeoutMs,
    );
  }
  await waitFor(
    "the stack's services and networks gone",
    async () =>
      (await docker.out("service", "ls", "-q", "--filter", label)) === "" &&
      (await docker.out("network", "ls", "-q", "--filter", label)) === "",
    options.timeoutMs,
  );
}

/** The services the stack files declare together (each file's `services:` keys), once each. */
export async function declaredServices(...files: string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    const section = /^services:\n((?: {2}.*\n|\s*\n)+)/m.exec(text)?.[1] ?? "";
    for (const [, name] of section.matchAll(/^ {2}([\w-]+):$/gm)) names.add(name);
  }
  return [...names];
}
