import assert from "node:assert/strict";
import {
  MIN_OLD_SPACE_MIB,
  parseMemorySize,
  SEMI_SPACE_MIB,
  stackMemoryLimits,
  v8FlagsFor,
} from "./v8_sizing.ts";

Deno.test("v8FlagsFor() gives a quarter of the limit to the old space", () => {
  assert.equal(v8FlagsFor(128 * 2 ** 20), "--max-old-space-size=32,--max-semi-space-size=1");
  assert.equal(v8FlagsFor(32 * 2 ** 20), "--max-old-space-size=16,--max-semi-space-size=1");
  assert.equal(v8FlagsFor(0), "");
});

Deno.test("parseMemorySize() reads Compose sizes", () => {
  assert.equal(parseMemorySize("128M"), 128 * 2 ** 20);
  assert.equal(parseMemorySize("1g"), 2 ** 30);
  assert.equal(parseMemorySize("512k"), 512 * 1024);
  assert.equal(parseMemorySize("1048576"), 2 ** 20);
  assert.throws(() => parseMemorySize("lots"), SyntaxError);
});

Deno.test("the bench sizes V8 as the images' entrypoint does, from docker-stack.yml", async () => {
  const root = new URL("../", import.meta.url);
  const limits = stackMemoryLimits(await Deno.readTextFile(new URL("docker-stack.yml", root)));
  for (const bytes of Object.values(limits)) assert.ok(bytes >= 64 * 2 ** 20);
  const c = await Deno.readTextFile(new URL("ops/images/ml_entry.c", root));
  assert.match(c, new RegExp(`#define MIN_OLD_SPACE_MIB ${MIN_OLD_SPACE_MIB}ULL`));
  assert.match(c, new RegExp(`#define SEMI_SPACE_MIB ${SEMI_SPACE_MIB}ULL`));
  assert.match(c, /old_space = limit \/ 4 \/ MIB;/);
});
