# What init.sh and registry.sh share; sourced, not run.

# 32 letters and digits: the password may end up inside an amqp:// URL.
random_password() {
  LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 || true
}

# bcrypt_hash <file>: the bcrypt hash ($2b$, cost 10) of the password in <file>, as Prometheus'
# web config and the registry's htpasswd read it. crypt(3) of Debian's libxcrypt makes it from a
# 22-character salt; perl is in every Debian system, openssl passwd has no bcrypt.
bcrypt_hash() {
  local salt hash
  salt=$(LC_ALL=C tr -dc 'A-Za-z0-9./' </dev/urandom | head -c 22 || true)
  hash=$(perl -e 'print crypt($ARGV[0], "\$2b\$10\$" . $ARGV[1])' "$(cat "$1")" "$salt")
  if [[ $hash != '$2b$10$'* || ${#hash} -ne 60 ]]; then
    echo "secrets: this system's crypt(3) made no bcrypt hash of $1" >&2
    return 1
  fi
  printf '%s' "$hash"
}
