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

exec "$@"
