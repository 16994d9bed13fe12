import assert from "node:assert/strict";
import { isServiceName, manifestOf, SCHEMAS, SERVICE_NAMES, SERVICES } from "./services.ts";

const ROOT = new URL("../", import.meta.url);

function read(path: string): Promise<string> {
  return Deno.readTextFile(new URL(path, ROOT));
}

Deno.test("the manifests name each service once, after its folder", async () => {
  assert.equal(new Set(SERVICE_NAMES).size, SERVICE_NAMES.length);
  for (const service of SERVICES) {
    assert.ok((await Deno.stat(new URL(`${service.name}/main.ts`, ROOT))).isFile, service.name);
    assert.equal(manifestOf(service.name), service);
    assert.equal(SCHEMAS[service.name], service.schema);
    assert.equal(service.schema.httpPort.parse(undefined), service.httpPort);
  }
  assert.equal(new Set(SERVICES.map((service) => service.httpPort)).size, SERVICES.length);
  assert.ok(!isServiceName("rabbitmq"));
});

Deno.test("a service that writes its path has that path as its image's volume", () => {
  for (const service of SERVICES) {
    const volume = "volume" in service ? service.volume : undefined;
    const path = "path" in service ? service.path : undefined;
    if (path?.use === "write") assert.equal(volume, path.field.parse(undefined));
    else assert.equal(volume, undefined, service.name);
  }
});

Deno.test("the files every service reads exist", async () => {
  for (const service of SERVICES) {
    for (const path of service.alsoReads) {
      assert.ok((await Deno.stat(new URL(path, ROOT))).isFile, `${service.name}: ${path}`);
    }
  }
});

Deno.test(".dockerignore lets into the build context exactly stack/ and the services' folders", async () => {
  const allowed = (await read(".dockerignore")).split("\n")
    .filter((line) => line.startsWith("!")).map((line) => line.slice(1));
  assert.deepEqual(
    allowed.sort(),
    ["deno.json", "deno.lock", ".deno", "stack", ...SERVICE_NAMES].sort(),
  );
});

Deno.test("the stack runs each service from its image", async () => {
  for (const file of ["docker-stack.yml"]) {
    const text = await read(file);
    for (const service of SERVICES) {
      const block = text.match(new RegExp(`^  ${service.name}:\\n((?:    .*\\n|\\s*\\n)+)`, "m"));
      assert.ok(block, `${file} has no service '${service.name}'`);
      assert.match(
        block[1],
        new RegExp(`image: \\$\\{REGISTRY:-\\}${service.image}:\\$\\{IMAGE_TAG:-latest\\}`),
        `${file}: ${service.name}`,
      );
    }
  }
});

Deno.test("Prometheus scrapes each service on its port", async () => {
  const text = await read("ops/images/prometheus/prometheus.yml");
  for (const service of SERVICES) {
    assert.match(
      text,
      new RegExp(
        `job_name: ${service.name}\\n(?:.*\\n){0,3}.*names: \\[${service.name}\\], type: A, port: ${service.httpPort}`,
      ),
      service.name,
    );
  }
});

/**
 * The modules `entry` loads at run time, relative to the repo root: its static imports and
 * re-exports (not `import type`), dynamic imports and workers' `new URL(..., import.meta.url)`,
 * followed through relative specifiers.
 */
async function loadedModules(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const todo = [entry];
  const reference =
    /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+"(\.\.?\/[^"]+)"|import\(\s*"(\.\.?\/[^"]+)"\s*\)|new URL\(\s*"(\.\.?\/[^"]+\.ts)",\s*import\.meta\.url\)|(?:^|\n)import\s+"(\.\.?\/[^"]+)"/g;
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = await read(file);
    for (const match of text.matchAll(reference)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? match[4];
      const path = new URL(specifier, new URL(file, ROOT)).pathname.slice(ROOT.pathname.length);
      todo.push(path);
    }
  }
  return seen;
}

Deno.test("each service's image holds every module its main.ts loads", async () => {
  for (const service of SERVICES) {
    const extra: readonly string[] = "alsoImports" in service ? service.alsoImports : [];
    const outside = [...await loadedModules(`${service.name}/main.ts`)].filter((path) =>
      !path.startsWith("stack/") && !path.startsWith(`${service.name}/`) && !extra.includes(path)
    );
    assert.deepEqual(outside, [], `${service.name} loads modules its image does not copy`);
    for (const path of extra) {
      assert.ok((await Deno.stat(new URL(path, ROOT))).isFile, `${service.name}: ${path}`);
    }
  }
});
