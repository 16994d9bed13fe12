/**
 * Running a command to its end with its output captured, and text on its standard input if
 * given: the one way the operator tools and the tests run `docker`, `haproxy` and the like.
 *
 * @module
 */

/** What a command printed, and whether it succeeded. */
export interface CommandResult {
  readonly ok: boolean;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` with `stdin` (none when absent) and `env` added to the environment. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args: [...args],
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    ok: output.success,
    code: output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}
