import assert from "node:assert/strict";
import {
  BROKER_ROLES,
  brokerRole,
  NOTHING,
  passwordSecret,
  setPermissionsArgs,
  usersTsv,
} from "./broker_roles.ts";
import { QUEUES } from "./contracts.ts";
import { PIPELINE_QUEUES, PUBLISH_EXCHANGES } from "./topology.ts";

/** Every name a permission pattern could be asked about: queues, exchanges, the default one. */
const NAMES = [
  ...PIPELINE_QUEUES,
  QUEUES.featuresShadow,
  ...PUBLISH_EXCHANGES,
  "dead-letter",
  "amq.default",
  "",
];

function granted(pattern: string): string[] {
  return NAMES.filter((name) => new RegExp(pattern).test(name));
}

Deno.test("BROKER_ROLES grant each user exactly the queues and exchanges its work needs", () => {
  const rights = Object.fromEntries(
    BROKER_ROLES.map((role) => [role.user, {
      configure: granted(role.configure),
      write: granted(role.write),
      read: granted(role.read),
    }]),
  );
  // `^$` matches the empty name only, which no client can declare or consume.
  assert.deepEqual(rights, {
    features: { configure: [""], write: ["ml.features", "ml.y_true"], read: [""] },
    model: {
      configure: ["features_shadow"],
      write: ["features_shadow", "ml.y_pred", "ml.y_pred_shadow", "dead-letter"],
      read: ["features", "features_shadow", "ml.features"],
    },
    metric: {
      configure: [""],
      write: ["dead-letter"],
      read: ["y_true", "y_pred", "y_pred_shadow"],
    },
    operator: {
      configure: [""],
      write: ["ml.features", "ml.y_true", "ml.y_pred", "ml.y_pred_shadow"],
      read: ["dead_letter"],
    },
  });
});

Deno.test("BROKER_ROLES escape the dots of exchange names", () => {
  for (const role of BROKER_ROLES) {
    assert.equal(new RegExp(role.write).test("mlXfeatures"), false, role.user);
  }
});

Deno.test("BROKER_ROLES give the management tag to the operator only, and configure to model's shadow queue only", () => {
  assert.deepEqual(
    BROKER_ROLES.filter((role) => role.tags.length > 0).map((role) => [role.user, role.tags]),
    [["operator", ["management"]]],
  );
  assert.deepEqual(
    BROKER_ROLES.filter((role) => role.configure !== NOTHING).map((r) => [r.user, r.configure]),
    [["model", "^(features_shadow)$"]],
  );
});

Deno.test("brokerRole() finds a role by user and names the known ones otherwise", () => {
  assert.equal(brokerRole("metric").user, "metric");
  assert.throws(
    () => brokerRole("admin"),
    new RangeError(
      "Cannot find broker role 'admin': known roles are features, model, metric, operator",
    ),
  );
});

Deno.test("passwordSecret() and setPermissionsArgs() spell what the entrypoint and rabbitmqctl read", () => {
  const model = brokerRole("model");
  assert.equal(passwordSecret(model), "broker_model_password");
  assert.deepEqual(setPermissionsArgs(model, "/"), [
    "set_permissions",
    "-p",
    "/",
    "model",
    "^(features_shadow)$",
    "^(ml\\.y_pred|ml\\.y_pred_shadow|features_shadow|dead-letter)$",
    "^(features|features_shadow|ml\\.features)$",
  ]);
});

Deno.test("usersTsv() writes a tab-separated line per role and refuses whitespace in a field", () => {
  const lines = usersTsv().split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  assert.deepEqual(lines.map((line) => line.split("\t").slice(0, 2)), [
    ["features", "-"],
    ["model", "-"],
    ["metric", "-"],
    ["operator", "management"],
  ]);
  assert.throws(
    () => usersTsv([{ ...brokerRole("model"), read: "^(a b)$" }]),
    /Cannot write role 'model': field '\^\(a b\)\$' holds whitespace/,
  );
});
