/**
 * What a Swarm task's container used of its memory limit, read from the
 * host: the cgroup's own peak and limit (v1 `memory.max_usage_in_bytes` and
 * `memory.limit_in_bytes`; v2 `memory.peak` and `memory.max`), the peak
 * resident set of the service's process (`VmHWM`), and whether the kernel
 * ever killed a process in it (`OOMKilled`).
 *
 * The cgroup peak counts the page cache of files the container wrote (metric's
 * CSV) as well as the processes' memory; the kernel reclaims that cache before
 * it kills anything, so `VmHWM` is the figure that compares with the bench's.
 * Both are read while the container runs: its cgroup and /proc entries go
 * with it.
 *
 * @module
 */

/** One container's memory figures, in bytes. */
export interface ContainerMemory {
  readonly id: string;
  readonly oomKilled: boolean;
  /** The cgroup's limit; undefined when the host does not show it. */
  readonly limit?: number;
  /** The cgroup's peak usage, page cache included; undefined when the host does not show it. */
  readonly cgroupPeak?: number;
  /** Peak resident set of the service process (the container's deepest process: tini → deno). */
  readonly vmHwm?: number;
}

/** `VmHWM` of a `/proc/<pid>/status` text, in bytes. */
export function vmHwmOf(status: string): number | undefined {
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** A cgroup memory file's number; "max" (v2's "no limit") and junk are undefined. */
export function cgroupNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * The memory cgroup directory of a container: where /proc/<pid>/cgroup puts its process, else
 * where the cgroupfs or the systemd driver puts it, on cgroup v1 or v2.
 */
async function cgroupDir(id: string, pid: number): Promise<string | undefined> {
  const own = pid > 0 ? await readText(`/proc/${pid}/cgroup`) : undefined;
  const v1 = own && /^\d+:memory:(\/.*)$/m.exec(own)?.[1];
  const v2 = own && /^0::(\/.*)$/m.exec(own)?.[1];
  const candidates = [
    ...(v1 ? [`/sys/fs/cgroup/memory${v1}`] : []),
    ...(v2 && !v1 ? [`/sys/fs/cgroup${v2}`] : []),
    `/sys/fs/cgroup/memory/docker/${id}`, // v1, cgroupfs driver
    `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope`, // v1, systemd driver
    `/sys/fs/cgroup/docker/${id}`, // v2, cgroupfs driver
    `/sys/fs/cgroup/system.slice/docker-${id}.scope`, // v2, systemd driver
  ];
  for (const dir of candidates) {
    try {
      if ((await Deno.stat(dir)).isDirectory) return dir;
    } catch {
      // not this layout
    }
  }
  return undefined;
}

/** The last process of the chain that starts at `pid` (tini → deno): the service itself. */
async function leafProcess(pid: number): Promise<number> {
  for (let depth = 0; depth < 4; depth++) {
    const children = (await readText(`/proc/${pid}/task/${pid}/children`))?.trim();
    if (!children) return pid;
    pid = Number(children.split(/\s+/)[0]);
  }
  return pid;
}

/**
 * The memory figures of containers by id (full or short). Needs root on the
 * host for /proc and the cgroup files; a figure the host does not show is
 * left undefined, never guessed.
 */
export async function containerMemory(
  ids: readonly string[],
  inspect: (ids: readonly string[]) => Promise<string>,
): Promise<ContainerMemory[]> {
  if (ids.length === 0) return [];
  const lines = (await inspect(ids)).trim().split("\n").filter(Boolean);
  const figures: ContainerMemory[] = [];
  for (const line of lines) {
    const [id, pidText, oomText] = line.split(" ");
    const dir = await cgroupDir(id, Number(pidText));
    const v2 = dir !== undefined && !dir.startsWith("/sys/fs/cgroup/memory/");
    const read = async (v1Name: string, v2Name: string) =>
      dir ? cgroupNumber((await readText(`${dir}/${v2 ? v2Name : v1Name}`)) ?? "") : undefined;
    const pid = Number(pidText);
    const status = pid > 0 ? await readText(`/proc/${await leafProcess(pid)}/status`) : undefined;
    figures.push({
      id,
      oomKilled: oomText === "true",
      limit: await read("memory.limit_in_bytes", "memory.max"),
      cgroupPeak: await read("memory.max_usage_in_bytes", "memory.peak"),
      vmHwm: status ? vmHwmOf(status) : undefined,
    });
  }
  return figures;
}

/** The `docker inspect` format `containerMemory` parses. */
export const INSPECT_FORMAT = "{{.Id}} {{.State.Pid}} {{.State.OOMKilled}}";

const MiB = 1024 * 1024;

/** "84 MiB", or "–" when unknown. */
export function mib(bytes: number | undefined): string {
  return bytes === undefined ? "–" : `${(bytes / MiB).toFixed(0)} MiB`;
}
