import assert from "node:assert/strict";
import {
  CSV_HEADER,
  EARLIER_CSV_HEADERS,
  formatRecord,
  pairRecord,
} from "../metric/metric_log/format.ts";
import { rotatedPath } from "../metric/metric_log/files.ts";
import { loadDiabetes } from "../stack/dataset.ts";
import { loadModelArtifact, parseModelArtifact } from "./artifact.ts";
import { predict } from "./linear.ts";
import { main, parseRetrainArgs } from "./train.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");

/** Runs `main(args)` with its console output captured. */
async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => out.push(line);
  console.error = (line: string) => err.push(line);
  try {
    return { code: await main(args, NOW), out, err };
  } finally {
    Object.assign(console, { log, error });
  }
}

/**
 * A metric log as the pipeline leaves it across an upgrade: a rotated file of the first format
 * (no inputs), then the live file with inputs; the truths drifted ×1.5, the predictions the
 * serving model's. One row a second, ending an hour before {@link NOW}.
 */
async function writeLog(dir: string): Promise<string> {
  const [ds, serving] = await Promise.all([loadDiabetes(), loadModelArtifact()]);
  const path = `${dir}/metric_log.csv`;
  const rows = ds.X.map((x, i) =>
    pairRecord({
      id: `row-${i}`,
      yTrue: 1.5 * ds.y[i],
      yPred: predict(serving, x),
      modelVersion: serving.version,
      replica: "ml_model.1",
      pairedAtMs: NOW - 3_600_000 - (ds.X.length - i) * 1_000,
      inputs: x,
    })
  );
  // A row of the first format: the sample's eight cells, no input cells at all.
  const old = rows.slice(0, 40).map(({ inputs: _, ...r }) => formatRecord(r).slice(0, -10));
  await Deno.writeTextFile(rotatedPath(path, 1), [EARLIER_CSV_HEADERS[0], ...old, ""].join("\n"));
  await Deno.writeTextFile(path, [CSV_HEADER, ...rows.slice(40).map(formatRecord), ""].join("\n"));
  return path;
}

Deno.test("deno task train --from learns from the recorded log and writes a versioned candidate", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "train_test-" });
  try {
    const path = await writeLog(dir);
    const out = `${dir}/candidate.json`;
    const first = await run(["--from", path, "--out", out]);
    assert.equal(first.code, 0, first.err.join("\n"));
    const summary = JSON.parse(first.out[0]);
    const artifact = await parseModelArtifact(JSON.parse(await Deno.readTextFile(out)));
    assert.equal(summary.version, artifact.version);
    // The first format's 40 rows have no inputs: left out, and said so.
    assert.equal(summary.rows.withoutInputs, 40);
    assert.equal(summary.rows.train + summary.rows.heldOut, 402);
    assert.equal(summary.heldOut.candidate.rows, summary.rows.heldOut);
    assert.ok(summary.heldOut.candidate.mae < summary.heldOut.serving.mae);
    assert.equal(summary.heldOut.serving.version, (await loadModelArtifact()).version);
    assert.match(
      first.err[1],
      /^Held-out MAE: candidate [\d.]+, serving sha256-\w+ [\d.]+, as recorded [\d.]+$/,
    );

    // The same records and options give the same bytes; a window gives another model.
    const again = await run(["--from", path, "--out", `${dir}/again.json`]);
    assert.equal(again.code, 0);
    assert.equal(await Deno.readTextFile(`${dir}/again.json`), await Deno.readTextFile(out));
    const windowed = await run(["--from", path, "--last", "200", "--out", `${dir}/last.json`]);
    assert.equal(windowed.code, 0);
    const last = JSON.parse(windowed.out[0]);
    assert.equal(last.rows.train + last.rows.heldOut, 200);
    assert.notEqual(last.version, summary.version);
    // Everything was paired more than an hour ago.
    const recent = await run(["--from", path, "--since", "30m", "--out", `${dir}/none.json`]);
    assert.equal(recent.code, 1);
    assert.match(recent.err.join("\n"), /the window gave 0 and 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task train --from refuses a log that is not there, naming it", async () => {
  const result = await run(["--from", "/tmp/no-such-dir/metric_log.csv", "--out", "/tmp/x.json"]);
  assert.equal(result.code, 1);
  assert.match(result.err.join("\n"), /Cannot train from '\/tmp\/no-such-dir\/metric_log.csv'/);
});

Deno.test("parseRetrainArgs() names each bad flag and its value", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseRetrainArgs(["--from", "logs/metric_log.csv"], NOW), {
      ok: true,
      value: {
        from: "logs/metric_log.csv",
        window: { last: undefined, sinceMs: undefined },
        holdout: 0.2,
        serving: "model/model.json",
        out: undefined,
      },
    });
  });
  await t.step("a duration or a time for --since", () => {
    const since = (text: string) => {
      const parsed = parseRetrainArgs(["--from", "f", "--since", text], NOW);
      assert.ok(parsed.ok);
      return parsed.value.window.sinceMs;
    };
    assert.equal(since("6h"), NOW - 6 * 3_600_000);
    assert.equal(since("30m"), NOW - 30 * 60_000);
    assert.equal(since("2d"), NOW - 2 * 86_400_000);
    assert.equal(since("2026-12-01T00:00:00Z"), Date.parse("2026-12-01T00:00:00Z"));
  });
  await t.step("every error at once", () => {
    const parsed = parseRetrainArgs(
      ["--from", "f", "--last", "0", "--since", "yesterday", "--holdout", "1", "--bogus"],
      NOW,
    );
    assert.deepEqual(parsed, {
      ok: false,
      errors: [
        "'--bogus' is not an option (--from, --last, --since, --holdout, --serving, --out, or --check alone)",
        "'--last' must be a positive whole number of samples: current value is '0'",
        "'--since' must be an ISO time (2026-12-01T00:00:00Z) or a duration (30m, 6h, 2d): current value is 'yesterday'",
        "'--holdout' must be a share between 0 and 1: current value is '1'",
      ],
    });
  });
  await t.step("a flag without its value", () => {
    assert.deepEqual(parseRetrainArgs(["--from", "--last", "5"], NOW), {
      ok: false,
      errors: ["'--from' needs a value", "'--from' must name a metric_log.csv"],
    });
  });
});
