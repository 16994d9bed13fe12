import assert from "node:assert/strict";
import { splitTailOutput } from "./proc.ts";

Deno.test("splitTailOutput() splits `tail -v` output by file", () => {
  const output =
    "==> /proc/1/stat <==\n1 (a) S 0\n\n==> /proc/2/status <==\nName:\tb\nVmHWM:\t1 kB\n";
  assert.deepEqual(
    [...splitTailOutput(output)],
    [["/proc/1/stat", "1 (a) S 0\n"], ["/proc/2/status", "Name:\tb\nVmHWM:\t1 kB\n"]],
  );
  assert.equal(splitTailOutput("").size, 0);
});
