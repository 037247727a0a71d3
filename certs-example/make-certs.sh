#!/usr/bin/env bash
# Makes, with openssl, everything a local TLS/mTLS/token setup of berth needs:
#   ca.crt ca.key           a local certificate authority (ECDSA P-256, 10 years)
#   server.crt server.key   server certificate for localhost, 127.0.0.1, ::1 and every HOST given
#   client.crt client.key   client certificate for mutual TLS (http.tls.clientcas: [ca.crt])
#   token.crt token.key     ES256 (P-256) token-signing key + self-signed certificate for berth-auth;
#                           registries list token.crt in auth.token.rootcertbundle
#   trust/ca.crt            a directory to pass as skopeo --src-cert-dir/--dest-cert-dir (or to copy
#                           to /etc/docker/certs.d/HOST:PORT/)
#   trust-mtls/             the same plus client.cert + client.key, for registries with clientcas
#
# Usage: certs-example/make-certs.sh [OUTDIR] [HOSTS...]     (OUTDIR defaults to ./certs)
#   HOSTS are DNS names or IP addresses added to the server certificate's subjectAltName.
# Idempotent: existing keys and certificates are kept; the server certificate is re-issued only
# when HOSTS change, and leaf certificates are re-issued when they no longer verify against ca.crt.
set -euo pipefail
out="${1:-certs}"
(($#)) && shift
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$out"
cd "$out"
umask 077

if [[ ! -f ca.key || ! -f ca.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Berth example CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.crt
  rm -f server.crt client.crt  # a new CA: the leaves must be re-issued
fi

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for host in "$@"; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=",IP:$host"; else san+=",DNS:$host"; fi
done

# issue NAME SUBJECT EXTENSIONS [FINGERPRINT]: key (kept if present) + certificate signed by the CA.
issue() {
  local name=$1 subject=$2 ext=$3 fingerprint=${4:-}
  if [[ -f "$name.crt" && -f "$name.key" ]] \
     && openssl verify -CAfile ca.crt "$name.crt" >/dev/null 2>&1 \
     && [[ -z "$fingerprint" || "$(cat "$name.hosts" 2>/dev/null)" == "$fingerprint" ]]; then
    return
  fi
  [[ -f "$name.key" ]] || openssl ecparam -name prime256v1 -genkey -noout -out "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%b\n' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
  [[ -z "$fingerprint" ]] || printf '%s\n' "$fingerprint" > "$name.hosts"
}

common="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer"
issue server "/CN=localhost" "$common\nextendedKeyUsage=serverAuth\nsubjectAltName=$san" "$san"
issue client "/CN=berth-client" "$common\nextendedKeyUsage=clientAuth"

# Token signing: ES256 needs a P-256 key. Self-signed, so the registry's rootcertbundle is this file.
if [[ ! -f token.key || ! -f token.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out token.key
  openssl req -x509 -new -key token.key -sha256 -days 3650 -subj "/CN=berth-auth token signer" \
    -addext "keyUsage=critical,digitalSignature" -out token.crt
fi

# Certificate directories in Docker's certs.d layout (*.crt = CAs, NAME.cert + NAME.key = client).
mkdir -p trust trust-mtls
cp ca.crt trust/ca.crt
cp ca.crt trust-mtls/ca.crt
cp client.crt trust-mtls/client.cert
cp client.key trust-mtls/client.key
chmod 600 ./*.key trust-mtls/client.key
chmod 644 ./*.crt trust/ca.crt trust-mtls/ca.crt trust-mtls/client.cert

dir="$(pwd)"
cat <<MSG
certificates in $dir:
  ca.crt                  the CA to trust
  server.crt server.key   http.tls.certificate / http.tls.key   ($san)
  client.crt client.key   client certificate for mutual TLS (registry: http.tls.clientcas: [ca.crt])
  token.crt token.key     berth-auth signing certificate / key (ES256); registry: auth.token.rootcertbundle
  trust/  trust-mtls/     ready-made certificate directories (ca.crt; + client.cert/client.key)

trust the CA for a registry at HOST:PORT (e.g. localhost:5443):
  docker, podman, skopeo and berth read /etc/docker/certs.d/HOST:PORT/:
    mkdir -p /etc/docker/certs.d/localhost:5443 && cp $dir/ca.crt /etc/docker/certs.d/localhost:5443/ca.crt
  (podman and skopeo also read /etc/containers/certs.d/HOST:PORT/)
  for mutual TLS also put client.cert + client.key there: cp $dir/trust-mtls/client.* /etc/docker/certs.d/localhost:5443/
  or per command: skopeo copy --dest-cert-dir $dir/trust ...   (--src-cert-dir, inspect --cert-dir)
                  curl --cacert $dir/ca.crt [--cert $dir/client.crt --key $dir/client.key] ...
MSG
