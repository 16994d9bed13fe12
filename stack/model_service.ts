/**
 * How the Swarm names a model version and its services, said once: `deno task promote` and
 * `deno task shadow` (ops/) write these names, the controller's rollout loop reads them.
 *
 * @module
 */

/** Where docker-stack.yml mounts the model's config in ml_model: over MODEL_PATH in the image. */
export const MODEL_TARGET = "/app/model/model.json";

const CONFIG_PREFIX = "ml_model_";

/** Of a service's config references, the one mounted at {@link MODEL_TARGET}, if any. */
export function mountedModelConfig<C extends { readonly File?: { readonly Name: string } }>(
  configs: readonly C[],
): C | undefined {
  return configs.find((config) => config.File?.Name === MODEL_TARGET);
}

/** The Swarm config of a model version, as docker-stack.yml names it. */
export function modelConfigName(version: string): string {
  return `${CONFIG_PREFIX}${version}`;
}

/** The model version a config name carries (`ml_model_<version>`); undefined for another name. */
export function versionOfConfig(name: string): string | undefined {
  return name.startsWith(CONFIG_PREFIX) && name.length > CONFIG_PREFIX.length
    ? name.slice(CONFIG_PREFIX.length)
    : undefined;
}

/** The stable model's service in `stack`. */
export function modelService(stack: string): string {
  return `${stack}_model`;
}

/** The candidate's service, beside `<stack>_model`. */
export function candidateService(stack: string): string {
  return `${stack}_model_candidate`;
}

/** The label that names the version a candidate service shadows with. */
export const SHADOW_VERSION_LABEL = "ml.shadow.version";
