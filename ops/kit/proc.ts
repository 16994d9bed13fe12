/**
 * Reading `/proc` and `/sys`. Deno 2 grants them only with `--allow-all`, so
 * the bench and the e2e tests ask `tail` (one process per poll, every file at
 * once) rather than running with every permission.
 *
 * @module
 */

/** The text of each readable file among `paths`; files that are gone (an exited pid) are left out. */
export async function readProc(paths: readonly string[]): Promise<Map<string, string>> {
  const output = await new Deno.Command("tail", {
    args: ["-v", "-n", "+1", "--", ...paths],
    stdout: "piped",
    stderr: "null",
  }).output();
  return splitTailOutput(new TextDecoder().decode(output.stdout));
}

/** The text of one `/proc` file; throws when it cannot be read. */
export async function readProcFile(path: string): Promise<string> {
  const text = (await readProc([path])).get(path);
  if (text === undefined) throw new Error(`Cannot read ${path}`);
  return text;
}

/** Splits `tail -v` output ("==> path <==" before each file) into path → text. */
export function splitTailOutput(output: string): Map<string, string> {
  const files = new Map<string, string>();
  const header = /^==> (.+) <==\n/gm;
  const marks = [...output.matchAll(header)];
  marks.forEach((mark, i) => {
    const start = mark.index + mark[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index : output.length;
    // tail separates files with one blank line.
    let text = output.slice(start, end);
    if (i + 1 < marks.length && text.endsWith("\n\n")) text = text.slice(0, -1);
    files.set(mark[1], text);
  });
  return files;
}
