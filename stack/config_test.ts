import assert from "node:assert/strict";
import {
  choiceField,
  ConfigError,
  type EnvGetter,
  envNames,
  type FileReader,
  intField,
  loadConfig,
  optionalIntField,
  textField,
} from "./config.ts";

/** An environment made of a plain record, as a service would see it. */
function env(values: Record<string, string>): EnvGetter {
  return (name) => values[name];
}

/** A reader that must not be called. */
const noFiles: FileReader = (path) => {
  throw new Error(`unexpected read of ${path}`);
};

/** The ConfigError that `fn` throws; fails the test when it throws nothing or something else. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected a ConfigError, nothing was thrown");
}

const PORT = intField("PORT", 8000, { min: 0, max: 65535, doc: "port" });

Deno.test("intField() reads an integer within its bounds", async (t) => {
  const cases: [string | undefined, number][] = [
    [undefined, 8000],
    ["", 8000],
    ["   ", 8000],
    ["0", 0],
    ["65535", 65535],
    [" 42 ", 42],
    ["007", 7],
  ];
  for (const [raw, expected] of cases) {
    await t.step(`${JSON.stringify(raw) ?? "unset"} gives ${expected}`, () => {
      assert.equal(PORT.parse(raw), expected);
    });
  }
});

Deno.test("intField() rejects anything but an integer within its bounds", async (t) => {
  const cases = ["-1", "65536", "1.5", "1e3", "0x10", "abc", "+5", "12 34", "NaN", "Infinity"];
  for (const raw of cases) {
    await t.step(JSON.stringify(raw), () => {
      assert.throws(() => PORT.parse(raw), {
        name: "RangeError",
        message: `must be an integer from 0 to 65535: current value is ${JSON.stringify(raw)}`,
      });
    });
  }
  await t.step("a negative bound is accepted", () => {
    const offset = intField("OFFSET", 0, { min: -10, max: 10, doc: "offset" });
    assert.equal(offset.parse("-10"), -10);
    assert.throws(() => offset.parse("-11"), RangeError);
  });
});

Deno.test("optionalIntField() gives undefined when unset and checks bounds otherwise", async (t) => {
  const seed = optionalIntField("SEED", { min: 0, max: 100, doc: "seed" });
  await t.step("unset or empty is undefined", () => {
    assert.equal(seed.parse(undefined), undefined);
    assert.equal(seed.parse(""), undefined);
  });
  await t.step("a value is parsed, zero included", () => {
    assert.equal(seed.parse("0"), 0);
    assert.equal(seed.parse("100"), 100);
  });
  await t.step("out of bounds is an error", () => {
    assert.throws(() => seed.parse("101"), {
      message: 'must be an integer from 0 to 100: current value is "101"',
    });
  });
  await t.step("it keeps the variable name and doc", () => {
    assert.equal(seed.env, "SEED");
    assert.equal(seed.doc, "seed");
  });
});

Deno.test("textField() trims, falls back when empty and checks its pattern", async (t) => {
  const name = textField("NAME", "fallback", {
    doc: "name",
    pattern: /^[a-z]+$/,
    expect: "lower-case letters",
  });
  await t.step("unset, empty and blank give the fallback", () => {
    assert.equal(name.parse(undefined), "fallback");
    assert.equal(name.parse(""), "fallback");
    assert.equal(name.parse("  "), "fallback");
  });
  await t.step("a value is trimmed", () => {
    assert.equal(name.parse("  abc\n"), "abc");
  });
  await t.step("a value against the pattern names what is expected", () => {
    assert.throws(() => name.parse("ABC"), {
      name: "TypeError",
      message: 'must be lower-case letters: current value is "ABC"',
    });
  });
  await t.step("without `expect` the message shows the pattern", () => {
    const plain = textField("CODE", "", { doc: "code", pattern: /^\d{3}$/ });
    assert.throws(() => plain.parse("12"), {
      message: 'must be text matching /^\\d{3}$/: current value is "12"',
    });
    assert.throws(() => plain.parse(undefined), {
      message: "must be text matching /^\\d{3}$/: current value is unset",
    });
  });
  await t.step("without a pattern anything goes", () => {
    const free = textField("FREE", "", { doc: "free" });
    assert.equal(free.parse(" a, b; c "), "a, b; c");
    assert.equal(free.fromFile, undefined);
  });
});

Deno.test("choiceField() accepts one of its words in any case", async (t) => {
  const level = choiceField("LEVEL", "info", ["debug", "info", "error"] as const, "level");
  const cases: [string | undefined, string][] = [
    [undefined, "info"],
    ["", "info"],
    ["debug", "debug"],
    [" ERROR ", "error"],
  ];
  for (const [raw, expected] of cases) {
    await t.step(`${JSON.stringify(raw) ?? "unset"} gives ${expected}`, () => {
      assert.equal(level.parse(raw), expected);
    });
  }
  await t.step("another word lists the choices", () => {
    assert.throws(() => level.parse("verbose"), {
      name: "TypeError",
      message: 'must be one of debug, info, error: current value is "verbose"',
    });
  });
});

Deno.test("envNames() lists every variable of a schema, *_FILE companions included", () => {
  const schema = {
    port: PORT,
    password: textField("PASSWORD", "", { doc: "secret", fromFile: true }),
    level: choiceField("LEVEL", "info", ["info"] as const, "level"),
  };
  assert.deepEqual(envNames(schema), ["PORT", "PASSWORD", "PASSWORD_FILE", "LEVEL"]);
});

Deno.test("loadConfig() returns a frozen object of every field's value", () => {
  const schema = {
    port: PORT,
    name: textField("NAME", "svc", { doc: "name" }),
    level: choiceField("LEVEL", "info", ["info", "debug"] as const, "level"),
    seed: optionalIntField("SEED", { min: 0, max: 9, doc: "seed" }),
  };
  const config = loadConfig(schema, env({ PORT: "81", LEVEL: "DEBUG" }), noFiles);
  assert.deepEqual(config, { port: 81, name: "svc", level: "debug", seed: undefined });
  assert.ok(Object.isFrozen(config));
});

Deno.test("loadConfig() reports every problem at once in one ConfigError", () => {
  const schema = {
    port: PORT,
    name: textField("NAME", "svc", { doc: "name", pattern: /^\w+$/, expect: "a word" }),
    level: choiceField("LEVEL", "info", ["info", "debug"] as const, "level"),
    fine: intField("FINE", 1, { min: 0, max: 9, doc: "fine" }),
  };
  const error = configError(() =>
    loadConfig(schema, env({ PORT: "http", NAME: "two words", LEVEL: "loud", FINE: "3" }), noFiles)
  );
  assert.deepEqual(error.problems, [
    'PORT must be an integer from 0 to 65535: current value is "http"',
    'NAME must be a word: current value is "two words"',
    'LEVEL must be one of info, debug: current value is "loud"',
  ]);
  assert.equal(error.name, "ConfigError");
  assert.equal(
    error.message,
    "Cannot start as the configuration is invalid:\n" +
      '  - PORT must be an integer from 0 to 65535: current value is "http"\n' +
      '  - NAME must be a word: current value is "two words"\n' +
      '  - LEVEL must be one of info, debug: current value is "loud"',
  );
});

Deno.test("loadConfig() reads a fromFile field from the file its *_FILE variable names", async (t) => {
  const schema = {
    user: textField("USER", "guest", { doc: "user", fromFile: true }),
    password: textField("PASSWORD", "", { doc: "password", fromFile: true }),
    port: PORT,
  };
  const files: Record<string, string> = {
    "/run/secrets/user": "alice\n",
    "/run/secrets/password": "  s3cret  \n",
    "/run/secrets/empty": "\n",
  };
  const reads: string[] = [];
  const reader: FileReader = (path) => {
    reads.push(path);
    if (!(path in files)) throw new Error(`No such file or directory: ${path}`);
    return files[path];
  };

  await t.step("the file's content is trimmed and used as the value", () => {
    reads.length = 0;
    const config = loadConfig(
      schema,
      env({ USER_FILE: "/run/secrets/user", PASSWORD_FILE: "/run/secrets/password" }),
      reader,
    );
    assert.deepEqual(config, { user: "alice", password: "s3cret", port: 8000 });
    assert.deepEqual(reads, ["/run/secrets/user", "/run/secrets/password"]);
  });

  await t.step("the plain variable is used when *_FILE is unset or empty", () => {
    reads.length = 0;
    const config = loadConfig(schema, env({ USER: "bob", USER_FILE: "" }), reader);
    assert.deepEqual(config, { user: "bob", password: "", port: 8000 });
    assert.deepEqual(reads, []);
  });

  await t.step("an empty file gives the fallback", () => {
    const config = loadConfig(schema, env({ USER_FILE: "/run/secrets/empty" }), reader);
    assert.equal(config.user, "guest");
  });

  await t.step("an empty plain variable next to *_FILE is not a conflict", () => {
    const config = loadConfig(schema, env({ USER: "", USER_FILE: "/run/secrets/user" }), reader);
    assert.equal(config.user, "alice");
  });

  await t.step("giving both is an error, reported with the other problems", () => {
    reads.length = 0;
    const error = configError(() =>
      loadConfig(
        schema,
        env({ USER: "bob", USER_FILE: "/run/secrets/user", PORT: "-1" }),
        reader,
      )
    );
    assert.deepEqual(error.problems, [
      "USER and USER_FILE are both set: give only one",
      'PORT must be an integer from 0 to 65535: current value is "-1"',
    ]);
    assert.deepEqual(reads, []);
  });

  await t.step("an unreadable file names the variable, the path and the cause", () => {
    const error = configError(() =>
      loadConfig(
        schema,
        env({ USER_FILE: "/run/secrets/missing", PASSWORD_FILE: "/run/secrets/password" }),
        reader,
      )
    );
    assert.deepEqual(error.problems, [
      'USER_FILE names a file that cannot be read: current value is "/run/secrets/missing" ' +
      "(No such file or directory: /run/secrets/missing)",
    ]);
  });

  await t.step("*_FILE is ignored on a field without fromFile", () => {
    const config = loadConfig(schema, env({ PORT_FILE: "/run/secrets/user" }), noFiles);
    assert.equal(config.port, 8000);
  });

  await t.step("a value read from a file is checked like any other", () => {
    const checked = {
      code: textField("CODE", "", {
        doc: "code",
        fromFile: true,
        pattern: /^\d+$/,
        expect: "digits",
      }),
    };
    const error = configError(() =>
      loadConfig(checked, env({ CODE_FILE: "/run/secrets/user" }), reader)
    );
    assert.deepEqual(error.problems, ['CODE must be digits: current value is "alice"']);
  });
});

Deno.test("loadConfig() reads real files by default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/password`, "from-disk\n");
    const schema = { password: textField("PASSWORD", "", { doc: "password", fromFile: true }) };
    const config = loadConfig(schema, env({ PASSWORD_FILE: `${dir}/password` }));
    assert.equal(config.password, "from-disk");
    const error = configError(() =>
      loadConfig(schema, env({ PASSWORD_FILE: `${dir}/nothing-here` }))
    );
    assert.equal(error.problems.length, 1);
    assert.match(
      error.problems[0],
      new RegExp(
        `^PASSWORD_FILE names a file that cannot be read: current value is "${dir}/nothing-here" \\(.+\\)$`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
