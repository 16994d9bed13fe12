import assert from "node:assert/strict";
import { MODEL_TARGET } from "../stack/model_service.ts";
import { parseRolloutArgs, servedVersion } from "./rollout.ts";
import type { ServiceSpec } from "./shadow.ts";

Deno.test("parseRolloutArgs() reads start, status and abort, with --stack", () => {
  assert.deepEqual(parseRolloutArgs(["start", "m.json"]), {
    command: "start",
    artifact: "m.json",
    stack: "ml",
  });
  assert.deepEqual(parseRolloutArgs(["abort", "--stack", "test"]), {
    command: "abort",
    stack: "test",
  });
  assert.deepEqual(parseRolloutArgs(["status"]), { command: "status", stack: "ml" });
  assert.throws(() => parseRolloutArgs(["start"]), /usage: deno task rollout start/);
  assert.throws(() => parseRolloutArgs(["stop"]), /Cannot understand 'stop'/);
  assert.throws(() => parseRolloutArgs(["abort", "x"]), RangeError);
});

Deno.test("servedVersion() reads the version of the config mounted as the model, and names the service otherwise", () => {
  const spec = (configs: NonNullable<ServiceSpec["TaskTemplate"]["ContainerSpec"]["Configs"]>) => ({
    Name: "ml_model",
    TaskTemplate: { ContainerSpec: { Image: "ml-model", Configs: configs } },
  });
  assert.equal(
    servedVersion(spec([
      { File: { Name: "/etc/x" }, ConfigID: "1", ConfigName: "ml_model_other" },
      { File: { Name: MODEL_TARGET }, ConfigID: "2", ConfigName: "ml_model_v7" },
    ])),
    "v7",
  );
  assert.throws(
    () => servedVersion(spec([{ File: { Name: MODEL_TARGET }, ConfigID: "2", ConfigName: "x" }])),
    /Cannot tell which version ml_model serves/,
  );
});
