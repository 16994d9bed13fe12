/**
 * What the benchmark ran on and how busy the machine was: CPU, memory, Deno
 * and RabbitMQ versions, and the CPU time other processes took meanwhile
 * (other engineers' tests share these 2 cores).
 *
 * @module
 */
import { readProc, readProcFile } from "../ops/kit/proc.ts";
import { amqpServerVersion, cpuInfo, machineCpuMs, memTotalBytes } from "./stats.ts";

/** The machine and software of a benchmark run. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly deno: string;
  readonly v8: string;
  readonly typescript: string;
  readonly rabbitmq: string;
}

/** Reads `/proc` and asks the broker at `url` for its version. */
export async function describeMachine(url: string): Promise<Machine> {
  const files = await readProc(["/proc/cpuinfo", "/proc/meminfo", "/proc/sys/kernel/osrelease"]);
  const cpu = cpuInfo(files.get("/proc/cpuinfo") ?? "");
  return {
    cpuModel: cpu.model,
    cores: cpu.cores || navigator.hardwareConcurrency,
    memoryBytes: memTotalBytes(files.get("/proc/meminfo") ?? ""),
    kernel: (files.get("/proc/sys/kernel/osrelease") ?? "unknown").trim(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    rabbitmq: await brokerVersion(url),
  };
}

/**
 * The version a RabbitMQ node announces in `connection.start`, read by
 * sending the AMQP protocol header and nothing else; works for any broker
 * the URL names, with no management plugin or `rabbitmqctl`.
 */
export async function brokerVersion(url: string): Promise<string> {
  const parsed = new URL(url);
  if (parsed.protocol !== "amqp:") return "unknown (amqps)";
  let connection: Deno.TcpConn | undefined;
  const timer = setTimeout(() => connection?.close(), 5000);
  try {
    connection = await Deno.connect({
      hostname: parsed.hostname,
      port: Number(parsed.port || 5672),
    });
    await connection.write(new Uint8Array([65, 77, 81, 80, 0, 0, 9, 1]));
    const received: Uint8Array[] = [];
    let size = 0;
    const buffer = new Uint8Array(4096);
    while (size < 7 || size < 8 + new DataView(concat(received).buffer).getUint32(3)) {
      const read = await connection.read(buffer);
      if (read === null) break;
      received.push(buffer.slice(0, read));
      size += read;
    }
    return amqpServerVersion(concat(received)) ?? "unknown";
  } catch {
    return "unknown";
  } finally {
    clearTimeout(timer);
    try {
      connection?.close();
    } catch {
      // Closed by the timer already.
    }
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Busy CPU time (ms) of the whole machine so far. */
export async function machineBusyMs(): Promise<number> {
  return machineCpuMs(await readProcFile("/proc/stat"));
}

/**
 * Waits until the machine has been nearly idle (below `thresholdCores` of
 * busy CPU over a 1 s window) or `maxWaitMs` passed; returns the load of
 * the last window, in cores. Other engineers' test runs share the machine:
 * starting a measurement in a quiet moment keeps the figures comparable.
 */
export async function waitForQuiet(thresholdCores: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const before = await machineBusyMs();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cores = ((await machineBusyMs()) - before) / 1000;
    if (cores < thresholdCores || Date.now() >= deadline) return cores;
  }
}
