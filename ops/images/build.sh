#!/usr/bin/env bash
# Builds every image the `ml` stack runs, with no container registry needed (`deno task images`).
#
#   bash ops/images/build.sh [secrets|base|rabbitmq|prometheus|services|sizes]...
#                                                             (default: all, in order)
#
#   secrets   ops/secrets/rabbitmq_user and rabbitmq_password (ops/secrets/init.sh), if missing
#   base      ml-deno-base:<deno version>, FROM scratch: the host's Deno binary and the libraries
#             `ldd` lists. Skipped when denoland/deno:<version> is present locally (or DENO_BASE
#             names another base), and when an image of the same binary exists.
#   rabbitmq  ml-rabbitmq:3.10 on a Debian bookworm rootfs made by debootstrap (1-3 min once; the
#             slimmed rootfs tarball is cached in $ML_IMAGE_CACHE, so a rebuild after
#             `docker system prune -a` takes seconds). Skipped when the image exists and its
#             files under ops/images/rabbitmq/ are unchanged.
#   prometheus ml-prometheus:2.42 the same way: Debian bookworm's prometheus package on its own
#             slimmed debootstrap rootfs (cached like the broker's), with prometheus.yml and
#             alerts.yml from ops/images/prometheus/.
#   services  ml-features, ml-model, ml-metric:$IMAGE_TAG. First stages .deno/, what the images
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
#             (README.md, "Multi-node"). Never pushed to itself.
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
PROMETHEUS_ROOTFS_RECIPE=2
PROMETHEUS_ROOTFS_IMAGE=ml-prometheus-rootfs:bookworm-r$PROMETHEUS_ROOTFS_RECIPE
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
SERVICES=(features model metric)
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

# ---------------------------------------------------------------------------------------------
# Debian rootfs images (RabbitMQ, Prometheus)
# ---------------------------------------------------------------------------------------------
debian_mirror() {
  # The bookworm mirror this machine's apt already uses, read at run time (never stored).
  local f=/etc/apt/sources.list.d/debian.sources
  if [[ -f $f ]]; then
    awk 'BEGIN { RS = ""; FS = "\n" } {
        uris = ""; deb = 0; suite = 0
        for (i = 1; i <= NF; i++) {
          split($i, w, /[ \t]+/)
          if (w[1] == "Types:" && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
          if (w[1] == "URIs:") uris = w[2]
          if (w[1] == "Suites:" && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
        }
        if (deb && suite && uris != "") { print uris; exit }
      }' "$f"
  fi
  if [[ -f /etc/apt/sources.list ]]; then
    awk '$1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == "bookworm") { print $i; exit }
      }' /etc/apt/sources.list
  fi
}

host_is_bookworm() { grep -qx 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; }

# Applies bookworm-updates and bookworm-security from the host's own apt sources (bind-mounted,
# read-only, never copied) to the fresh rootfs. Only when the host itself runs bookworm.
upgrade_rootfs() { # <rootfs> <name>
  local r=$1 src
  if ! host_is_bookworm; then
    log "$2: host is not bookworm; skipping security updates of the rootfs"
    return
  fi
  : >"$r/etc/apt/sources.list"
  mount -t proc proc "$r/proc"
  MOUNTS+=("$r/proc")
  for src in /etc/apt/sources.list /etc/apt/sources.list.d/*.{sources,list}; do
    [[ -s $src ]] || continue
    grep -q bookworm "$src" || continue
    touch "$r$src"
    mount --bind -o ro "$src" "$r$src"
    MOUNTS+=("$r$src")
  done
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  local status=0
  {
    chroot "$r" apt-get -q -o Acquire::Languages=none update &&
      chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get -q -y \
        -o Dpkg::Options::=--force-confold upgrade
  } >"$r.upgrade.log" 2>&1 || status=$?
  local m
  for ((m = ${#MOUNTS[@]} - 1; m >= 0; m--)); do
    umount "${MOUNTS[m]}"
    [[ ${MOUNTS[m]} == "$r/proc" ]] || rm -f "${MOUNTS[m]}"
  done
  MOUNTS=()
  rm -f "$r/usr/sbin/policy-rc.d"
  if ((status != 0)); then
    tail -20 "$r.upgrade.log" >&2
    die "apt-get upgrade in the rootfs failed (log: $r.upgrade.log)"
  fi
  grep -E '^[0-9]+ upgraded' "$r.upgrade.log" >&2 || true
  rm -f "$r.upgrade.log"
}

slim_rootfs() { # <rootfs>
  local r=$1
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin \
    "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
    "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.bash_history \
    "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/locale/* \
    "$r"/usr/share/lintian "$r"/usr/share/linda "$r"/usr/share/bug \
    "$r"/var/lib/rabbitmq/.erlang.cookie
  mkdir -p "$r/var/lib/apt/lists/partial"
  # Empty the logs but keep the directories: RabbitMQ still opens <node>_upgrade.log in
  # /var/log/rabbitmq (owned by rabbitmq) even when it logs to the console only.
  find "$r/var/log" -type f -delete
  # Documentation goes; the copyright notices stay.
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  # The image is not meant to run apt; leave no mirror in it.
  echo '# Add a bookworm mirror here before using apt in this image.' >"$r/etc/apt/sources.list"
  # Keep later `apt-get install`s in derived images as slim.
  cat >"$r/etc/dpkg/dpkg.cfg.d/ml-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
}

# What only the Prometheus image can lose. moment-timezone's per-zone data files (~210 MB): the
# classic UI loads moment-timezone-with-data.min.js only. promtool (48 MB): rules and config
# are checked on the host (tests/alert_rules_test.ts, tests/prometheus_config_test.ts).
slim_prometheus() { # <rootfs>
  rm -rf "$1"/usr/share/javascript/moment-timezone/data "$1"/usr/bin/promtool
}

make_rootfs_tarball() { # <tarball> <name> <packages, comma-separated>
  local tarball=$1 name=$2 packages=$3 mirror work started=$SECONDS
  mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
  [[ -n $mirror ]] || die "no bookworm mirror in /etc/apt/sources.list(.d); set DEBIAN_MIRROR"
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install -y debootstrap"
  mkdir -p "$CACHE_DIR"
  work=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
  TMP_DIRS+=("$work")
  log "$name: debootstrap bookworm (minbase + $packages), 1-3 minutes"
  if ! debootstrap --variant=minbase --include="$packages" bookworm "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    tail -20 "$work/rootfs/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    die "debootstrap failed"
  fi
  log "$name: debootstrap took $(elapsed "$started")"
  upgrade_rootfs "$work/rootfs" "$name"
  slim_rootfs "$work/rootfs"
  if declare -F "slim_$name" >/dev/null; then "slim_$name" "$work/rootfs"; fi
  # /dev, /proc and /sys stay empty: the engine provides them.
  tar --numeric-owner --xattrs -C "$work/rootfs" \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
  log "$name: rootfs tarball $(du -h "$tarball" | cut -f1) in $(elapsed "$started")"
}

# Makes sure the imported rootfs image <image> exists: from the cached tarball
# $CACHE_DIR/<name>-rootfs-bookworm-<arch>-r<recipe>.tar, debootstrapping it first when missing
# (or when REBUILD_ROOTFS=1). Older recipes' images and tarballs of <name> are removed.
ensure_rootfs() { # <name> <image> <recipe> <packages, comma-separated>
  local name=$1 image=$2 recipe=$3 packages=$4 tarball
  tarball="$CACHE_DIR/$name-rootfs-bookworm-$(dpkg --print-architecture)-r$recipe.tar"
  if [[ ${REBUILD_ROOTFS:-0} != 1 ]] && have_image "$image"; then return; fi
  if [[ ${REBUILD_ROOTFS:-0} == 1 || ! -s $tarball ]]; then
    make_rootfs_tarball "$tarball" "$name" "$packages"
  else
    log "$name: reusing cached rootfs $tarball"
  fi
  docker import -m "debootstrap bookworm minbase + $packages, slimmed" "$tarball" "$image" \
    >/dev/null
  docker image ls --format '{{.Repository}}:{{.Tag}}' "${image%%:*}" |
    grep -vxF "$image" | xargs -r docker image rm >/dev/null 2>&1 || true
  find "$CACHE_DIR" -maxdepth 1 -name "$name-rootfs-*.tar" ! -path "$tarball" -delete
}

# A hash of what <image> is built from: the rootfs image's name (which carries its recipe and, for
# the node, its packages) and every file under ops/images/<name>/.
recipe_sum() { # <name> <rootfs image>
  {
    echo "$2"
    cd "ops/images/$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

# Builds <image> from ops/images/<name>/ on <rootfs image>; skipped when the image was
# built from the same files on the same rootfs recipe (label ml.files.sha256).
build_on_rootfs() { # <name> <image> <rootfs image> <recipe> <packages, comma-separated>
  local name=$1 image=$2 rootfs=$3 recipe=$4 packages=$5
  local dir=ops/images/$name started=$SECONDS sum
  sum=$(recipe_sum "$name" "$rootfs")
  if [[ ${REBUILD_ROOTFS:-0} != 1 && $(label_of "$image" ml.files.sha256) == "$sum" ]]; then
    log "$name: $image is up to date"
    return
  fi
  ensure_rootfs "$name" "$rootfs" "$recipe" "$packages"
  log "$name: building $image"
  build_quietly -t "$image" --build-arg "ROOTFS_IMAGE=$rootfs" --label "ml.files.sha256=$sum" "$dir"
  log "$name: $image ready in $(elapsed "$started")"
}

step_rabbitmq() {
  build_on_rootfs rabbitmq "$RABBITMQ_IMAGE" "$ROOTFS_IMAGE" "$ROOTFS_RECIPE" rabbitmq-server
  tag_for_registry "$RABBITMQ_IMAGE"
}

step_prometheus() {
  build_on_rootfs prometheus "$PROMETHEUS_IMAGE" "$PROMETHEUS_ROOTFS_IMAGE" \
    "$PROMETHEUS_ROOTFS_RECIPE" prometheus
  tag_for_registry "$PROMETHEUS_IMAGE"
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
# Writes deno.lock narrowed to the npm packages the entrypoints load, with those packages' folders
# in the host cache (one per line on stdout). deno.lock also pins the tests' tools (browsers
# drivers and such); at start Deno wants every package of its lock in the cache, so the images
# get a lock that lists only what the services run. The workspace section (what deno.json
# imports) stays whole, so `--frozen` still checks deno.json against it.
RUNTIME_DEPS_TS='
const [lockOut, ...entrypoints] = Deno.args;
const wanted = new Set<string>();
const snapshot: Record<string, { dependencies: string[]; localPath: string }> = {};
for (const entry of entrypoints) {
  const out = await new Deno.Command("deno", { args: ["info", "--json", entry], stderr: "inherit" })
    .output();
  if (!out.success) Deno.exit(1);
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const m of info.modules) {
    if (m.error) throw new Error(`${entry}: ${m.specifier}: ${m.error}`);
    if (m.kind === "npm") wanted.add(m.npmPackage);
    else if (!/^(file|node|npm):/.test(m.specifier)) {
      throw new Error(`${entry} loads ${m.specifier}: only files and npm packages are staged`);
    }
  }
  Object.assign(snapshot, info.npmPackages);
}
for (const id of wanted) for (const dep of snapshot[id].dependencies) wanted.add(dep);
const lock = JSON.parse(await Deno.readTextFile("deno.lock"));
lock.npm = Object.fromEntries(Object.entries(lock.npm ?? {}).filter(([id]) => wanted.has(id)));
lock.specifiers = Object.fromEntries(
  Object.entries(lock.specifiers ?? {}).filter(([spec, version]) =>
    !spec.startsWith("npm:") ||
    wanted.has(`${spec.slice(4).replace(/@[^@]*$/, "")}@${version}`)
  ),
);
await Deno.writeTextFile(lockOut, JSON.stringify(lock, null, 2) + "\n");
for (const id of [...wanted].sort()) console.log(snapshot[id].localPath);
'

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
    --allow-env - "$stage/deno.lock" "$@" <<<"$RUNTIME_DEPS_TS" >"$stage/paths"
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
    log "services: building ml-$svc:$IMAGE_TAG on $BASE_IMAGE"
    build_quietly -f "$svc/Dockerfile" -t "ml-$svc:$IMAGE_TAG" --build-arg "DENO_BASE=$BASE_IMAGE" .
    tag_for_registry "ml-$svc:$IMAGE_TAG"
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
  local refs=("$BASE_IMAGE" "$RABBITMQ_IMAGE" "$PROMETHEUS_IMAGE") svc ref
  for svc in "${SERVICES[@]}"; do refs+=("ml-$svc:$IMAGE_TAG"); done
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
    have_image "ml-$svc:$IMAGE_TAG" || continue
    total=$(docker image inspect -f '{{.Size}}' "ml-$svc:$IMAGE_TAG")
    extra=$(layer_bytes_on_top "ml-$svc:$IMAGE_TAG" "$BASE_IMAGE")
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
  docker info >/dev/null 2>&1 || die "no Docker engine answering (start dockerd)"
  local steps=("$@") step
  ((${#steps[@]})) || steps=(secrets base rabbitmq prometheus services sizes)
  for step in "${steps[@]}"; do
    case $step in
    secrets | base | rabbitmq | prometheus | services | sizes | registry | node) "step_$step" ;;
    *) die "unknown step '$step' (secrets, base, rabbitmq, prometheus, services, sizes," \
      "registry, node)" ;;
    esac
  done
}

main "$@"
