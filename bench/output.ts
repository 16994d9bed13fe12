/**
 * How the bench speaks and writes: its progress lines, `deno fmt` on the files it writes, and the
 * report of a run of its own (`--tls`, `--rollout`): `<name>.json` and `<name>.md`.
 *
 * @module
 */
import type { describeMachine } from "./machine.ts";

/** The repository root: where the bench runs the services and `deno fmt`. */
export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** A progress line, with the time. */
export function say(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

/** `deno fmt` on the written files, so `deno fmt --check` (deno task ok) passes on them. */
export async function formatDocs(paths: string[]): Promise<void> {
  const output = await new Deno.Command("deno", {
    args: ["fmt", "--quiet", ...paths],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) say(`deno fmt failed: ${new TextDecoder().decode(output.stderr)}`);
}

/** The machine, as a run of its own states where it was measured. */
export function machineLine(machine: Awaited<ReturnType<typeof describeMachine>>): string {
  return `${machine.cpuModel}, ${machine.cores} cores; Deno ${machine.deno}; RabbitMQ ${machine.rabbitmq}`;
}

/** A run of its own (`--tls`, `--rollout`): `<name>.json` and `<name>.md` in `outDir`, printed. */
export async function writeRunOfItsOwn(
  outDir: string,
  name: string,
  figures: unknown,
  markdown: string,
): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/${name}.json`, JSON.stringify(figures, null, 2) + "\n");
  await Deno.writeTextFile(`${outDir}/${name}.md`, markdown);
  await formatDocs([`${outDir}/${name}.json`, `${outDir}/${name}.md`]);
  console.log(await Deno.readTextFile(`${outDir}/${name}.md`));
  say(`wrote ${outDir}/${name}.md and ${name}.json`);
}
