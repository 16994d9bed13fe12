/**
 * `deno task definitions`: writes the broker image's definitions file,
 * `ops/images/rabbitmq/definitions.json` (topology and policies, from
 * `stack/topology.ts` and `stack/policies.ts`), and its users file,
 * `ops/images/rabbitmq/users.tsv` (from `stack/broker_roles.ts`).
 * The image's entrypoint applies both once the node is up;
 * `definitions_test.ts` fails when a committed file is stale.
 *
 * @module
 */
import { definitionsJson } from "../stack/policies.ts";
import { usersTsv } from "../stack/broker_roles.ts";

/** The definitions file the broker image copies to `/etc/rabbitmq/definitions.json`. */
export const DEFINITIONS_PATH = new URL("images/rabbitmq/definitions.json", import.meta.url);

/** The users file the broker image copies to `/etc/rabbitmq/users.tsv`. */
export const USERS_PATH = new URL("images/rabbitmq/users.tsv", import.meta.url);

if (import.meta.main) {
  await Deno.writeTextFile(DEFINITIONS_PATH, definitionsJson("/"));
  await Deno.writeTextFile(USERS_PATH, usersTsv());
  console.log(`wrote ${DEFINITIONS_PATH.pathname} and ${USERS_PATH.pathname}`);
}
