#!/usr/bin/env bash
# Makes a local CA, a server certificate (localhost, 127.0.0.1 and any HOSTS given), a client
# certificate for mutual TLS, and an ES256 token-signing key + certificate for berth-auth.
# Usage: certs-example/make-certs.sh [OUTDIR] [HOSTS...]     (OUTDIR defaults to ./certs)
# Idempotent: existing files are kept.
set -euo pipefail
out="${1:-certs}"
shift || true
mkdir -p "$out"
cd "$out"

if [[ ! -f ca.key ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Berth example CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
fi

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "$@"; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
done

issue() {  # name, subject, extensions
  local name=$1 subject=$2 ext=$3
  [[ -f "$name.crt" ]] && return
  openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%b' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server "/CN=localhost" "subjectAltName=$san\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature"
issue client "/CN=berth-client" "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature"

# Token signing: a self-signed ES256 certificate; registries trust it via auth.token.rootcertbundle.
if [[ ! -f token.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out token.key 2>/dev/null
  openssl req -x509 -new -key token.key -sha256 -days 3650 -subj "/CN=berth-auth token signer" -out token.crt
fi
chmod 600 ./*.key

cat <<MSG
certificates in $(pwd):
  ca.crt                  the CA to trust
  server.crt server.key   http.tls.certificate / http.tls.key   ($san)
  client.crt client.key   client certificate for mutual TLS (http.tls.clientcas: [ca.crt])
  token.crt token.key     berth-auth token.certificate / token.key; registry auth.token.rootcertbundle

trust the CA for a registry at HOST:PORT:
  docker, podman, skopeo, berth:  mkdir -p /etc/docker/certs.d/HOST:PORT && cp ca.crt /etc/docker/certs.d/HOST:PORT/ca.crt
  (podman/skopeo also read /etc/containers/certs.d/HOST:PORT/ca.crt; skopeo takes --dest-cert-dir DIR)
  for mutual TLS also copy client.crt as client.cert and client.key as client.key into that directory.
MSG
