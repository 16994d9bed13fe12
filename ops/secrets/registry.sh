#!/usr/bin/env bash
# Makes what ml-registry (ops/images/registry) needs to serve over TLS with a login, once, in DIR
# (default: this folder): registry_password (the login `ml`'s, random), registry_htpasswd (its
# bcrypt hash: the registry's htpasswd auth reads bcrypt only), and registry_tls.crt and
# registry_tls.key, signed by the stack's CA (broker_ca.pem, made by tls.sh if DIR has none). The
# certificate names localhost, registry, 127.0.0.1 and REGISTRY_NAMES (comma-separated DNS names:
# the host name the Swarm's nodes pull from). Existing files are kept.
#
#   REGISTRY_NAMES=build-host bash ops/secrets/registry.sh
#
# Every node trusts the registry by the CA alone: /etc/docker/certs.d/<host>:5000/ca.crt holding
# broker_ca.pem (docs/operations.md, "Multi-node"). The files the registry reads are made 0444: it
# runs as the docker-registry user, not as their owner; keep DIR itself private.
set -euo pipefail
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
umask 077
mkdir -p "$dir"
cd "$dir"

# random_password, bcrypt_hash
source "$here/lib.sh"

if [[ ! -s registry_password ]]; then
  random_password >registry_password
  rm -f registry_htpasswd # the hash of a password that is gone
  echo "secrets: created registry_password"
fi

if [[ ! -s registry_htpasswd ]]; then
  hash=$(bcrypt_hash registry_password)
  printf 'ml:%s\n' "$hash" >registry_htpasswd
  chmod 0444 registry_htpasswd
  echo "secrets: created registry_htpasswd (user ml)"
fi

if [[ ! -s registry_tls.crt || ! -s registry_tls.key ]]; then
  names="DNS:localhost,DNS:registry,IP:127.0.0.1"
  extra=${REGISTRY_NAMES:-}
  for name in ${extra//,/ }; do names="$names,DNS:$name"; done
  bash "$here/tls.sh" "$PWD" sign registry_tls.key registry_tls.crt "ml-pipeline registry" \
    "$names" serverAuth
  chmod 0444 registry_tls.crt registry_tls.key
  echo "secrets: created registry_tls.crt for $names"
else
  echo "secrets: keeping registry_tls.crt"
fi
