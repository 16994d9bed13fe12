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
import { readProc } from "../../ops/kit/proc.ts";

/** One container's memory figures, in bytes. */
export interface ContainerMemory {
  readonly id: string;
  readonly oomKilled: boolean;
  /** The cgroup's limit; undefined when the host does not show it. */
  readonly limit?: number;
  /** The cgroup's peak usage, page cache included; undefined when the host does not show it. */
  readonly cgroupPeak?: number;
  /** The cgroup's anonymous memory now (v1 `total_rss`, v2 `anon` of memory.stat): what cannot be reclaimed. */
  readonly cgroupRss?: number;
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

/** The memory files of a container's cgroup, v1 or v2, by the name the figure has. */
function memoryFiles(
  dir: string,
  v2: boolean,
): { limit: string; peak: string; stat: string; rssKey: string } {
  return v2
    ? {
      limit: `${dir}/memory.max`,
      peak: `${dir}/memory.peak`,
      stat: `${dir}/memory.stat`,
      rssKey: "anon",
    }
    : {
      limit: `${dir}/memory.limit_in_bytes`,
      peak: `${dir}/memory.max_usage_in_bytes`,
      stat: `${dir}/memory.stat`,
      rssKey: "total_rss",
    };
}

/** One key of a cgroup memory.stat text, in bytes. */
export function memoryStatOf(stat: string, key: string): number | undefined {
  const match = new RegExp(`^${key} (\\d+)$`, "m").exec(stat);
  return match ? Number(match[1]) : undefined;
}

/**
 * The cgroup directories a container's memory may be under: where /proc/<pid>/cgroup puts its
 * process, then where the cgroupfs or the systemd driver puts a container, on v1 and v2.
 */
function cgroupDirs(id: string, procCgroup: string | undefined): [string, boolean][] {
  const v1 = procCgroup && /^\d+:memory:(\/.*)$/m.exec(procCgroup)?.[1];
  const v2 = procCgroup && /^0::(\/.*)$/m.exec(procCgroup)?.[1];
  return [
    ...(v1 ? [[`/sys/fs/cgroup/memory${v1}`, false] as [string, boolean]] : []),
    ...(v2 && !v1 ? [[`/sys/fs/cgroup${v2}`, true] as [string, boolean]] : []),
    [`/sys/fs/cgroup/memory/docker/${id}`, false], // v1, cgroupfs driver
    [`/sys/fs/cgroup/memory/system.slice/docker-${id}.scope`, false], // v1, systemd driver
    [`/sys/fs/cgroup/docker/${id}`, true], // v2, cgroupfs driver
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope`, true], // v2, systemd driver
  ];
}

/** The last process of the chain that starts at `pid` (tini → deno): the service itself. */
async function leafProcess(pid: number): Promise<number> {
  for (let depth = 0; depth < 4; depth++) {
    const path = `/proc/${pid}/task/${pid}/children`;
    const children = (await readProc([path])).get(path)?.trim();
    if (!children) return pid;
    pid = Number(children.split(/\s+/)[0]);
  }
  return pid;
}

/**
 * The memory figures of containers by id (full or short). Needs root on the
 * host for /proc and the cgroup files, read through `tail` (ops/kit/proc.ts);
 * a figure the host does not show is left undefined, never guessed.
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
    const pid = Number(pidText);
    const leaf = pid > 0 ? await leafProcess(pid) : 0;
    const own = pid > 0 ? await readProc([`/proc/${pid}/cgroup`]) : new Map();
    const candidates = cgroupDirs(id, own.get(`/proc/${pid}/cgroup`)).map(([dir, v2]) =>
      memoryFiles(dir, v2)
    );
    const files = await readProc([
      ...candidates.flatMap((c) => [c.limit, c.peak, c.stat]),
      ...(leaf > 0 ? [`/proc/${leaf}/status`] : []),
    ]);
    const found = candidates.find((c) => files.has(c.limit));
    const status = files.get(`/proc/${leaf}/status`);
    figures.push({
      id,
      oomKilled: oomText === "true",
      limit: found && cgroupNumber(files.get(found.limit) ?? ""),
      cgroupPeak: found && cgroupNumber(files.get(found.peak) ?? ""),
      cgroupRss: found && memoryStatOf(files.get(found.stat) ?? "", found.rssKey),
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

/**
 * Polls containers' memory every `intervalMs` until stopped and keeps, per container, the largest
 * anonymous memory its cgroup held: the peak a limit must hold, since the page cache that fills
 * the rest of a container that writes files (metric) is reclaimed before anything is killed.
 */
export class MemorySampler {
  readonly peaks = new Map<string, number>();
  #running = true;
  readonly #done: Promise<void>;

  constructor(
    ids: () => Promise<readonly string[]>,
    inspect: (ids: readonly string[]) => Promise<string>,
    intervalMs = 1_000,
  ) {
    this.#done = (async () => {
      while (this.#running) {
        try {
          for (const f of await containerMemory(await ids(), inspect)) {
            if (f.cgroupRss !== undefined) {
              this.peaks.set(f.id, Math.max(this.peaks.get(f.id) ?? 0, f.cgroupRss));
            }
          }
        } catch {
          // a container that went between the listing and the reading: next round
        }
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Stops polling; resolves with the peaks by container id. */
  async stop(): Promise<Map<string, number>> {
    this.#running = false;
    await this.#done;
    return this.peaks;
  }
}
