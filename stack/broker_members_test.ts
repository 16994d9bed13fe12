import assert from "node:assert/strict";
import { MemberRotation, startMember } from "./broker_members.ts";

Deno.test("startMember() spreads the task slots of a service over the members", async (t) => {
  await t.step("consecutive slots take consecutive members", () => {
    const starts = ["ml_model.1", "ml_model.2", "ml_model.3"].map((r) => startMember(r, 3));
    assert.deepEqual(new Set(starts).size, 3);
    assert.equal(starts[1], (starts[0] + 1) % 3);
    assert.equal(starts[2], (starts[0] + 2) % 3);
  });
  await t.step("slot 4 comes back to where slot 1 started", () => {
    assert.equal(startMember("ml_model.4", 3), startMember("ml_model.1", 3));
  });
  await t.step("is the same for the same name, every time", () => {
    assert.equal(startMember("ml_metric.1", 3), startMember("ml_metric.1", 3));
  });
  await t.step("the first slots of the three services do not all start on one member", () => {
    const firsts = ["ml_features.1", "ml_model.1", "ml_metric.1"].map((r) => startMember(r, 3));
    assert.ok(new Set(firsts).size > 1, `all start at ${firsts[0]}`);
  });
  await t.step("names without a number (container ids, service names) hash as a whole", () => {
    for (const name of ["model", "c0ffeeabcdef", "", "metric.x"]) {
      const start = startMember(name, 3);
      assert.ok(Number.isInteger(start) && start >= 0 && start < 3, `${name}: ${start}`);
    }
  });
  await t.step("a long trailing number stays an integer", () => {
    const start = startMember("replica-123456789012345678901234567890", 3);
    assert.ok(Number.isInteger(start) && start >= 0 && start < 3);
  });
  await t.step("one member: always it", () => {
    for (const name of ["ml_model.1", "ml_model.2", "x"]) assert.equal(startMember(name, 1), 0);
  });
  await t.step("no member is a RangeError", () => {
    assert.throws(() => startMember("a", 0), RangeError);
  });
});

Deno.test("MemberRotation walks the members from its start and wraps around", async (t) => {
  const members = ["rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5672"];
  const cases: [number, string[]][] = [
    [0, ["rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5672", "rabbitmq:5672"]],
    [1, ["rabbitmq-2:5672", "rabbitmq-3:5672", "rabbitmq:5672", "rabbitmq-2:5672"]],
    [2, ["rabbitmq-3:5672", "rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5672"]],
    [5, ["rabbitmq-3:5672", "rabbitmq:5672", "rabbitmq-2:5672", "rabbitmq-3:5672"]],
  ];
  for (const [start, walk] of cases) {
    await t.step(`from ${start}`, () => {
      const rotation = new MemberRotation(members, start);
      const seen = [rotation.current];
      for (let i = 1; i < walk.length; i++) seen.push(rotation.moveOn());
      assert.deepEqual(seen, walk);
    });
  }
  await t.step("index follows current", () => {
    const rotation = new MemberRotation(members, 2);
    assert.equal(rotation.index, 2);
    rotation.moveOn();
    assert.equal(rotation.index, 0);
  });
  await t.step("with one member, moving on stays on it", () => {
    const rotation = new MemberRotation(["rabbitmq:5672"]);
    assert.equal(rotation.moveOn(), "rabbitmq:5672");
  });
  await t.step("no member is a RangeError", () => {
    assert.throws(() => new MemberRotation([]), RangeError);
  });
});
