import assert from "node:assert/strict";
import { ConfigError } from "../stack/config.ts";
import { runArgs } from "./launch.ts";
import { launchArgs, launcherEnv } from "./run.ts";

const env = (values: Record<string, string>) => (name: string) => values[name];

Deno.test("launchArgs() starts a service with the permissions its placement gives", () => {
  assert.deepEqual(
    launchArgs(["model"], env({ AMQP_URL: "amqp://b.internal:5673", HTTP_PORT: "9002" })),
    runArgs("model", { broker: ["b.internal:5673"], httpPort: 9002, paths: {} }),
  );
});

Deno.test("launchArgs() lets dlq reach the broker AMQP_URL names, and only that one", async (t) => {
  await t.step("the default broker", () => {
    const args = launchArgs(["dlq", "list"], env({}));
    assert.equal(args[0], "run");
    assert.ok(args.includes("--allow-net=localhost:5672"), args.join(" "));
    assert.deepEqual(args.slice(-2), ["ops/dlq.ts", "list"]);
  });
  await t.step("any other address, with the arguments passed on", () => {
    const args = launchArgs(
      ["dlq", "replay", "--limit", "3"],
      env({ AMQP_URL: "amqp://ops:pw@rabbitmq-2.lan:5680,amqp://rabbitmq-3.lan" }),
    );
    assert.ok(args.includes("--allow-net=rabbitmq-2.lan:5680"), args.join(" "));
    assert.ok(!args.join(" ").includes("rabbitmq-3.lan"));
    assert.ok(!args.join(" ").includes("pw"));
    assert.deepEqual(args.slice(-4), ["ops/dlq.ts", "replay", "--limit", "3"]);
  });
  await t.step("the credential files it is given, readable", () => {
    const args = launchArgs(
      ["dlq", "list"],
      env({ AMQP_USER_FILE: "ops/secrets/rabbitmq_user", AMQP_PASSWORD_FILE: "/run/secrets/pw" }),
    );
    assert.ok(
      args.includes("--allow-read=ops/secrets/rabbitmq_user,/run/secrets/pw"),
      args.join(" "),
    );
  });
});

Deno.test("launchArgs() refuses what it cannot launch, naming the choices", () => {
  assert.throws(
    () => launchArgs(["gateway"], env({})),
    (error) =>
      error instanceof RangeError && /features, model, metric/.test(error.message) &&
      /current value is "gateway"/.test(error.message),
  );
  assert.throws(() => launchArgs(["model", "extra"], env({})), RangeError);
  assert.throws(() => launchArgs([], env({})), RangeError);
  assert.throws(() => launchArgs(["dlq", "list"], env({ AMQP_URL: "http://x" })), ConfigError);
});

Deno.test("launcherEnv() is what the launcher reads: a placement, or a tool's broker and files", () => {
  assert.deepEqual(launcherEnv("metric"), ["AMQP_URL", "HTTP_PORT", "LOG_DIR"]);
  assert.deepEqual(launcherEnv("dlq"), [
    "AMQP_URL",
    "AMQP_USER_FILE",
    "AMQP_PASSWORD_FILE",
    "AMQP_CA_FILE",
  ]);
});
