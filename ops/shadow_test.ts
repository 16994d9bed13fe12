import assert from "node:assert/strict";
import { MODEL_TARGET } from "./promote.ts";
import {
  candidateService,
  candidateSpec,
  parseShadowArgs,
  type ServiceSpec,
  SHADOW_VERSION_LABEL,
} from "./shadow.ts";

/** ml_model's spec as `docker stack deploy` makes it, cut to what matters here. */
const STABLE: ServiceSpec = {
  Name: "ml_model",
  Labels: {
    "com.docker.stack.namespace": "ml",
    "com.docker.stack.image": "ml-model:latest",
    "ml.autoscale.min": "2",
    "ml.autoscale.max": "6",
    "ml.autoscale.state.last-change": "1700000000000",
    "ml.rollout.min-pairs": "100",
    "ml.rollout.state": '{"candidate":"v0","stable":"v9","phase":"rejected","startedAtMs":1}',
  },
  TaskTemplate: {
    ContainerSpec: {
      Image: "ml-model:latest",
      Env: ["AMQP_USER=model", "REPLICA={{.Service.Name}}.{{.Task.Slot}}"],
      User: "1000:1000",
      Secrets: [{ SecretName: "ml_broker_model_password" }],
      Configs: [
        {
          File: { Name: MODEL_TARGET, UID: "1000", GID: "1000", Mode: 0o400 },
          ConfigID: "stable-id",
          ConfigName: "ml_model_sha256-07e481bfe459c331",
        },
      ],
    },
    Networks: [{ Target: "net-id", Aliases: ["model"] }],
    Resources: { Limits: { MemoryBytes: 134217728 } },
  },
  Mode: { Replicated: { Replicas: 3 } },
  EndpointSpec: { Mode: "dnsrr" },
};

const CANDIDATE = {
  stack: "ml",
  version: "sha256-aaaa",
  configId: "cand-id",
  configName: "ml_model_sha256-aaaa",
};

Deno.test("candidateSpec() is the stable spec with the candidate's role, config and name", () => {
  const spec = candidateSpec(STABLE, CANDIDATE);
  assert.equal(spec.Name, "ml_model_candidate");
  assert.equal(candidateService("ml"), spec.Name);
  const container = spec.TaskTemplate.ContainerSpec;
  assert.equal(container.Image, "ml-model:latest", "the same image");
  assert.equal(container.User, "1000:1000");
  assert.deepEqual(container.Secrets, [{ SecretName: "ml_broker_model_password" }]);
  assert.deepEqual(container.Env, [
    "AMQP_USER=model",
    "REPLICA={{.Service.Name}}.{{.Task.Slot}}",
    "MODEL_ROLE=candidate",
  ]);
  assert.deepEqual(container.Configs, [{
    File: { Name: MODEL_TARGET, UID: "1000", GID: "1000", Mode: 0o400 },
    ConfigID: "cand-id",
    ConfigName: "ml_model_sha256-aaaa",
  }]);
  assert.deepEqual(spec.TaskTemplate.Resources, STABLE.TaskTemplate.Resources);
  assert.deepEqual(spec.Mode, { Replicated: { Replicas: 1 } });
  assert.equal(spec.EndpointSpec && (spec.EndpointSpec as { Mode: string }).Mode, "dnsrr");
});

Deno.test("candidateSpec() keeps the stack's label and drops what would confuse it with the stable one", () => {
  const spec = candidateSpec(STABLE, CANDIDATE);
  // `docker stack rm ml` removes it; the autoscaler never sizes it (no ml.autoscale.* labels),
  // and no earlier rollout's state or policy comes with it (no ml.rollout.*).
  assert.deepEqual(spec.Labels, {
    "com.docker.stack.namespace": "ml",
    "com.docker.stack.image": "ml-model:latest",
    [SHADOW_VERSION_LABEL]: "sha256-aaaa",
  });
  assert.deepEqual(spec.TaskTemplate.Networks, [{
    Target: "net-id",
    Aliases: ["model_candidate"],
  }]);
  // A role set on the stable service is replaced, not doubled.
  const again = candidateSpec(
    {
      ...STABLE,
      TaskTemplate: {
        ...STABLE.TaskTemplate,
        ContainerSpec: { ...STABLE.TaskTemplate.ContainerSpec, Env: ["MODEL_ROLE=stable"] },
      },
    },
    CANDIDATE,
  );
  assert.deepEqual(again.TaskTemplate.ContainerSpec.Env, ["MODEL_ROLE=candidate"]);
  // The stable spec is untouched.
  assert.equal(STABLE.TaskTemplate.ContainerSpec.Configs![0].ConfigID, "stable-id");
  assert.equal(STABLE.Labels!["ml.autoscale.min"], "2");
});

Deno.test("candidateSpec() refuses a stable service without the model's config mount", () => {
  const bare = structuredClone(STABLE);
  bare.TaskTemplate.ContainerSpec.Configs = [];
  assert.throws(
    () => candidateSpec(bare, CANDIDATE),
    /Cannot shadow ml_model as no config of it is mounted at \/app\/model\/model.json/,
  );
});

Deno.test("parseShadowArgs() reads start, status and stop, with --stack anywhere", () => {
  assert.deepEqual(parseShadowArgs(["start", "a.json"]), {
    command: "start",
    artifact: "a.json",
    stack: "ml",
  });
  assert.deepEqual(parseShadowArgs(["--stack", "prod", "status"]), {
    command: "status",
    stack: "prod",
  });
  assert.deepEqual(parseShadowArgs(["stop", "--stack", "s2"]), { command: "stop", stack: "s2" });
  assert.throws(() => parseShadowArgs([]), /usage: deno task shadow start/);
  assert.throws(() => parseShadowArgs(["start"]), /Cannot understand 'start'/);
  assert.throws(() => parseShadowArgs(["stop", "x"]), /Cannot understand/);
  assert.throws(() => parseShadowArgs(["status", "--stack"]), /--stack needs a stack name/);
  assert.throws(() => parseShadowArgs(["status", "--stack", "../x"]), /--stack needs a stack name/);
});
