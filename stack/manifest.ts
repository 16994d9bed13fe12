/**
 * What a service says about itself, once: its name, its config schema, its HTTP port, the one
 * path it reads or writes, the files it always reads, what it reaches besides the broker and its
 * image. `ops/services.ts` lists the
 * manifests; the Deno permissions (`ops/launch.ts`), the `deno.json` tasks, the Dockerfiles
 * (`ops/images/dockerfile.ts`), `build.sh`, `deno task start`, the tests and the bench derive
 * from that list, so adding a service means writing its manifest and adding it there.
 *
 * Only types and plain data: a service's `main.ts` never imports its manifest.
 *
 * @module
 */
import type { commonSchema } from "./common_config.ts";
import type { Field, Schema } from "./config.ts";

/** How a service uses the path its schema names (data set, artifact, log directory). */
export type PathUse = "read" | "write";

/** One service, said once. */
export interface ServiceManifest<Name extends string = string> {
  /** Folder, `deno task` name, and the part after `ml_` in the stack (`ml_model`). */
  readonly name: Name;
  /** One line: what the service does (the Dockerfile's first line, `deno task` lists). */
  readonly summary: string;
  /**
   * Every variable the service reads: the settings all services share, and its own. A service
   * whose schema has no broker settings (`amqpUrls`) never talks to the broker: it is granted
   * none, and `deno task start` does not run it.
   */
  readonly schema: Pick<ReturnType<typeof commonSchema>, "httpPort"> & Schema;
  /** The default of its `HTTP_PORT`: `/healthz`, `/readyz`, `/metrics` (and a dashboard). */
  readonly httpPort: number;
  /**
   * The schema field of the one path the service reads or writes, with a key to override it in
   * a launch (`ops/launch.ts`'s `Placement.paths`); none for a service with no files.
   */
  readonly path?: {
    readonly key: "data" | "model" | "logDir";
    readonly field: Field<string>;
    readonly use: PathUse;
  };
  /** Files read besides that path, relative to the repo root (and the image's `/app`). */
  readonly alsoReads: readonly string[];
  /**
   * Modules of other services' folders it loads, relative to the repo root: its image copies
   * them beside `stack/` and its own folder (`ops/services_test.ts` checks that the image holds
   * every module `main.ts` loads).
   */
  readonly alsoImports?: readonly string[];
  /**
   * Schema fields of the HTTP services it reaches besides the broker (the controller's
   * Prometheus and Docker API): their `host:port` join its `--allow-net`, at their defaults in
   * an image, at the values given when launched by hand.
   */
  readonly reaches?: readonly Field<URL>[];
  /** The image's name, tagged by `build.sh`. */
  readonly image: string;
  /**
   * A directory the service writes in its container: made, owned by the service's user and
   * declared a `VOLUME` in the image. Must be the default of `path.field` when `path.use` is
   * `"write"`.
   */
  readonly volume?: string;
}
