# Debian rootfs images (RabbitMQ, Prometheus, the Docker API filter, the registry, the Swarm test
# node): sourced by build.sh, whose variables (ROOT, CACHE_DIR, TMP_DIRS, ...) and helpers (log,
# die, have_image, label_of, build_quietly, elapsed) it uses. Shared with nothing else.
# shellcheck shell=bash
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

# What only the Prometheus (and Alertmanager) rootfs can lose. moment-timezone's per-zone data
# files (~210 MB): the classic UI loads moment-timezone-with-data.min.js only. promtool (48 MB)
# and amtool: rules and configs are checked on the host (tests/alert_rules_test.ts,
# tests/prometheus_config_test.ts).
slim_prometheus() { # <rootfs>
  rm -rf "$1"/usr/share/javascript/moment-timezone/data "$1"/usr/bin/promtool "$1"/usr/bin/amtool
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
