#!/usr/bin/env bash
# Installs what a task needs on this machine, or says exactly how to get it. One copy of the
# install steps, for people and CI alike: `deno task start` and `deno task test:integration` call
# it for what they run, `.ci/run` for everything.
#
#   bash ops/install.sh start|test|ci
#
#   start   rabbitmq-server (the throwaway broker `deno task start` runs when AMQP_URL is unset)
#   test    rabbitmq-server, chromium and haproxy (the integration tests start their own broker;
#           the dashboard test drives Chromium; the Docker API filter's test runs haproxy)
#   ci      Deno 2.9.6 and everything the tests, the images and the Swarm tests need
#
# What is missing is installed on Debian or Ubuntu when running as root, after saying so
# (apt-get, and npm for Deno). Anywhere else it stops with the command to run instead.
set -euo pipefail

DENO_VERSION=2.9.6

say() { printf 'install.sh: %s\n' "$*" >&2; }

# "command package" pairs: a package is needed when its command is missing.
packages_for() {
  case $1 in
  start) echo "rabbitmq-server rabbitmq-server" ;;
  test)
    printf '%s\n' "rabbitmq-server rabbitmq-server" "/usr/bin/chromium chromium" \
      "/usr/sbin/haproxy haproxy" "openssl openssl"
    ;;
  ci)
    printf '%s\n' "rabbitmq-server rabbitmq-server" "/usr/bin/chromium chromium" \
      "/usr/sbin/haproxy haproxy" "dockerd docker.io" "debootstrap debootstrap" \
      "promtool prometheus" "amtool prometheus-alertmanager" "gcc gcc" "openssl openssl"
    ;;
  *) say "unknown group '$1' (start, test, ci)"; exit 2 ;;
  esac
}

present() { # <command or absolute path>
  if [[ $1 == /* ]]; then [[ -x $1 ]]; else command -v "$1" >/dev/null 2>&1; fi
}

can_install() {
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1
}

# Deno from npm (jsr.io and deno.land are not reachable from every machine; npm is).
ensure_deno() {
  [[ $(deno --version 2>/dev/null | head -n1 | cut -d' ' -f2) == "$DENO_VERSION" ]] && return 0
  if command -v npm >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    say "installing Deno $DENO_VERSION with npm"
    npm install -g "deno@$DENO_VERSION" >/dev/null
  else
    say "Deno $DENO_VERSION is missing; install it with: npm install -g deno@$DENO_VERSION"
    exit 1
  fi
}

main() {
  local group=${1:-}
  [[ -n $group ]] || { say "usage: bash ops/install.sh start|test|ci"; exit 2; }
  local list
  list=$(packages_for "$group")
  [[ $group == ci ]] && ensure_deno
  local missing=() cmd pkg
  while read -r cmd pkg; do
    present "$cmd" || missing+=("$pkg")
  done <<<"$list"
  # gcc also needs glibc's static libc to build the images' static entrypoint (ml_entry.c).
  if [[ $group == ci ]] && present gcc && [[ $(gcc -print-file-name=libc.a) == libc.a ]]; then
    missing+=(libc6-dev)
  fi
  [[ ${#missing[@]} -gt 0 ]] || return 0
  [[ " ${missing[*]} " == *" gcc "* ]] && missing+=(libc6-dev)
  if can_install; then
    say "installing ${missing[*]} with apt-get (Debian packages), as '$group' needs them"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    return 0
  fi
  say "'$group' needs ${missing[*]}, which this machine lacks, and cannot install them here" \
    "(not root, or no apt-get). Install them:"
  say "  sudo apt-get install -y ${missing[*]}"
  if [[ " ${missing[*]} " == *" rabbitmq-server "* ]]; then
    say "or, for the broker, run RabbitMQ in a container and point the pipeline at it:"
    say "  docker run -d --name rabbitmq -p 127.0.0.1:5672:5672 rabbitmq:3-management"
    say "  AMQP_URL=amqp://guest:guest@localhost:5672 deno task start"
  fi
  exit 1
}

main "$@"
