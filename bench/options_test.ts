import assert from "node:assert/strict";
import { benchPlan, LATENCY_RATE, parseBenchArgs } from "./options.ts";

Deno.test("parseBenchArgs() runs every figure 3 times by default and once with --quick", () => {
  assert.deepEqual(parseBenchArgs([]), {
    quick: false,
    runs: 3,
    out: undefined,
    verbose: false,
    render: false,
    keep: false,
    tls: false,
    rollout: false,
  });
  assert.equal(parseBenchArgs(["--quick"]).runs, 1);
});

Deno.test("parseBenchArgs() reads every flag", () => {
  assert.deepEqual(
    parseBenchArgs([
      "--quick",
      "--runs",
      "2",
      "--out",
      "/tmp/b",
      "--verbose",
      "--keep",
      "--render",
    ]),
    {
      quick: true,
      runs: 2,
      out: "/tmp/b",
      verbose: true,
      render: true,
      keep: true,
      tls: false,
      rollout: false,
    },
  );
});

Deno.test("parseBenchArgs() refuses a --runs that is not a positive integer", async (t) => {
  for (const runs of ["0", "-1", "1.5", "many"]) {
    await t.step(runs, () => {
      assert.throws(() => parseBenchArgs([`--runs=${runs}`]), {
        name: "RangeError",
        message:
          `Cannot run the bench as --runs must be a positive integer: current value is "${runs}"`,
      });
    });
  }
});

Deno.test("parseBenchArgs() refuses an unknown flag", () => {
  assert.throws(() => parseBenchArgs(["--fast"]), TypeError);
});

Deno.test("benchPlan() sizes a quick bench smaller than the full one", () => {
  const full = benchPlan({ quick: false, runs: 3 });
  const quick = benchPlan({ quick: true, runs: 1 });
  assert.deepEqual(full.sizes, {
    ceiling: 60_000,
    throughput: 30_000,
    latency: 65_000,
    scaling: 4_000,
    cpuScaling: 20_000,
  });
  assert.equal(full.latencyWarmup, 5_000);
  // A latency run's steady state holds every periodic job of metric several times.
  assert.ok((full.sizes.latency - full.latencyWarmup) / LATENCY_RATE >= 60);
  assert.equal(full.quietMaxWaitMs, 120_000);
  for (const [kind, size] of Object.entries(quick.sizes)) {
    assert.ok(size < full.sizes[kind as keyof typeof full.sizes], kind);
  }
  assert.equal(quick.latencyWarmup, 500);
  assert.equal(quick.runs, 1);
});

Deno.test("parseBenchArgs() reads --soak as minutes", () => {
  assert.equal(parseBenchArgs([]).soak, undefined);
  assert.equal(parseBenchArgs(["--soak", "10"]).soak, 10);
  assert.equal(parseBenchArgs(["--soak=0.5", "--out", "/tmp/s"]).soak, 0.5);
});

Deno.test("parseBenchArgs() refuses a --soak that is not a positive number, quoting it", () => {
  for (const value of ["0", "-1", "ten", "", "Infinity"]) {
    assert.throws(
      () => parseBenchArgs([`--soak=${value}`]),
      new RangeError(
        `Cannot run the soak as --soak must be a positive number of minutes: current value is "${value}"`,
      ),
    );
  }
  assert.throws(
    () => parseBenchArgs(["--soak", "2", "--quick"]),
    /Cannot run the soak with --quick/,
  );
});

Deno.test("parseBenchArgs() reads --tls, a run of its own", () => {
  assert.equal(parseBenchArgs(["--tls", "--runs", "5"]).tls, true);
  assert.equal(parseBenchArgs(["--tls", "--runs", "5"]).runs, 5);
  assert.throws(() => parseBenchArgs(["--tls", "--soak", "1"]), /Cannot measure TLS with --soak/);
  assert.throws(() => parseBenchArgs(["--tls", "--render"]), /Cannot measure TLS with --render/);
});

Deno.test("parseBenchArgs() reads --rollout, a run of its own", () => {
  assert.equal(parseBenchArgs(["--rollout", "--runs", "2"]).rollout, true);
  assert.equal(parseBenchArgs([]).rollout, false);
  assert.throws(
    () => parseBenchArgs(["--rollout", "--tls"]),
    /Cannot measure a rollout's cost with --tls/,
  );
  assert.throws(
    () => parseBenchArgs(["--rollout", "--soak", "1"]),
    /Cannot measure a rollout's cost with --soak/,
  );
});
