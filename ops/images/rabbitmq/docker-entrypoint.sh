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
# The pipeline's own users (one per service, and the operators'; stack/broker_roles.ts) are
# created or updated on every start, from ML_USERS_FILE (default /etc/rabbitmq/users.tsv) and the
# secrets broker_<user>_password in ML_BROKER_SECRETS_DIR (default /run/secrets): a changed secret
# takes effect at the broker's next start, with its data kept. The administrator above is for
# bootstrap only; its password too is set from its secret on every start.
#
# While the server boots, ml-global-hang-watch (global-hang-watch.sh) watches for a blocked
# global:sync, the bug of RabbitMQ 3.10.8 on Erlang 25.1 and later that leaves a member stuck at
# boot, and unblocks it.
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
  ensure_users "${ML_USERS_FILE:-/etc/rabbitmq/users.tsv}" "${ML_BROKER_SECRETS_DIR:-/run/secrets}"
  if rabbitmqctl -q import_definitions "$1" >/dev/null; then
    echo "docker-entrypoint: imported the pipeline's policies from $1" >&2
  else
    echo "docker-entrypoint: could not import $1: the work queues have no delivery limit" >&2
  fi
  grow_quorum_queues
}

# Creates each user of the users file whose password secret exists, or sets its password if it
# exists (another member of a cluster may have created it first), then its tags and permissions.
# The password goes through standard input, never onto a command line.
ensure_users() { # <users file> <secrets dir>
  # The administrator too: RabbitMQ creates it on an empty volume only, and a changed secret must
  # take effect without wiping the data.
  if [ -n "${RABBITMQ_DEFAULT_USER:-}" ] && [ -n "${RABBITMQ_DEFAULT_PASS:-}" ]; then
    printf '%s' "$RABBITMQ_DEFAULT_PASS" |
      rabbitmqctl -q change_password "$RABBITMQ_DEFAULT_USER" >/dev/null ||
      echo "docker-entrypoint: could not set the password of '$RABBITMQ_DEFAULT_USER'" >&2
  fi
  [ -f "$1" ] || return 0
  tab=$(printf '\t')
  made=""
  while IFS=$tab read -r user tags configure write read; do
    case $user in '#'* | '') continue ;; esac
    secret="$2/broker_${user}_password"
    if [ ! -r "$secret" ]; then
      echo "docker-entrypoint: no secret $secret: broker user '$user' left as it is" >&2
      continue
    fi
    if ! rabbitmqctl -q add_user "$user" <"$secret" >/dev/null 2>&1 &&
      ! rabbitmqctl -q change_password "$user" <"$secret" >/dev/null; then
      echo "docker-entrypoint: could not create broker user '$user'" >&2
      continue
    fi
    [ "$tags" = - ] && tags=""
    # shellcheck disable=SC2046 # one argument per tag
    # </dev/null: rabbitmqctl would read the rest of the users file from standard input.
    rabbitmqctl -q set_user_tags "$user" $(echo "$tags" | tr , ' ') </dev/null >/dev/null &&
      rabbitmqctl -q set_permissions -p / "$user" "$configure" "$write" "$read" </dev/null \
        >/dev/null &&
      made="$made $user"
  done <"$1"
  [ -z "$made" ] || echo "docker-entrypoint: broker users ready:$made" >&2
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
# A member coming back to its cluster can block at boot in global:sync (rabbitmq-server#6034):
# the watch (global-hang-watch.sh) unblocks it, as later releases do.
if [ "${1:-}" = rabbitmq-server ] && command -v ml-global-hang-watch >/dev/null; then
  ml-global-hang-watch &
fi

exec "$@"
