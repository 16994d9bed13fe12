import assert from "node:assert/strict";
import { definitionsJson, POLICIES } from "../stack/policies.ts";
import { usersTsv } from "../stack/broker_roles.ts";
import { DEFINITIONS_PATH, USERS_PATH } from "./definitions.ts";

Deno.test("the broker image's users.tsv holds exactly BROKER_ROLES", async () => {
  assert.equal(
    await Deno.readTextFile(USERS_PATH),
    usersTsv(),
    "stale: run `deno task definitions`",
  );
});

Deno.test("the broker image's definitions.json holds exactly POLICIES for vhost /", async () => {
  const committed = await Deno.readTextFile(DEFINITIONS_PATH);
  assert.equal(committed, definitionsJson("/"), "stale: run `deno task definitions`");
  assert.deepEqual(
    JSON.parse(committed).policies,
    POLICIES.map((policy) => ({ vhost: "/", ...policy })),
  );
});
