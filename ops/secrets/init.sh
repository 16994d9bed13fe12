#!/usr/bin/env bash
# Creates the Docker secrets files docker-stack.yml reads, once: ops/secrets/rabbitmq_user and
# ops/secrets/rabbitmq_password (a random 32-character password), and the Erlang cookie
# docker-stack.cluster.yml adds (ops/secrets/rabbitmq_erlang_cookie). Existing files are kept, so
# running it again changes nothing. The files are git-ignored; only this script is tracked.
#
# Swarm secrets are immutable and RabbitMQ creates its first user only on an empty data volume:
# to change the password, `docker stack rm ml`, `docker volume rm ml_rabbitmq-data`, edit or delete
# the file, run this script and deploy again.
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
umask 077

write_once() { # <file> <command that prints the value>
  local file="$dir/$1"
  if [[ -s $file ]]; then
    echo "secrets: keeping ops/secrets/$1"
    return
  fi
  "${@:2}" >"$file.tmp"
  [[ -s $file.tmp ]] || { rm -f "$file.tmp"; echo "secrets: empty value for $1" >&2; exit 1; }
  mv "$file.tmp" "$file"
  echo "secrets: created ops/secrets/$1"
}

random_password() {
  # Letters and digits only: the password may end up inside an amqp:// URL.
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true
}

random_cookie() {
  LC_ALL=C tr -dc 'A-Z' </dev/urandom | head -c 48 || true
}

write_once rabbitmq_user printf '%s' "${RABBITMQ_USER:-ml}"
write_once rabbitmq_password random_password

# The Erlang cookie the members of a RabbitMQ cluster (docker-stack.cluster.yml) authenticate each
# other with; a single broker does not use it.
write_once rabbitmq_erlang_cookie random_cookie
