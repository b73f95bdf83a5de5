#!/usr/bin/env bash
# Regenerates the relay tests' fixed RSA test PKI (committed; the tests never generate keys).
#
#   root CA ─┬─ relay.pem          the relay's listener (relay.test, localhost, 127.0.0.1)
#            ├─ nexthop.pem        the tenants' return endpoints (*.mail.protection.test)
#            ├─ exchange.pem       a client certificate for the "Exchange" side (swaks)
#            └─ intermediate CA ─┬─ contoso.pem            contoso's client certificate
#                                ├─ fabrikam.pem           fabrikam's client certificate
#                                ├─ contoso-expired.pem    contoso's name, expired in 2021
#                                └─ contoso-wrongname.pem  a name no inbound connector has
#
# The client certificates are issued by an intermediate the next hop does not know, so a test
# passes only if the relay sends the whole chain (certificate + intermediate). The good
# certificates are valid for 100 years. Usage: bash make-pki.sh (from any folder).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
days=36500

key() { openssl genrsa -out "$1.key" 2048 2>/dev/null; }

# ca NAME CN [ISSUER]: a CA certificate (self-signed when ISSUER is empty).
ca() {
  local name=$1 cn=$2 issuer=${3:-}
  key "$name"
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$tmp/$name.ext"
  if [ -z "$issuer" ]; then
    openssl req -x509 -new -key "$name.key" -subj "/CN=$cn" -days "$days" -sha256 \
      -extensions v3 -config <(printf '[req]\ndistinguished_name=dn\n[dn]\n[v3]\n'; cat "$tmp/$name.ext") \
      -out "$name.pem"
  else
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$tmp/$name.csr"
    openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
      -CAserial "$tmp/serial" -days "$days" -sha256 -extfile "$tmp/$name.ext" -out "$name.pem" 2>/dev/null
  fi
}

# leaf NAME ISSUER CN SANS EKU: an end-entity certificate; its .pem holds the certificate and,
# for certificates issued by the intermediate, the intermediate after it (the chain to send).
leaf() {
  local name=$1 issuer=$2 cn=$3 sans=$4 eku=$5
  key "$name"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$tmp/$name.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$eku" "$sans" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
    -CAserial "$tmp/serial" -days "$days" -sha256 -extfile "$tmp/$name.ext" -out "$tmp/$name.crt" 2>/dev/null
  chain "$name" "$issuer"
}

chain() {
  if [ "$2" = intermediate ]; then cat "$tmp/$1.crt" intermediate.pem >"$1.pem"; else cp "$tmp/$1.crt" "$1.pem"; fi
}

ca root "sigsync relay test root CA"
ca intermediate "sigsync relay test intermediate CA" root
leaf relay root relay.test "DNS:relay.test,DNS:localhost,IP:127.0.0.1" serverAuth
leaf nexthop root mx.test \
  "DNS:contoso.mail.protection.test,DNS:fabrikam.mail.protection.test,DNS:localhost,IP:127.0.0.1" serverAuth
leaf exchange root outbound.protection.test "DNS:outbound.protection.test" clientAuth
leaf contoso intermediate contoso.relay.test "DNS:contoso.relay.test" "serverAuth,clientAuth"
leaf fabrikam intermediate fabrikam.relay.test "DNS:fabrikam.relay.test" "serverAuth,clientAuth"
leaf contoso-wrongname intermediate other.relay.test "DNS:other.relay.test" "serverAuth,clientAuth"

# Expired: `openssl ca` is the CLI that sets explicit dates.
name=contoso-expired
key "$name"
openssl req -new -key "$name.key" -subj "/CN=contoso.relay.test" -out "$tmp/$name.csr"
mkdir -p "$tmp/ca/new"
: >"$tmp/ca/index.txt"
echo 1000 >"$tmp/ca/serial"
cat >"$tmp/ca.cnf" <<CNF
[ca]
default_ca = test
[test]
dir = $tmp/ca
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = leaf
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:contoso.relay.test
CNF
openssl ca -batch -config "$tmp/ca.cnf" -cert intermediate.pem -keyfile intermediate.key \
  -startdate 20200101000000Z -enddate 20210101000000Z -in "$tmp/$name.csr" -out "$tmp/$name.crt" -notext 2>/dev/null
chain "$name" intermediate

rm -f root.srl intermediate.srl
echo "test PKI written to $(pwd)"
