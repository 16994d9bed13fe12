#!/usr/bin/env bash
# Makes the stack's own certificate authority and the broker's TLS certificate, once, in DIR
# (default: this folder): broker_ca.pem (the CA's certificate: what the services verify the broker
# against), broker_ca.key (its key: kept here, mounted nowhere), broker_tls_cert.pem and
# broker_tls_key.pem (the broker's), gateway_tls.pem (the gateway's key and certificate), and
# prometheus_tls_cert.pem and prometheus_tls_key.pem (Prometheus' client certificate: the broker's
# metrics port asks for one).
# Existing files are kept. The broker's certificate names every
# host the clients reach it by: the cluster members' service names, localhost and 127.0.0.1; the
# members also present it to each other (Erlang distribution over TLS), so it allows clientAuth.
# Called by init.sh; tests call it with a temporary DIR. `tls.sh DIR sign KEY CERT CN SAN EKU`
# makes the CA if need be and then only that one certificate.
set -euo pipefail
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
days=${TLS_DAYS:-825} # the longest a TLS server certificate may live for Apple's clients
umask 077
cd "$dir"

if [[ ! -s broker_ca.pem || ! -s broker_ca.key ]]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
    -subj "/CN=ml-pipeline stack CA" -keyout broker_ca.key -out broker_ca.pem 2>/dev/null
  # signed by a CA that is gone
  rm -f broker_tls_cert.pem broker_tls_key.pem gateway_tls.pem registry_tls.crt registry_tls.key \
    prometheus_tls_cert.pem prometheus_tls_key.pem
  echo "secrets: created ops/secrets/broker_ca.pem (and its key)"
fi

# sign <key file> <certificate file> <common name> <subjectAltName> <extendedKeyUsage>: a new
# key, and a certificate for it signed by the CA.
sign() {
  openssl req -newkey rsa:2048 -sha256 -nodes -subj "/CN=$3" -keyout "$1" -out "$2.csr" \
    2>/dev/null
  openssl x509 -req -in "$2.csr" -CA broker_ca.pem -CAkey broker_ca.key -CAcreateserial \
    -days "$days" -sha256 -out "$2" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=%s\n' "$4" "$5") 2>/dev/null
  rm -f "$2.csr" broker_ca.srl
}

# `tls.sh DIR sign …`: only that certificate (ops/secrets/registry.sh makes the registry's so).
if [[ ${2:-} == sign ]]; then
  sign "${@:3}"
  exit 0
fi

# The cluster's members also present it to each other, as client and server, over Erlang
# distribution (ops/images/rabbitmq/rabbitmq-env.conf): it must allow clientAuth. One made before
# that is made again.
if [[ -s broker_tls_cert.pem ]] &&
  ! openssl x509 -in broker_tls_cert.pem -noout -ext extendedKeyUsage 2>/dev/null |
  grep -q "TLS Web Client Authentication"; then
  rm -f broker_tls_cert.pem broker_tls_key.pem
  echo "secrets: the broker's certificate lacks clientAuth (inter-node TLS): making a new one"
fi

if [[ ! -s broker_tls_cert.pem || ! -s broker_tls_key.pem ]]; then
  names="DNS:rabbitmq,DNS:rabbitmq-2,DNS:rabbitmq-3,DNS:localhost,IP:127.0.0.1"
  sign broker_tls_key.pem broker_tls_cert.pem rabbitmq "$names" serverAuth,clientAuth
  echo "secrets: created ops/secrets/broker_tls_cert.pem for $names"
else
  echo "secrets: keeping ops/secrets/broker_tls_cert.pem"
fi

# The gateway's certificate, for people's browsers: key and certificate in one file, as haproxy
# reads them. It names localhost and 127.0.0.1, and GATEWAY_NAMES (comma-separated DNS names:
# the host name people type); a browser trusts it once broker_ca.pem is imported, or warns.
if [[ ! -s gateway_tls.pem ]]; then
  names="DNS:localhost,DNS:gateway,IP:127.0.0.1"
  extra=${GATEWAY_NAMES:-}
  for name in ${extra//,/ }; do names="$names,DNS:$name"; done
  sign gateway_tls.key gateway_tls.crt "ml-pipeline gateway" "$names" serverAuth
  cat gateway_tls.crt gateway_tls.key >gateway_tls.pem
  rm -f gateway_tls.crt gateway_tls.key
  echo "secrets: created ops/secrets/gateway_tls.pem for $names"
else
  echo "secrets: keeping ops/secrets/gateway_tls.pem"
fi

# Prometheus' client certificate: the broker serves its metrics (15691) only to a client that
# presents one signed by the stack's CA (ops/images/rabbitmq/rabbitmq.conf).
if [[ ! -s prometheus_tls_cert.pem || ! -s prometheus_tls_key.pem ]]; then
  sign prometheus_tls_key.pem prometheus_tls_cert.pem "ml-pipeline prometheus" DNS:prometheus \
    clientAuth
  echo "secrets: created ops/secrets/prometheus_tls_cert.pem"
else
  echo "secrets: keeping ops/secrets/prometheus_tls_cert.pem"
fi
