/**
 * `deno task train`: fits the linear model to the diabetes data set, prints its version and
 * training scores as one JSON line, and writes {@linkcode MODEL_PATH}.
 *
 * With `--check` it writes nothing and exits 1 when the committed artifact is missing or differs
 * from a fresh fit, so CI can tell a stale `model/model.json`.
 *
 * @module
 */

import { DIABETES_CSV_PATH, loadDiabetes } from "../stack/dataset.ts";
import { MODEL_PATH, serializeModelArtifact } from "./artifact.ts";
import { fit } from "./linear.ts";

/** Runs the training with command-line `args` and returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    console.error(
      `Cannot train as the only option is '--check': current arguments are '${args.join(" ")}'`,
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
