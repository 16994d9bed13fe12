/**
 * `deno task train`: fits the linear model to the diabetes data set, prints its version and
 * training scores as one JSON line, and writes {@linkcode MODEL_PATH}.
 *
 * With `--check` it writes nothing and exits 1 when the committed artifact is missing or differs
 * from a fresh fit, so CI can tell a stale `model/model.json`.
 *
 * With `--from <metric_log.csv>` it learns from what the pipeline recorded instead
 * (`retrain.ts`): the log's rotated files and its live file, a window (`--last N` samples,
 * `--since <ISO time | 30m | 6h | 2d>`), a held-out share (`--holdout 0.2`), and the serving
 * model (`--serving model/model.json`) scored on the same held-out rows as the candidate. The
 * candidate goes to `--out` (default `model/artifacts/<version>.json`), never over the
 * serving model.
 *
 * @module
 */

import { logFiles } from "../metric/metric_log/files.ts";
import { parseMetricLog } from "../metric/metric_log/format.ts";
import { DIABETES_CSV_PATH, loadDiabetes } from "../stack/dataset.ts";
import { loadModelArtifact, MODEL_PATH, serializeModelArtifact } from "./artifact.ts";
import { fit } from "./linear.ts";
import { retrain, type Window, WindowedSamples } from "./retrain.ts";

/** Where `--from` writes candidates by default: one file per version. */
export const ARTIFACTS_DIR = "model/artifacts";

/** The options of a retrain from records, as {@link parseRetrainArgs} reads them. */
export interface RetrainArgs {
  readonly from: string;
  readonly window: Window;
  readonly holdout: number;
  readonly serving: string;
  readonly out?: string;
}

const DURATION = /^(\d+)(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Reads `--from` and its options; `nowMs` resolves a `--since` duration.
 * Returns the problems, each naming the flag and its value, when any.
 */
export function parseRetrainArgs(
  args: readonly string[],
  nowMs: number,
): { ok: true; value: RetrainArgs } | { ok: false; errors: string[] } {
  const values = new Map<string, string>();
  const errors: string[] = [];
  const known = ["--from", "--last", "--since", "--holdout", "--serving", "--out"];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    if (!known.includes(flag)) {
      errors.push(`'${flag}' is not an option (${known.join(", ")}, or --check alone)`);
      continue;
    }
    const value = args[i + 1];
    if (value === undefined || value.startsWith("--")) {
      errors.push(`'${flag}' needs a value`);
      continue;
    }
    values.set(flag, value);
    i++;
  }
  const from = values.get("--from") ?? "";
  if (from === "") errors.push("'--from' must name a metric_log.csv");
  let last: number | undefined;
  if (values.has("--last")) {
    const text = values.get("--last")!;
    last = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(last) || last < 1) {
      errors.push(
        `'--last' must be a positive whole number of samples: current value is '${text}'`,
      );
    }
  }
  let sinceMs: number | undefined;
  if (values.has("--since")) {
    const text = values.get("--since")!;
    const duration = DURATION.exec(text);
    sinceMs = duration
      ? nowMs - Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS]
      : /^\d{4}-\d{2}-\d{2}/.test(text)
      ? Date.parse(text)
      : Number.NaN;
    if (!Number.isFinite(sinceMs)) {
      errors.push(
        `'--since' must be an ISO time (2026-12-01T00:00:00Z) or a duration (30m, 6h, 2d): current value is '${text}'`,
      );
    }
  }
  const holdoutText = values.get("--holdout") ?? "0.2";
  const holdout = Number(holdoutText);
  if (!(holdout > 0 && holdout < 1)) {
    errors.push(`'--holdout' must be a share between 0 and 1: current value is '${holdoutText}'`);
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      from,
      window: { last, sinceMs },
      holdout,
      serving: values.get("--serving") ?? MODEL_PATH,
      out: values.get("--out"),
    },
  };
}

/** The rows of every file of the log at `path` that `window` takes. */
async function readWindow(path: string, window: Window): Promise<WindowedSamples> {
  const files = logFiles(path);
  if (files.length === 0) {
    throw new Error(`Cannot train from '${path}' as it has no files (nor rotated ones beside it)`);
  }
  const samples = new WindowedSamples(window);
  for (const file of files) {
    for (const record of parseMetricLog(await Deno.readTextFile(file))) samples.add(record);
  }
  return samples;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** `deno task train --from …`; see the module documentation. */
async function trainFromRecords(options: RetrainArgs): Promise<number> {
  const target = options.out ?? ARTIFACTS_DIR;
  if (Deno.permissions.querySync({ name: "write", path: target }).state !== "granted") {
    throw new Error(
      `Cannot train as '--out' may not be written here (the task writes only under model/): current value is '${target}'`,
    );
  }
  const [windowed, serving] = await Promise.all([
    readWindow(options.from, options.window),
    loadModelArtifact(options.serving),
  ]);
  const result = await retrain(windowed.samples, { holdout: options.holdout, serving });
  const { candidate, heldOut, rows } = result;
  const out = options.out ?? `${ARTIFACTS_DIR}/${candidate.version}.json`;
  console.log(JSON.stringify({
    version: candidate.version,
    from: options.from,
    rows: {
      ...rows,
      withoutInputs: windowed.withoutInputs,
      beforeWindow: windowed.beforeWindow,
    },
    training: candidate.training,
    heldOut: {
      candidate: heldOut.candidate,
      serving: { version: serving.version, ...heldOut.serving },
      recorded: { versions: result.recordedVersions, ...heldOut.recorded },
    },
    out,
  }));
  console.error(
    `Trained ${candidate.version} on ${rows.train} recorded samples; ${rows.heldOut} held out` +
      (windowed.withoutInputs > 0 ? ` (${windowed.withoutInputs} without inputs left out)` : ""),
  );
  console.error(
    `Held-out MAE: candidate ${round(heldOut.candidate.mae)}, serving ${serving.version} ` +
      `${round(heldOut.serving.mae)}, as recorded ${round(heldOut.recorded.mae)}`,
  );
  if (out.includes("/")) await Deno.mkdir(out.slice(0, out.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(out, serializeModelArtifact(candidate));
  console.error(`Wrote ${out}`);
  return 0;
}

/** Runs the training with command-line `args` and returns the exit code. */
export async function main(args: readonly string[], nowMs = Date.now()): Promise<number> {
  if (args.includes("--from")) {
    const parsed = parseRetrainArgs(args, nowMs);
    if (!parsed.ok) {
      for (const error of parsed.errors) console.error(`Cannot train as ${error}`);
      return 2;
    }
    try {
      return await trainFromRecords(parsed.value);
    } catch (error) {
      console.error((error as Error).message);
      return 1;
    }
  }
  const unknown = args.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    console.error(
      `Cannot train as the options are '--check' or '--from <metric_log.csv>': current arguments are '${
        args.join(" ")
      }'`,
    );
    return 2;
  }
  const check = args.includes("--check");

  const model = await fit(await loadDiabetes(DIABETES_CSV_PATH));
  const text = serializeModelArtifact(model);
  console.log(JSON.stringify({ version: model.version, ...model.training }));

  if (!check) {
    await Deno.writeTextFile(MODEL_PATH, text);
    console.error(`Wrote ${MODEL_PATH}`);
    return 0;
  }
  let committed: string;
  try {
    committed = await Deno.readTextFile(MODEL_PATH);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error(`Cannot check ${MODEL_PATH} as it is missing: run \`deno task train\``);
    return 1;
  }
  if (committed !== text) {
    console.error(
      `${MODEL_PATH} differs from a fresh fit (version ${model.version}): run \`deno task train\``,
    );
    return 1;
  }
  console.error(`${MODEL_PATH} matches a fresh fit`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
