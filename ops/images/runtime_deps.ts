/**
 * Writes deno.lock narrowed to the npm packages the entrypoints load, with those packages' folders
 * in the host cache (one per line on stdout). deno.lock also pins the tests' tools (browsers
 * drivers and such); at start Deno wants every package of its lock in the cache, so the images
 * get a lock that lists only what the services run. The workspace section (what deno.json
 * imports) stays whole, so `--frozen` still checks deno.json against it.
 *
 * Run by `build.sh services`: `deno run --no-config --no-lock ops/images/runtime_deps.ts <lock out> <entrypoint>...`
 *
 * @module
 */
const [lockOut, ...entrypoints] = Deno.args;
const wanted = new Set<string>();
const snapshot: Record<string, { dependencies: string[]; localPath: string }> = {};
for (const entry of entrypoints) {
  const out = await new Deno.Command("deno", { args: ["info", "--json", entry], stderr: "inherit" })
    .output();
  if (!out.success) Deno.exit(1);
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const m of info.modules) {
    if (m.error) throw new Error(`${entry}: ${m.specifier}: ${m.error}`);
    if (m.kind === "npm") wanted.add(m.npmPackage);
    else if (!/^(file|node|npm):/.test(m.specifier)) {
      throw new Error(`${entry} loads ${m.specifier}: only files and npm packages are staged`);
    }
  }
  Object.assign(snapshot, info.npmPackages);
}
for (const id of wanted) for (const dep of snapshot[id].dependencies) wanted.add(dep);
const lock = JSON.parse(await Deno.readTextFile("deno.lock"));
lock.npm = Object.fromEntries(Object.entries(lock.npm ?? {}).filter(([id]) => wanted.has(id)));
lock.specifiers = Object.fromEntries(
  Object.entries(lock.specifiers ?? {}).filter(([spec, version]) =>
    !spec.startsWith("npm:") ||
    wanted.has(`${spec.slice(4).replace(/@[^@]*$/, "")}@${version}`)
  ),
);
await Deno.writeTextFile(lockOut, JSON.stringify(lock, null, 2) + "\n");
for (const id of [...wanted].sort()) console.log(snapshot[id].localPath);
