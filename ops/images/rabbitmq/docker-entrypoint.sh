#!/bin/sh
# Entrypoint of ml-rabbitmq: takes the broker's first user from Docker secrets and runs the
# command (rabbitmq-server by default) in the foreground as PID 1.
#
# RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS win when set; otherwise they are read from
# RABBITMQ_DEFAULT_USER_FILE / RABBITMQ_DEFAULT_PASS_FILE, which default to the secrets
# /run/secrets/rabbitmq_user and /run/secrets/rabbitmq_password. RabbitMQ creates that user
# (administrator, vhost /) only when its data directory is empty, i.e. on the first start.
# Other commands (`docker run ml-rabbitmq:3.10 rabbitmq-diagnostics ...`) run as given.
#
# Once the server is up, the pipeline's policies (delivery limit, dead-lettering: stack/policies.ts)
# are imported from ML_DEFINITIONS_FILE, default /etc/rabbitmq/definitions.json, on every start,
# and the node adds itself to every quorum queue it holds no replica of (grow_quorum_queues).
# Not `load_definitions` in rabbitmq.conf: a 3.10 node that loads definitions at boot creates
# neither the default user nor the default vhost, and the user must come from the secrets.
#
# Clustered (docker-stack.cluster.yml), every member must share one Erlang cookie: when
# RABBITMQ_ERLANG_COOKIE_FILE (default: the secret /run/secrets/rabbitmq_erlang_cookie) exists,
# it becomes $HOME/.erlang.cookie, where the server and the CLI tools (the health check) read it.
# Without it a single broker makes its own cookie on first start, as before.
set -eu

cookie_file=${RABBITMQ_ERLANG_COOKIE_FILE:-/run/secrets/rabbitmq_erlang_cookie}
if [ -f "$cookie_file" ]; then
  home=${HOME:-/var/lib/rabbitmq}
  # Erlang refuses a cookie file that others can read; the secret is mounted read-only.
  rm -f "$home/.erlang.cookie"
  (umask 077 && tr -d '\n' <"$cookie_file" >"$home/.erlang.cookie")
  chmod 400 "$home/.erlang.cookie"
fi
unset cookie_file home

from_file() { # <variable> <default file>
  eval "value=\${$1:-}"
  eval "file=\${$1_FILE:-$2}"
  if [ -z "$value" ] && [ -f "$file" ]; then
    if [ ! -r "$file" ]; then
      echo "docker-entrypoint: cannot read $file" >&2
      exit 1
    fi
    value=$(cat "$file")
    export "$1=$value"
  fi
  unset "$1_FILE"
}

from_file RABBITMQ_DEFAULT_USER /run/secrets/rabbitmq_user
from_file RABBITMQ_DEFAULT_PASS /run/secrets/rabbitmq_password
unset value file

# Without a user RabbitMQ would create guest/guest, and loopback_users = none would let it log in
# from anywhere: refuse to start the server that way.
if [ "${1:-}" = rabbitmq-server ] &&
  { [ -z "${RABBITMQ_DEFAULT_USER:-}" ] || [ -z "${RABBITMQ_DEFAULT_PASS:-}" ]; }; then
  echo "docker-entrypoint: no credentials: give the secrets rabbitmq_user and rabbitmq_password" \
    "(or RABBITMQ_DEFAULT_USER/RABBITMQ_DEFAULT_PASS, or their *_FILE paths)" >&2
  exit 1
fi

# Waits for the node started below, then imports the definitions; runs in the background.
import_definitions() { # <file>
  # The first start writes the Erlang cookie: let the server create it before rabbitmqctl reads it.
  tries=0
  while [ ! -s "$HOME/.erlang.cookie" ] && [ $tries -lt 60 ]; do
    sleep 1
    tries=$((tries + 1))
  done
  tries=0
  # await_startup fails at once while the node is not yet registered: ask again.
  until rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ $tries -ge 60 ]; then
      echo "docker-entrypoint: the node did not start; $1 was not imported" >&2
      return 1
    fi
    sleep 2
  done
  if rabbitmqctl -q import_definitions "$1" >/dev/null; then
    echo "docker-entrypoint: imported the pipeline's policies from $1" >&2
  else
    echo "docker-entrypoint: could not import $1: the work queues have no delivery limit" >&2
  fi
  grow_quorum_queues
}

# A quorum queue's members are the cluster's nodes when it is declared, and RabbitMQ 3.10 never
# adds a node that joins later: a member that started after the services had declared their queues
# (seen: a member pulling its image late) held no replica, so the queues lived on two nodes and
# losing either left them without a majority. Each member, once up, adds itself to every quorum
# queue that lacks it. A no-op on one node, and on a member back from a restart.
grow_quorum_queues() {
  node=${RABBITMQ_NODENAME:-rabbit@$(hostname -s)}
  if out=$(rabbitmq-queues -q grow "$node" all 2>&1); then
    [ -z "$out" ] || echo "docker-entrypoint: quorum queues grown onto $node: $out" >&2
  else
    echo "docker-entrypoint: could not grow quorum queues onto $node: $out" >&2
  fi
}

definitions=${ML_DEFINITIONS_FILE:-/etc/rabbitmq/definitions.json}
if [ "${1:-}" = rabbitmq-server ] && [ -f "$definitions" ]; then
  import_definitions "$definitions" &
fi

exec "$@"
