/**
 * The images' entrypoint and health probe (ops/images/ml_entry.c),
 * compiled here with gcc as `deno task images` does, and run for real:
 * - the V8 sizing it derives from a cgroup memory file (v2 `memory.max`, v1
 *   `memory.limit_in_bytes`, "no limit" in both spellings), read through a
 *   private mount namespace (`unshare -m`, root) in which a folder of ours is
 *   mounted over /sys/fs/cgroup;
 * - `ml-entry healthz PORT PATH` against a real HTTP server.
 */
import assert from "node:assert/strict";
import { freePort } from "../ops/kit/local_broker.ts";

const dir = await Deno.makeTempDir({ prefix: "ml-entry-" });
const entry = `${dir}/ml-entry`;
const SOURCE = new URL("../ops/images/ml_entry.c", import.meta.url).pathname;

/** Runs with `env` alone (and PATH), so no DENO_V8_FLAGS of ours leaks in. */
async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(command, {
    args,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function compile(): Promise<void> {
  const gcc = await run("gcc", [
    "-static",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-o",
    entry,
    SOURCE,
  ]);
  assert.equal(gcc.code, 0, `gcc failed:\n${gcc.stderr}`);
}

/**
 * The variables ml-entry hands to the program it execs, with `files` (path under the cgroup
 * root → content) as the cgroup it sees.
 */
async function sizedEnv(
  files: Record<string, string>,
  env: Record<string, string> = {},
): Promise<Record<string, string>> {
  const root = await Deno.makeTempDir({ dir, prefix: "cgroup-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, content);
  }
  const script = `mount --bind ${root} /sys/fs/cgroup && exec ${entry} /usr/bin/env`;
  const out = await run("unshare", ["-m", "sh", "-c", script], env);
  assert.equal(out.code, 0, `ml-entry failed:\n${out.stderr}`);
  const vars = out.stdout.trim().split("\n").map((l) => l.split(/=(.*)/s));
  return Object.fromEntries(
    vars.filter(([name]) => /^(DENO_V8_FLAGS|MEMORY_LIMIT_BYTES)$/.test(name)),
  );
}

const MiB = 1024 * 1024;

Deno.test({
  name: "ml-entry sizes V8 from the cgroup's memory limit",
  ignore: Deno.uid() !== 0, // unshare -m needs root
  async fn(t) {
    await compile();
    await t.step(
      "cgroup v2: a quarter of memory.max for the old space, 1 MiB semi-spaces",
      async () => {
        assert.deepEqual(await sizedEnv({ "memory.max": `${128 * MiB}\n` }), {
          MEMORY_LIMIT_BYTES: String(128 * MiB),
          DENO_V8_FLAGS: "--max-old-space-size=32,--max-semi-space-size=1",
        });
      },
    );
    await t.step("cgroup v1: memory/memory.limit_in_bytes", async () => {
      assert.deepEqual(await sizedEnv({ "memory/memory.limit_in_bytes": `${160 * MiB}\n` }), {
        MEMORY_LIMIT_BYTES: String(160 * MiB),
        DENO_V8_FLAGS: "--max-old-space-size=40,--max-semi-space-size=1",
      });
    });
    await t.step("a small limit still leaves V8 a 16 MiB old space", async () => {
      assert.equal(
        (await sizedEnv({ "memory.max": `${32 * MiB}` })).DENO_V8_FLAGS,
        "--max-old-space-size=16,--max-semi-space-size=1",
      );
    });
    await t.step("no limit (v2 'max', v1's huge number): V8 left alone, limit 0", async () => {
      const none = { MEMORY_LIMIT_BYTES: "0" };
      assert.deepEqual(await sizedEnv({ "memory.max": "max\n" }), none);
      assert.deepEqual(
        await sizedEnv({ "memory/memory.limit_in_bytes": "9223372036854771712\n" }),
        none,
      );
      assert.deepEqual(await sizedEnv({}), none);
    });
    await t.step("an explicit DENO_V8_FLAGS wins", async () => {
      assert.deepEqual(
        await sizedEnv({ "memory.max": `${128 * MiB}` }, {
          DENO_V8_FLAGS: "--max-old-space-size=50",
        }),
        { MEMORY_LIMIT_BYTES: String(128 * MiB), DENO_V8_FLAGS: "--max-old-space-size=50" },
      );
    });
  },
});

Deno.test("ml-entry healthz exits 0 only on a 200 from the path", async (t) => {
  await compile();
  const port = freePort();
  const server = Deno.serve(
    { port, hostname: "127.0.0.1", onListen() {} },
    (request) =>
      new Response(null, { status: new URL(request.url).pathname === "/healthz" ? 200 : 503 }),
  );
  try {
    const probe = (...args: string[]) => run(entry, ["healthz", ...args]);
    await t.step(
      "200 → 0",
      async () => assert.equal((await probe(String(port), "/healthz")).code, 0),
    );
    await t.step("503 → 1, with the status line on stderr", async () => {
      const out = await probe(String(port), "/readyz");
      assert.equal(out.code, 1);
      assert.match(out.stderr, /503/);
    });
    await t.step("nothing listening → 1", async () => {
      assert.equal((await probe(String(freePort()), "/healthz")).code, 1);
    });
    await t.step(
      "not a port → 2",
      async () => assert.equal((await probe("http", "/healthz")).code, 2),
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("ml-entry cleanup", { sanitizeResources: false }, async () => {
  await Deno.remove(dir, { recursive: true });
});
