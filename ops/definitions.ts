/**
 * `deno task definitions`: writes the broker image's definitions file,
 * `ops/images/rabbitmq/definitions.json`, from `stack/policies.ts`.
 * The image's entrypoint imports it once the node is up;
 * `definitions_test.ts` fails when the committed file is stale.
 *
 * @module
 */
import { definitionsJson } from "../stack/policies.ts";

/** The definitions file the broker image copies to `/etc/rabbitmq/definitions.json`. */
export const DEFINITIONS_PATH = new URL("images/rabbitmq/definitions.json", import.meta.url);

if (import.meta.main) {
  await Deno.writeTextFile(DEFINITIONS_PATH, definitionsJson("/"));
  console.log(`wrote ${DEFINITIONS_PATH.pathname}`);
}
