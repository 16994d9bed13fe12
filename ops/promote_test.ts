import assert from "node:assert/strict";
import { serializeModelArtifact } from "../model/artifact.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import {
  main,
  MODEL_TARGET,
  modelConfigName,
  parseArgs,
  parseModelSpec,
  swapArgs,
  updateEnded,
} from "./promote.ts";

/** `docker service inspect ml_model`, cut to what a promotion reads, as Docker 20.10 prints it. */
const INSPECT = JSON.stringify([{
  ID: "x1",
  Spec: {
    Name: "ml_model",
    TaskTemplate: {
      ContainerSpec: {
        Image: "ml-model:latest@sha256:aa",
        Configs: [{
          File: { Name: MODEL_TARGET, UID: "1000", GID: "1000", Mode: 256 },
          ConfigID: "c1",
          ConfigName: "ml_model_sha256-07e481bfe459c331",
        }],
      },
    },
  },
  UpdateStatus: {
    State: "rollback_completed",
    StartedAt: "2026-12-04T10:00:00Z",
    Message: "rollback completed",
  },
}]);

Deno.test("parseModelSpec() reads the image, the model's config and the last update", () => {
  assert.deepEqual(parseModelSpec(INSPECT), {
    image: "ml-model:latest@sha256:aa",
    config: "ml_model_sha256-07e481bfe459c331",
    update: "rollback_completed",
    message: "rollback completed",
    updateStartedAt: "2026-12-04T10:00:00Z",
  });
  const bare = JSON.stringify([{ Spec: { TaskTemplate: { ContainerSpec: { Image: "i" } } } }]);
  assert.deepEqual(parseModelSpec(bare), {
    image: "i",
    config: "",
    update: "",
    message: "",
    updateStartedAt: "",
  });
});

Deno.test("swapArgs() removes the old config and mounts the new one where the model reads it", () => {
  assert.deepEqual(swapArgs("ml_model", "ml_model_a", "ml_model_b"), [
    "service",
    "update",
    "--detach",
    "--config-rm",
    "ml_model_a",
    "--config-add",
    "source=ml_model_b,target=/app/model/model.json,uid=1000,gid=1000,mode=0400",
    "ml_model",
  ]);
  assert.ok(!swapArgs("ml_model", "", "ml_model_b").includes("--config-rm"));
  assert.equal(modelConfigName("sha256-0123456789abcdef"), "ml_model_sha256-0123456789abcdef");
});

Deno.test("updateEnded() waits out an update and a rollback, not the states that end them", () => {
  for (const state of ["updating", "rollback_started"]) assert.ok(!updateEnded(state), state);
  for (const state of ["completed", "rollback_completed", "paused", "rollback_paused"]) {
    assert.ok(updateEnded(state), state);
  }
});

Deno.test("parseArgs() takes one artifact and an optional stack", () => {
  assert.deepEqual(parseArgs(["a.json"]), { ok: true, artifact: "a.json", stack: "ml" });
  assert.deepEqual(parseArgs(["--stack", "ml2", "a.json"]), {
    ok: true,
    artifact: "a.json",
    stack: "ml2",
  });
  assert.deepEqual(parseArgs([]), {
    ok: false,
    error: "the arguments must be one artifact (and --stack NAME): current arguments are ''",
  });
  assert.deepEqual(parseArgs(["a.json", "--stack", "bad name"]), {
    ok: false,
    error: "'--stack' must name a stack: current value is 'bad name'",
  });
});

Deno.test("main() refuses a corrupt artifact before it touches the Swarm", async () => {
  const model = await loadModelArtifact();
  const path = await Deno.makeTempFile({ dir: "/tmp", suffix: ".json" });
  const errors: string[] = [];
  const error = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    await Deno.writeTextFile(
      path,
      serializeModelArtifact({ ...model, intercept: model.intercept + 1 }),
    );
    // No --allow-run in the unit tests: reaching `docker` would throw, not return 1 with this.
    assert.equal(await main([path]), 1);
    assert.match(
      errors.join("\n"),
      /as it is corrupt: 'version' is 'sha256-\w+' but the content hashes to/,
    );
    assert.equal(await main(["--stack"]), 2);
  } finally {
    console.error = error;
    await Deno.remove(path);
  }
});
