#!/usr/bin/env bash
# Creates the Docker secrets files docker-stack.yml reads, once: ops/secrets/rabbitmq_user and
# ops/secrets/rabbitmq_password (the broker's administrator, for bootstrap; a random 32-character
# password), broker_<user>_password for each of the pipeline's users, and the Erlang cookie
# docker-stack.cluster.yml adds (ops/secrets/rabbitmq_erlang_cookie). Existing files are kept, so
# running it again changes nothing. The files are git-ignored; only this script is tracked.
#
# Swarm secrets are immutable: to change a password, `docker stack rm ml`, delete its file, run
# this script and deploy again. The broker sets every password from its secret at each start, so
# its data volume is kept (docs/security.md, "Rotating a secret").
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

# random_password, bcrypt_hash
source "$dir/lib.sh"

random_cookie() {
  LC_ALL=C tr -dc 'A-Z' </dev/urandom | head -c 48 || true
}

write_once rabbitmq_user printf '%s' "${RABBITMQ_USER:-ml}"
write_once rabbitmq_password random_password

# The password of each of the pipeline's broker users (stack/broker_roles.ts): one per service,
# and the operators' (deno task dlq, the management UI).
for user in features model metric operator; do
  write_once "broker_${user}_password" random_password
done

# The stack's own CA, and the broker's and the gateway's TLS certificates, signed by it.
bash "$dir/tls.sh" "$dir"

# The gateway's login for people (user `operator`): the password, and the haproxy userlist the
# gateway reads, with its SHA-512 crypt hash (ops/images/gateway/haproxy.cfg).
write_once gateway_password random_password
gateway_userlist() {
  printf 'userlist people\n    user operator password %s\n' \
    "$(openssl passwd -6 -stdin <"$dir/gateway_password")"
}
write_once gateway_users gateway_userlist

# The token that reads the services' HTTP listeners and Prometheus (stack/http_auth.ts): Prometheus
# scrapes with it, the controller logs into Prometheus with it (user ml), and the gateway adds it
# to the requests of people it has logged in. From it, when it is new, come Prometheus' web
# config (its login's bcrypt hash) and the gateway's map of the headers it adds per backend.
write_once telemetry_token random_password
derive() { # <file> <command that prints it>: made again whenever telemetry_token is newer
  local file="$dir/$1"
  [[ -s $file && $file -nt $dir/telemetry_token ]] && { echo "secrets: keeping ops/secrets/$1"; return; }
  rm -f "$file"
  write_once "$@"
}
prometheus_web() {
  printf '# Prometheus --web.config.file: one login, user ml, password telemetry_token.\n'
  printf 'basic_auth_users:\n  ml: %s\n' "$(bcrypt_hash "$dir/telemetry_token")"
}
derive prometheus_web.yml prometheus_web
gateway_upstream() {
  local token
  token=$(cat "$dir/telemetry_token")
  printf 'dashboard Bearer %s\nautoscaler Bearer %s\nprometheus Basic %s\n' "$token" "$token" \
    "$(printf 'ml:%s' "$token" | base64 -w0)"
}
derive gateway_upstream gateway_upstream

# The token Alertmanager sends alerts to the controller's POST /alerts with (controller/alerts.ts):
# apart from telemetry_token, so what reads the stack's telemetry cannot send it alerts.
write_once alert_token random_password

# The Erlang cookie the members of a RabbitMQ cluster (docker-stack.cluster.yml) authenticate each
# other with; a single broker does not use it.
write_once rabbitmq_erlang_cookie random_cookie
