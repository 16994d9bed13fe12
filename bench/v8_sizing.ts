/**
 * The V8 sizing the service containers get, for the bench to run the
 * services the same way: the memory limits of `docker-stack.yml` (their
 * defaults) and the rule of the images' entrypoint
 * (`ops/images/ml_entry.c`): old space a quarter of the limit, at least
 * 16 MiB, and 1 MiB semi-spaces.
 *
 * @module
 */
import { SERVICE_NAMES, type ServiceName } from "../ops/services.ts";

const MiB = 2 ** 20;
/** Smallest old space the entrypoint gives, MiB. */
export const MIN_OLD_SPACE_MIB = 16;
/** Young-generation semi-space the entrypoint gives, MiB. */
export const SEMI_SPACE_MIB = 1;

/** `DENO_V8_FLAGS` for a container limited to `limitBytes` (0: no limit, no flags). */
export function v8FlagsFor(limitBytes: number): string {
  if (!(limitBytes > 0)) return "";
  const oldSpace = Math.max(MIN_OLD_SPACE_MIB, Math.floor(limitBytes / 4 / MiB));
  return `--max-old-space-size=${oldSpace},--max-semi-space-size=${SEMI_SPACE_MIB}`;
}

/** Bytes of a Compose memory size: `128M`, `1g`, `512k`, `1048576`, `64MiB`. */
export function parseMemorySize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) {
    throw new SyntaxError(`Cannot parse memory size: current value is "${text}"`);
  }
  const unit = { "": 1, k: 2 ** 10, m: MiB, g: 2 ** 30 }[match[2].toLowerCase() as "" | "k"];
  return Math.round(Number(match[1]) * unit);
}

/**
 * Each service's default memory limit in a stack file: the value after `:-` in
 * `memory: "${MODEL_MEMORY:-128M}"` under the service's `limits`.
 */
export function stackMemoryLimits(stackYaml: string): Record<ServiceName, number> {
  const limits = {} as Record<ServiceName, number>;
  for (const service of SERVICE_NAMES) {
    const variable = service.toUpperCase() + "_MEMORY";
    const match = new RegExp(`limits:.*memory: "\\$\\{${variable}:-([^}]+)\\}"`).exec(stackYaml);
    if (!match) throw new SyntaxError(`Cannot find the memory limit \${${variable}:-...}`);
    limits[service] = parseMemorySize(match[1]);
  }
  return limits;
}
