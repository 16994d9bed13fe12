/**
 * Configuration from the environment: read once, validated whole, frozen.
 *
 * Each service describes its settings as a schema of fields; {@link loadConfig}
 * reads every field, collects every problem and throws one {@link ConfigError}
 * that names each variable and the value it had. No other module reads the
 * environment, so the `--allow-env` list of a service is exactly the
 * variables its schema names (see `ops/launch.ts`).
 *
 * @module
 */

/** Reads one environment variable; `Deno.env.get` in production, a map in tests. */
export type EnvGetter = (name: string) => string | undefined;
/** Reads a secret file named by a `*_FILE` variable. */
export type FileReader = (path: string) => string;

/** One setting: the variable it comes from and how to turn its text into a value. */
export interface Field<T> {
  readonly env: string;
  /** Also accept `<env>_FILE` naming a file that holds the value (Docker secrets). */
  readonly fromFile?: boolean;
  /** The meaning column of README.md's config table (`deno task readme`, `ops/readme.ts`). */
  readonly doc: string;
  /** Returns the value or throws an Error whose message says what is expected. */
  parse(raw: string | undefined): T;
}

/** The value type a field produces. */
export type FieldValue<F> = F extends Field<infer T> ? T : never;
/** A schema: property name → field. */
export type Schema = Record<string, Field<unknown>>;
/** The frozen object {@link loadConfig} returns for a schema. */
export type ConfigOf<S extends Schema> = { readonly [K in keyof S]: FieldValue<S[K]> };

/** Thrown by {@link loadConfig}; `problems` lists one line per bad variable. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(
      `Cannot start as the configuration is invalid:\n${
        problems.map((p) => `  - ${p}`).join("\n")
      }`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

function describe(raw: string | undefined): string {
  return raw === undefined ? "unset" : JSON.stringify(raw);
}

/** An integer in `[min, max]`; `fallback` when unset or empty. */
export function intField(
  env: string,
  fallback: number,
  options: { min: number; max: number; doc: string },
): Field<number> {
  return {
    env,
    doc: options.doc,
    parse(raw) {
      if (raw === undefined || raw.trim() === "") return fallback;
      const value = Number(raw.trim());
      if (!/^-?\d+$/.test(raw.trim()) || value < options.min || value > options.max) {
        throw new RangeError(
          `must be an integer from ${options.min} to ${options.max}: current value is ${
            describe(raw)
          }`,
        );
      }
      return value;
    },
  };
}

/** An integer in `[min, max]`, or `undefined` when unset or empty. */
export function optionalIntField(
  env: string,
  options: { min: number; max: number; doc: string },
): Field<number | undefined> {
  const inner = intField(env, Number.NaN, options);
  return {
    env,
    doc: options.doc,
    parse(raw) {
      const value = inner.parse(raw);
      return Number.isNaN(value) ? undefined : value;
    },
  };
}

/** Free text; `fallback` when unset or empty. */
export function textField(
  env: string,
  fallback: string,
  options: { doc: string; fromFile?: boolean; pattern?: RegExp; expect?: string },
): Field<string> {
  return {
    env,
    doc: options.doc,
    fromFile: options.fromFile,
    parse(raw) {
      const value = raw === undefined || raw.trim() === "" ? fallback : raw.trim();
      if (options.pattern && !options.pattern.test(value)) {
        throw new TypeError(
          `must be ${options.expect ?? `text matching ${options.pattern}`}: current value is ${
            describe(raw)
          }`,
        );
      }
      return value;
    },
  };
}

/** One of a fixed list of words. */
export function choiceField<const T extends string>(
  env: string,
  fallback: T,
  choices: readonly T[],
  doc: string,
): Field<T> {
  return {
    env,
    doc,
    parse(raw) {
      const value = raw === undefined || raw.trim() === "" ? fallback : raw.trim().toLowerCase();
      if (!(choices as readonly string[]).includes(value)) {
        throw new TypeError(
          `must be one of ${choices.join(", ")}: current value is ${describe(raw)}`,
        );
      }
      return value as T;
    },
  };
}

/** Every environment variable a schema may read, `*_FILE` companions included. */
export function envNames(schema: Schema): string[] {
  return Object.values(schema).flatMap((f) => f.fromFile ? [f.env, `${f.env}_FILE`] : [f.env]);
}

/**
 * Reads every field of `schema` through `get`, collects all problems, and
 * returns a frozen config or throws one {@link ConfigError} listing them.
 *
 * A field with `fromFile` may instead be given as `<NAME>_FILE`, the path of a
 * file whose trimmed content is the value; giving both is an error.
 */
export function loadConfig<S extends Schema>(
  schema: S,
  get: EnvGetter = (name) => Deno.env.get(name),
  readFile: FileReader = (path) => Deno.readTextFileSync(path),
): ConfigOf<S> {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema)) {
    let raw = get(field.env);
    if (field.fromFile) {
      const filePath = get(`${field.env}_FILE`);
      if (filePath !== undefined && filePath !== "") {
        if (raw !== undefined && raw !== "") {
          problems.push(`${field.env} and ${field.env}_FILE are both set: give only one`);
          continue;
        }
        try {
          raw = readFile(filePath).trim();
        } catch (error) {
          problems.push(
            `${field.env}_FILE names a file that cannot be read: current value is ${
              describe(filePath)
            } (${(error as Error).message})`,
          );
          continue;
        }
      }
    }
    try {
      result[key] = field.parse(raw);
    } catch (error) {
      problems.push(`${field.env} ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result) as ConfigOf<S>;
}
