import assert from "node:assert/strict";
import { envNames } from "../stack/config.ts";
import { SCHEMAS } from "./launch.ts";
import {
  BEGIN,
  configRows,
  configTable,
  END,
  LINKED_DOCS,
  markdownTable,
  README_MAX_LINES,
  relativeLinks,
  withConfigTable,
} from "./readme.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("README.md's config table is the one the schemas give", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.ok(
    readme === withConfigTable(readme, configTable()),
    "README.md's config table is stale: run `deno task readme`",
  );
});

Deno.test("configRows() lists every variable of every schema once, with its doc", async (t) => {
  const rows = configRows();
  await t.step("one row per variable", () => {
    const all = Object.values(SCHEMAS).flatMap((schema) =>
      Object.values(schema).map((field) => `\`${field.env}\``)
    );
    assert.deepEqual(rows.map((row) => row[0]).sort(), [...new Set(all)].sort());
  });
  await t.step("every meaning is written", () => {
    for (const row of rows) assert.ok(row[3].length > 0, row[0]);
  });
  await t.step("shared variables say all, others name their services", () => {
    const services = Object.fromEntries(rows.map((row) => [row[0], row[1]]));
    assert.equal(services["`AMQP_URL`"], "features, model, metric");
    assert.equal(services["`LOG_FORMAT`"], "all");
    assert.equal(services["`MAX_BODY_BYTES`"], "model, metric");
    assert.equal(services["`LOG_DIR`"], "metric");
  });
  await t.step("defaults come from the fields, per service where they differ", () => {
    const defaults = Object.fromEntries(rows.map((row) => [row[0], row[2]]));
    assert.equal(defaults["`AMQP_URL`"], "`amqp://localhost:5672`");
    assert.equal(
      defaults["`HTTP_PORT`"],
      "features `8001`, model `8002`, metric `8003`, controller `8004`",
    );
    assert.equal(defaults["`SEED`"], "–");
  });
  await t.step("the *_FILE companions are in the docs, not rows", () => {
    const named = new Set(Object.values(SCHEMAS).flatMap(envNames));
    assert.ok(named.has("AMQP_PASSWORD_FILE"));
    assert.ok(!rows.some((row) => row[0] === "`AMQP_PASSWORD_FILE`"));
    assert.match(rows.find((row) => row[0] === "`AMQP_PASSWORD`")![3], /AMQP_PASSWORD_FILE/);
  });
});

Deno.test("markdownTable() pads every column as deno fmt does", () => {
  assert.equal(
    markdownTable(["a", "long header"], [["x|y", "1"], ["–", ""]]),
    [
      "| a    | long header |",
      "| ---- | ----------- |",
      "| x\\|y | 1           |",
      "| –    |             |",
    ].join("\n"),
  );
});

Deno.test("withConfigTable() replaces only what lies between the markers", async (t) => {
  await t.step("the text around them stays", () => {
    const readme = `# Title\n\n${BEGIN}\n\nold table\n\n${END}\n\nAfter.\n`;
    assert.equal(
      withConfigTable(readme, "| new |"),
      `# Title\n\n${BEGIN}\n\n| new |\n\n${END}\n\nAfter.\n`,
    );
  });
  await t.step("it is idempotent", () => {
    const once = withConfigTable(`${BEGIN}\n${END}\n`, "| t |");
    assert.equal(withConfigTable(once, "| t |"), once);
  });
  await t.step("missing markers are an error that names them", () => {
    assert.throws(() => withConfigTable("# no table\n", "| t |"), SyntaxError);
    assert.throws(() => withConfigTable(`${END}\n${BEGIN}\n`, "| t |"), SyntaxError);
  });
});

Deno.test("README.md stays within README_MAX_LINES lines", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const lines = readme.match(/\n/g)?.length ?? 0;
  assert.ok(
    lines <= README_MAX_LINES,
    `Cannot keep README.md a front door as it has ${lines} lines, over ${README_MAX_LINES}: ` +
      "move operations to docs/operations.md and measurements to docs/benchmarks.md",
  );
});

Deno.test("every relative link in README.md and docs/operations.md names a path that exists", async (t) => {
  for (const doc of LINKED_DOCS) {
    await t.step(doc, async () => {
      const base = new URL(doc, ROOT);
      const links = relativeLinks(await Deno.readTextFile(base));
      assert.ok(
        links.length > 0,
        `${doc} has no relative link: is relativeLinks() still reading it?`,
      );
      const missing: string[] = [];
      for (const target of links) {
        try {
          await Deno.stat(new URL(target, base));
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
          missing.push(target);
        }
      }
      assert.deepEqual(
        missing,
        [],
        `${doc} links to paths that do not exist: ${missing.join(", ")}`,
      );
    });
  }
});

Deno.test("README.md's test command is `deno task ok`, the one .ci/run calls", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  assert.match(readme, /`deno task ok`/);
  assert.match(ci, /^deno task ok\b/m);
});

Deno.test("relativeLinks() lists the paths a markdown text links to", async (t) => {
  await t.step("files and folders, without their anchor or query", () => {
    assert.deepEqual(
      relativeLinks("[a](docs/x.md#part) and [b](ops/), [c](../README.md?plain)"),
      ["docs/x.md", "ops/", "../README.md"],
    );
  });
  await t.step("a link with a title", () => {
    assert.deepEqual(relativeLinks('[t](a.md "The title")'), ["a.md"]);
  });
  await t.step("web and mail addresses and in-page anchors are left out", () => {
    assert.deepEqual(
      relativeLinks("[w](https://x.org/a) [m](mailto:a@b.org) [s](#top) <http://localhost:8003/>"),
      [],
    );
  });
  await t.step("fenced code blocks are left out", () => {
    assert.deepEqual(relativeLinks("```sh\necho '[x](nope)'\n```\n[y](yes.md)\n"), ["yes.md"]);
  });
});
