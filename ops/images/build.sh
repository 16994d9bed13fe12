#!/usr/bin/env bash
# Builds every image the `ml` stack runs, with no container registry needed (`deno task images`).
#
#   bash ops/images/build.sh [secrets|base|rabbitmq|prometheus|proxy|services|sizes]...
#                                                             (default: all, in order)
#
#   secrets   every secret file of ops/secrets/ that is missing (ops/secrets/init.sh)
#   base      ml-deno-base:<deno version>, FROM scratch: the host's Deno binary and the libraries
#             `ldd` lists. Skipped when denoland/deno:<version> is present locally (or DENO_BASE
#             names another base), and when an image of the same binary exists.
#   rabbitmq  ml-rabbitmq:3.10 on a Debian bookworm rootfs made by debootstrap (1-3 min once; the
#             slimmed rootfs tarball is cached in $ML_IMAGE_CACHE, so a rebuild after
#             `docker system prune -a` takes seconds). Skipped when the image exists and its
#             files under ops/images/rabbitmq/ are unchanged.
#   prometheus ml-prometheus:2.42 the same way: Debian bookworm's prometheus package on its own
#             slimmed debootstrap rootfs (cached like the broker's), with prometheus.yml and
#             alerts.yml from ops/images/prometheus/; and ml-alertmanager:0.25 on the same rootfs
#             (it holds prometheus-alertmanager too: one debootstrap, one shared layer), with
#             ops/images/alertmanager/alertmanager.yml.
#   services  each service's image (ml-features, ml-model, ...:$IMAGE_TAG), from the list in
#             ops/services.ts and a Dockerfile ops/images/dockerfile.ts makes from each manifest.
#             First stages .deno/, what the images
#             copy: `deno install --entrypoint` fills the host's Deno cache from deno.lock, then
#             only the npm packages the services load are hard-linked into .deno/npm/, with
#             .deno/deno.lock narrowed to them (test tools in deno.lock stay out of the images),
#             and compiles .deno/bin/ml-entry (ml_entry.c: entrypoint and health probe; needs gcc).
#             Always built; Docker's layer cache keeps it quick.
#   sizes     each image's size, and each service image's layers on top of the base
#
# Not in the default list:
#   registry  ml-registry:2.8, Debian bookworm's docker-registry on its own slimmed debootstrap
#             rootfs (cached like the broker's): the registry a multi-node Swarm pulls from
#             (docs/operations.md, "Multi-node"). Never pushed to itself.
#   node      a Swarm node for tests/swarm/e2e_cluster.ts: Debian's docker.io on a debootstrap
#             rootfs, tagged mlc-node:<hash of its recipe> (printed on stdout), so that it is built
#             once and rebuilt only when ops/images/node/ or its package list changes.
#
# Environment:
#   IMAGE_TAG=latest         tag of the service images
#   RABBITMQ_TAG=3.10        tag of ml-rabbitmq (docker-stack.yml reads the same variable)
#   REGISTRY=                also tag the stack's images as ${REGISTRY}ml-…; PUSH=1 pushes
#                            those tags (e.g. REGISTRY=127.0.0.1:5000/ PUSH=1)
#   DENO_BASE=               base image for the services (default: the official image if present
#                            locally, else ml-deno-base:<version>)
#   ML_IMAGE_CACHE=/var/cache/ml-images   where the rootfs tarballs are kept
#   REBUILD_ROOTFS=1         debootstrap again (e.g. to pick up Debian security updates)
#   DEBIAN_MIRROR=           defaults to the bookworm mirror in this machine's apt sources
#   DENO_DIR=                the host's Deno cache `deno install` fills (default: Deno's own)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

DENO_VERSION=2.9.6
RABBITMQ_IMAGE=ml-rabbitmq:${RABBITMQ_TAG:-3.10}
# Bump when the rootfs recipe below changes, so neither a cached tarball nor image is reused.
ROOTFS_RECIPE=2
ROOTFS_IMAGE=ml-rabbitmq-rootfs:bookworm-r$ROOTFS_RECIPE
PROMETHEUS_IMAGE=ml-prometheus:2.42
ALERTMANAGER_IMAGE=ml-alertmanager:0.25
PROMETHEUS_ROOTFS_RECIPE=3
PROMETHEUS_ROOTFS_IMAGE=ml-prometheus-rootfs:bookworm-r$PROMETHEUS_ROOTFS_RECIPE
PROXY_IMAGE=ml-docker-proxy:2.6
PROXY_ROOTFS_RECIPE=1
PROXY_ROOTFS_IMAGE=ml-docker-proxy-rootfs:bookworm-r$PROXY_ROOTFS_RECIPE
REGISTRY_IMAGE=ml-registry:2.8
REGISTRY_ROOTFS_RECIPE=1
REGISTRY_ROOTFS_IMAGE=ml-registry-rootfs:bookworm-r$REGISTRY_ROOTFS_RECIPE
NODE_PACKAGES=docker.io,iptables,iproute2,procps,ca-certificates
# The package list is part of the node's recipe: changing it makes a new rootfs.
NODE_ROOTFS_RECIPE=1-$(echo "$NODE_PACKAGES" | sha256sum | cut -c1-8)
NODE_ROOTFS_IMAGE=mlc-node-rootfs:bookworm-r$NODE_ROOTFS_RECIPE
IMAGE_TAG=${IMAGE_TAG:-latest}
REGISTRY=${REGISTRY:-}
CACHE_DIR=${ML_IMAGE_CACHE:-/var/cache/ml-images}
BASE_IMAGE=${DENO_BASE:-}

export DOCKER_BUILDKIT=0 # Debian's engine has no buildx; the classic builder is what runs here.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
elapsed() { echo "$((SECONDS - $1))s"; }

# Temporary directories and chroot mounts, undone however the script ends.
TMP_DIRS=()
MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount "${MOUNTS[i]}" 2>/dev/null || true; done
  # --one-file-system: never descend into something still mounted inside a chroot.
  for i in "${TMP_DIRS[@]}"; do rm -rf --one-file-system "$i"; done
}
trap cleanup EXIT

# `docker build -q` that shows the builder's output only when it fails (the classic builder's
# deprecation notice is noise here).
build_quietly() {
  local out
  if ! out=$(docker build -q "$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

tag_for_registry() { # <local image>
  [[ -n $REGISTRY ]] || return 0
  docker tag "$1" "$REGISTRY$1"
  if [[ ${PUSH:-0} == 1 ]]; then docker push "$REGISTRY$1"; fi
}

step_secrets() {
  bash ops/secrets/init.sh
}

# ---------------------------------------------------------------------------------------------
# Deno base image
# ---------------------------------------------------------------------------------------------
deno_binary() {
  local bin
  bin=$(readlink -f "$(command -v deno)") || die "deno is not on PATH"
  # npm's deno package may put a launcher first; the ELF is what goes into the image.
  [[ $(head -c 4 "$bin" | od -An -c | tr -d ' ') == '177ELF' ]] || die "$bin is not an ELF binary"
  echo "$bin"
}

step_base() {
  if [[ -n $BASE_IMAGE ]]; then
    log "base: using $BASE_IMAGE"
    return
  fi
  if have_image "denoland/deno:$DENO_VERSION"; then
    BASE_IMAGE="denoland/deno:$DENO_VERSION"
    log "base: using the official $BASE_IMAGE"
    return
  fi
  BASE_IMAGE="ml-deno-base:$DENO_VERSION"

  local bin sum version started=$SECONDS
  bin=$(deno_binary)
  version=$("$bin" --version | awk 'NR == 1 { print $2 }')
  [[ $version == "$DENO_VERSION" ]] || die "host deno is $version, the images need $DENO_VERSION"
  sum=$(sha256sum "$bin" | cut -d' ' -f1)
  if [[ $(label_of "$BASE_IMAGE" ml.deno.sha256) == "$sum" ]]; then
    log "base: $BASE_IMAGE is up to date"
    return
  fi

  log "base: building $BASE_IMAGE FROM scratch from $bin"
  local ctx rootfs lib
  ctx=$(mktemp -d)
  TMP_DIRS+=("$ctx")
  rootfs=$ctx/rootfs
  mkdir -p "$rootfs"/{usr/bin,etc,tmp,deno-dir,home/deno}
  cp -L "$bin" "$rootfs/usr/bin/deno"
  # Exactly the shared libraries the dynamic linker resolves for this binary, at the same paths.
  for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'deno:x:1000:1000:deno:/home/deno:/sbin/nologin' \
    >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'deno:x:1000:' >"$rootfs/etc/group"
  echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
  chmod 1777 "$rootfs/tmp"
  chown 1000:1000 "$rootfs/deno-dir" "$rootfs/home/deno"
  # A tarball keeps owners and modes exactly (COPY would make everything root-owned).
  tar --numeric-owner --sort=name --mtime=@0 -C "$rootfs" -cf "$ctx/rootfs.tar" .
  rm -rf "$rootfs"
  build_quietly -f ops/images/deno-base.Dockerfile -t "$BASE_IMAGE" \
    --label "org.opencontainers.image.version=$DENO_VERSION" --label "ml.deno.sha256=$sum" \
    "$ctx"
  docker run --rm "$BASE_IMAGE" --version | head -1
  log "base: built $BASE_IMAGE in $(elapsed "$started")"
}

# Debian rootfs images (RabbitMQ, Prometheus, registry, node): ops/images/rootfs.sh
# shellcheck source=ops/images/rootfs.sh
source ops/images/rootfs.sh

step_rabbitmq() {
  build_on_rootfs rabbitmq "$RABBITMQ_IMAGE" "$ROOTFS_IMAGE" "$ROOTFS_RECIPE" rabbitmq-server
  tag_for_registry "$RABBITMQ_IMAGE"
}

step_prometheus() {
  build_on_rootfs prometheus "$PROMETHEUS_IMAGE" "$PROMETHEUS_ROOTFS_IMAGE" \
    "$PROMETHEUS_ROOTFS_RECIPE" prometheus,prometheus-alertmanager
  tag_for_registry "$PROMETHEUS_IMAGE"
  build_on_rootfs alertmanager "$ALERTMANAGER_IMAGE" "$PROMETHEUS_ROOTFS_IMAGE" \
    "$PROMETHEUS_ROOTFS_RECIPE" prometheus,prometheus-alertmanager
  tag_for_registry "$ALERTMANAGER_IMAGE"
}

step_proxy() {
  build_on_rootfs docker-proxy "$PROXY_IMAGE" "$PROXY_ROOTFS_IMAGE" "$PROXY_ROOTFS_RECIPE" haproxy
  tag_for_registry "$PROXY_IMAGE"
}

step_registry() {
  build_on_rootfs registry "$REGISTRY_IMAGE" "$REGISTRY_ROOTFS_IMAGE" "$REGISTRY_ROOTFS_RECIPE" \
    docker-registry
}

# The node image's tag is the hash of its recipe: a test finds the image it needs by name, and an
# unchanged recipe never rebuilds it. Prints the image's name on stdout.
step_node() {
  local sum image
  sum=$(recipe_sum node "$NODE_ROOTFS_IMAGE")
  image=mlc-node:${sum:0:16}
  if [[ ${REBUILD_ROOTFS:-0} == 1 ]] || ! have_image "$image"; then
    build_on_rootfs node "$image" "$NODE_ROOTFS_IMAGE" "$NODE_ROOTFS_RECIPE" "$NODE_PACKAGES"
    docker image ls --format '{{.Repository}}:{{.Tag}}' mlc-node | grep -vxF "$image" |
      xargs -r docker image rm >/dev/null 2>&1 || true
  else
    log "node: $image is up to date"
  fi
  echo "$image"
}

# ---------------------------------------------------------------------------------------------
# Service images
# ---------------------------------------------------------------------------------------------

# .deno/ becomes exactly what the images copy: deno.lock narrowed to the services' packages and
# npm/ with those packages, hard-linked from the host's Deno cache (DENO_DIR, default the global
# one), which `deno install` fills from the full lock (offline once cached).
stage_runtime_deps() { # <entrypoint>...
  local host_dir stage=.deno.staging path target
  host_dir=$(deno info --json | grep -o '"denoDir": *"[^"]*"' | cut -d'"' -f4)
  [[ -d $host_dir ]] || die "cannot find the host's Deno cache (deno info --json)"
  deno install --quiet --frozen --entrypoint "$@"
  rm -rf "$stage"
  mkdir -p "$stage"
  TMP_DIRS+=("$ROOT/$stage")
  deno run --no-config --no-lock --allow-read --allow-write="$stage" --allow-run=deno \
    --allow-env ops/images/runtime_deps.ts "$stage/deno.lock" "$@" >"$stage/paths"
  while IFS= read -r path; do
    [[ $path == "$host_dir"/npm/* ]] || die "npm package outside the Deno cache: $path"
    target=$stage/${path#"$host_dir"/}
    mkdir -p "$(dirname "$target")"
    cp -al "$path" "$target" 2>/dev/null || cp -a "$path" "$target"
  done <"$stage/paths"
  rm "$stage/paths"
  rm -rf .deno
  mv "$stage" .deno
}

# .deno/bin/ml-entry from ml_entry.c: the images' entrypoint (sizes V8 from the container's memory
# limit, then execs deno) and health probe. Static, so it runs on the shell-less stand-in base and
# on the official image alike.
build_entry() {
  command -v gcc >/dev/null || die "gcc is missing: apt-get install -y gcc libc6-dev"
  mkdir -p .deno/bin
  gcc -static -O2 -Wall -Wextra -Werror -s -o .deno/bin/ml-entry ops/images/ml_entry.c
}

# The services and their images, from their manifests (ops/services.ts): "name image" per line.
service_images() { deno run ops/images/dockerfile.ts --images; }
SERVICES=()
declare -A IMAGE_OF=()

step_services() {
  [[ -n $BASE_IMAGE ]] || step_base
  local svc started=$SECONDS entrypoints=()
  for svc in "${SERVICES[@]}"; do
    [[ -f $svc/main.ts ]] || die "$svc/main.ts does not exist yet"
    entrypoints+=("$svc/main.ts")
  done
  log "services: staging .deno/ (the services' npm packages and their lock)"
  stage_runtime_deps "${entrypoints[@]}"
  build_entry
  log "services: $(grep -c '"integrity"' .deno/deno.lock) of the $(grep -c '"integrity"' deno.lock)" \
    "npm packages in deno.lock go into the images"
  for svc in "${SERVICES[@]}"; do
    log "services: building ${IMAGE_OF[$svc]}:$IMAGE_TAG on $BASE_IMAGE"
    # The Dockerfile is made from the manifest (ops/images/dockerfile.ts) and read from stdin.
    deno run ops/images/dockerfile.ts "$svc" |
      build_quietly -f - -t "${IMAGE_OF[$svc]}:$IMAGE_TAG" --build-arg "DENO_BASE=$BASE_IMAGE" .
    tag_for_registry "${IMAGE_OF[$svc]}:$IMAGE_TAG"
  done
  log "services: built in $(elapsed "$started")"
}

# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------
layer_bytes_on_top() { # <image> <base>: bytes of the layers the image adds to its base
  local n_base n_image
  n_base=$(docker history -q "$2" | wc -l)
  n_image=$(docker history -q "$1" | wc -l)
  docker history --human=false --format '{{.Size}}' "$1" | head -n $((n_image - n_base)) |
    awk '{ s += $1 } END { print s + 0 }'
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

step_sizes() {
  [[ -n $BASE_IMAGE ]] || step_base
  local refs=("$BASE_IMAGE" "$RABBITMQ_IMAGE" "$PROMETHEUS_IMAGE" "$PROXY_IMAGE") svc ref
  for svc in "${SERVICES[@]}"; do refs+=("${IMAGE_OF[$svc]}:$IMAGE_TAG"); done
  echo
  printf '%-32s %-14s %s\n' IMAGE ID SIZE
  for ref in "${refs[@]}"; do
    have_image "$ref" || continue
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' "$ref" |
      awk '{ printf "%-32s %-14s %s\n", $1, $2, $3 }'
  done
  echo
  local total extra over=0
  for svc in "${SERVICES[@]}"; do
    have_image "${IMAGE_OF[$svc]}:$IMAGE_TAG" || continue
    total=$(docker image inspect -f '{{.Size}}' "${IMAGE_OF[$svc]}:$IMAGE_TAG")
    extra=$(layer_bytes_on_top "${IMAGE_OF[$svc]}:$IMAGE_TAG" "$BASE_IMAGE")
    local verdict=ok
    if ((total > 110 * 1000 * 1000 || extra > 5 * 1000 * 1000)); then
      verdict="OVER TARGET"
      over=1
    fi
    printf 'ml-%-9s %9s total, %8s on top of %s  [%s]\n' \
      "$svc" "$(mb "$total")" "$(mb "$extra")" "$BASE_IMAGE" "$verdict"
  done
  ((over == 0)) || echo "targets: each service image <= 110 MB, <= 5 MB on top of the base" >&2
}

main() {
  command -v docker >/dev/null || die "docker CLI missing"
  local name image
  while read -r name image; do
    SERVICES+=("$name")
    IMAGE_OF[$name]=$image
  done < <(service_images)
  ((${#SERVICES[@]})) || die "no services listed by ops/images/dockerfile.ts --images"
  docker info >/dev/null 2>&1 || die "no Docker engine answering (start dockerd)"
  local steps=("$@") step
  ((${#steps[@]})) || steps=(secrets base rabbitmq prometheus proxy services sizes)
  for step in "${steps[@]}"; do
    case $step in
    secrets | base | rabbitmq | prometheus | proxy | services | sizes | registry | node) "step_$step" ;;
    *) die "unknown step '$step' (secrets, base, rabbitmq, prometheus, proxy, services, sizes," \
      "registry, node)" ;;
    esac
  done
}

main "$@"
