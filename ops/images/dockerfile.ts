/**
 * The services' Dockerfiles, made from their manifests (`ops/services.ts`): one recipe for every
 * service, so the base, the dependency cache, the entrypoint, the user, the health check and the
 * permissions in `CMD` cannot drift apart. `build.sh services` pipes each one to `docker build`:
 *
 * ```sh
 * deno run ops/images/dockerfile.ts model      # print ml-model's Dockerfile
 * deno run ops/images/dockerfile.ts --images   # "name image" per service, for build.sh
 * ```
 *
 * @module
 */
import { type Placement, runArgs, usesBroker } from "../launch.ts";
import { isServiceName, manifestOf, SERVICE_NAMES, type ServiceName } from "../services.ts";

/**
 * Where the stack's clients find the broker, over TLS only: the cluster's members, any of which
 * `AMQP_URL` lists.
 */
export const STACK_BROKERS: readonly string[] = [
  "rabbitmq:5671",
  "rabbitmq-2:5671",
  "rabbitmq-3:5671",
];

/** Where Docker mounts the stack's secrets. */
export const SECRETS_DIR = "/run/secrets";

/** The UID the services run as in their images. */
export const SERVICE_UID = 1000;

/**
 * Where `service` runs in its image: the stack's brokers, its default port, the secrets (the
 * broker's credentials, the token its HTTP listener asks for, Prometheus' login).
 */
export function imagePlacement(service: ServiceName): Placement {
  return {
    broker: STACK_BROKERS,
    httpPort: manifestOf(service).httpPort,
    extraRead: [SECRETS_DIR],
  };
}

/** An instruction's exec form, spaced as people write it. */
function execForm(args: readonly string[]): string {
  return `[${args.map((arg) => JSON.stringify(arg)).join(", ")}]`;
}

/** `service`'s Dockerfile (build context: the repo root, `.dockerignore` beside it). */
export function dockerfile(service: ServiceName): string {
  const { name, summary, httpPort, volume, path, alsoImports = [] } = manifestOf(service);
  const broker = usesBroker(service) ? [`    AMQP_URL=amqps://${STACK_BROKERS[0]} \\`] : [];
  const cmd = [
    "run",
    "--cached-only",
    "--frozen",
    ...runArgs(service, imagePlacement(service))
      .slice(1),
  ];
  const volumeLines = volume === undefined ? [] : [
    `# ${volume}/ (a volume) is the one place the service writes; uid ${SERVICE_UID} owns it. No shell`,
    "# here, so Deno makes it: a named volume mounted on it starts out with this owner.",
    `RUN ${
      execForm([
        "deno",
        "eval",
        "--ext=js",
        `Deno.mkdirSync("/app/${volume}"); Deno.chownSync("/app/${volume}", ${SERVICE_UID}, ${SERVICE_UID})`,
      ])
    }`,
    `VOLUME ["/app/${volume}"]`,
    `ENV ${path!.field.env}=${volume}`,
  ];
  return [
    `# ml-${name}: ${summary}`,
    `# Made by ops/images/dockerfile.ts from ${name}/manifest.ts; built by \`deno task images\`.`,
    "# DENO_BASE is the official denoland/deno image or the FROM-scratch stand-in build.sh makes:",
    "# no shell in it, so every instruction below uses the exec form.",
    "ARG DENO_BASE=denoland/deno:2.9.6",
    "FROM ${DENO_BASE}",
    "",
    "WORKDIR /app",
    "ENV DENO_DIR=/app/.deno \\",
    "    DENO_NO_UPDATE_CHECK=1 \\",
    ...broker,
    "    LOG_FORMAT=json",
    "# Dependencies come from .deno/, staged on the host by build.sh: the npm packages the",
    "# services load and deno.lock narrowed to them. The container runs --cached-only --frozen and",
    "# never asks a registry. Everything stays root-owned: read-only for the service.",
    "COPY deno.json .deno/deno.lock ./",
    "COPY .deno/npm/ .deno/npm/",
    "# Entrypoint and health probe (ops/images/ml_entry.c), compiled static by build.sh.",
    "COPY .deno/bin/ml-entry /usr/local/bin/ml-entry",
    "COPY stack/ stack/",
    `COPY ${name}/ ${name}/`,
    ...alsoImports.map((file) => `COPY ${file} ${file}`),
    ...volumeLines,
    `# HTTP_PORT stays ${httpPort}: the permissions and the health check below name that port.`,
    `ENV HTTP_PORT=${httpPort}`,
    `EXPOSE ${httpPort}`,
    `USER ${SERVICE_UID}`,
    "# Liveness only (/healthz): a replica waiting for the broker is alive and is not restarted",
    `# for it; readiness is /readyz${usesBroker(service) ? " and ml_broker_connected" : ""}.`,
    "HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \\",
    `  CMD ["/usr/local/bin/ml-entry", "healthz", "${httpPort}", "/healthz"]`,
    "# The entrypoint sizes V8 from the container's memory limit (DENO_V8_FLAGS, unless set) and",
    "# exports MEMORY_LIMIT_BYTES, then execs deno. The permissions are ops/launch.ts's runArgs()",
    usesBroker(service)
      ? `# for the stack's brokers, port ${httpPort} and ${SECRETS_DIR}.`
      : `# for what its manifest reaches, port ${httpPort} and ${SECRETS_DIR}.`,
    'ENTRYPOINT ["/usr/local/bin/ml-entry", "deno"]',
    `CMD ${execForm(cmd)}`,
    "",
  ].join("\n");
}

/** The CLI: a service's Dockerfile, or `--images` for build.sh's list. */
export function main(args: readonly string[]): { code: number; out: string } {
  if (args.length === 1 && args[0] === "--images") {
    return {
      code: 0,
      out: SERVICE_NAMES.map((name) => `${name} ${manifestOf(name).image}\n`).join(""),
    };
  }
  if (args.length === 1 && isServiceName(args[0])) return { code: 0, out: dockerfile(args[0]) };
  return {
    code: 2,
    out: `Cannot make a Dockerfile as the argument must be --images or one service, ${
      SERVICE_NAMES.join(", ")
    }: current value is "${args.join(" ")}"\n`,
  };
}

if (import.meta.main) {
  const { code, out } = main(Deno.args);
  (code === 0 ? Deno.stdout : Deno.stderr).writeSync(new TextEncoder().encode(out));
  Deno.exit(code);
}
