/**
 * The model reaches the Swarm as a config named by its version (docker-stack.yml's
 * `model_artifact`): the stack's default name must be the committed artifact's version, or a
 * deploy would serve model/model.json under another version's name (or fail on a name taken by
 * other content); and the config must land where the image's permissions let the model read.
 */
import assert from "node:assert/strict";
import { loadModelArtifact, MODEL_PATH } from "../model/artifact.ts";
import { SERVICE_UID } from "./images/dockerfile.ts";

const STACK = await Deno.readTextFile(new URL("../docker-stack.yml", import.meta.url));

Deno.test("docker-stack.yml names the model's config by the committed artifact's version", async () => {
  const config =
    /^ {2}model_artifact:\n {4}name: ml_model_\$\{MODEL_VERSION:-([^}]*)\}\n {4}file: \$\{MODEL_FILE:-\.\/([^}]*)\}\n/m
      .exec(STACK);
  assert.ok(
    config,
    "a model_artifact config with a name from MODEL_VERSION and a file from MODEL_FILE",
  );
  const [, version, file] = config;
  assert.equal(file, MODEL_PATH);
  const committed = await loadModelArtifact();
  assert.equal(
    version,
    committed.version,
    `docker-stack.yml's default MODEL_VERSION must be model/model.json's version: run \`deno task train\` and put ${committed.version} there`,
  );
});

Deno.test("ml_model mounts the config over the image's artifact, for its own user only", () => {
  const mount =
    /^ {6}- source: model_artifact\n {8}target: (.+)\n {8}uid: "(\d+)"\n {8}gid: "(\d+)"\n {8}mode: (\d+)\n/m
      .exec(STACK);
  assert.ok(mount, "ml_model mounts model_artifact");
  // The image's WORKDIR is /app and MODEL_PATH is relative to it (ops/images/dockerfile.ts).
  assert.deepEqual(mount.slice(1), [
    `/app/${MODEL_PATH}`,
    String(SERVICE_UID),
    String(SERVICE_UID),
    "0400",
  ]);
});
