/**
 * What the bench reads of its processes in `/proc` during a pipeline run (`pipeline.ts`): each
 * service's resident set, its peak and its CPU time, and the CPU time of the broker, of the whole
 * machine and of the bench itself.
 *
 * @module
 */
import { readProc, readProcFile } from "../ops/kit/proc.ts";
import type { ServiceProcess } from "../ops/kit/process.ts";
import { anonRssBytes, cpuMsOfStat, machineCpuMs, peakRssBytes, rssBytes } from "./stats.ts";

/** A service of the run with what `/proc` said about it. */
export interface Measured {
  readonly process: ServiceProcess;
  peakRss: number;
  peakAnon: number;
  rss: number;
  cpuStart: number;
  cpu: number;
}

/** CPU time (ms) of the broker, the machine and this process at one moment. */
export interface CpuMark {
  readonly broker: number;
  readonly machine: number;
  readonly self: number;
}

/** Reads the memory and CPU time of every service still running. */
export async function sampleUsage(running: readonly Measured[]): Promise<void> {
  const live = running.filter((m) => !m.process.exitStatus);
  const files = await readProc(
    live.flatMap(({ process: { pid } }) => [`/proc/${pid}/status`, `/proc/${pid}/stat`]),
  );
  for (const measured of live) {
    // A process that exited meanwhile keeps its last sample.
    const status = files.get(`/proc/${measured.process.pid}/status`);
    const stat = files.get(`/proc/${measured.process.pid}/stat`);
    if (status) {
      measured.peakRss = Math.max(measured.peakRss, peakRssBytes(status) ?? 0);
      measured.peakAnon = Math.max(measured.peakAnon, anonRssBytes(status) ?? 0);
      measured.rss = rssBytes(status) ?? measured.rss;
    }
    if (stat) measured.cpu = cpuMsOfStat(stat);
  }
}

/** The resident set now and at its peak of every process started. */
export function memoryOf(
  running: readonly Measured[],
): Record<string, { rssBytes: number; peakRssBytes: number }> {
  return Object.fromEntries(
    running.map((m) => [m.process.name, { rssBytes: m.rss, peakRssBytes: m.peakRss }]),
  );
}

/** The CPU time so far of the broker (when its pid is known), the machine and this process. */
export async function cpuMark(brokerPid: number | undefined): Promise<CpuMark> {
  return {
    broker: brokerPid ? await processCpuMs(brokerPid) : 0,
    machine: machineCpuMs(await readProcFile("/proc/stat")),
    self: await processCpuMs(Deno.pid),
  };
}

/** CPU time (ms) a process has used so far. */
export async function processCpuMs(pid: number): Promise<number> {
  return cpuMsOfStat(await readProcFile(`/proc/${pid}/stat`));
}
