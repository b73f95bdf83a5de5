#!/usr/bin/env bash
# Fetches the real MTA tools the relay's interop tests and benchmark drive, from Debian, into
# target/mta-tools (nothing is installed system-wide): Postfix's smtp-sink and smtp-source
# (package postfix) and swaks with Net::SSLeay (swaks, libnet-ssleay-perl), with
# `apt-get download` + `dpkg -x`. Runs `apt-get update` once per machine when it can.
#
# On success target/mta-tools/READY exists; on failure target/mta-tools/FAILED says why and
# the tests that need the tools print SKIPPED with that reason. Safe to run repeatedly.
set -uo pipefail
cd "$(dirname "$0")/.."
dest=target/mta-tools
root=$dest/root
mkdir -p "$dest"
rm -f "$dest/FAILED"

fail() {
  echo "$*" >"$dest/FAILED"
  echo "MTA tools not fetched: $* (the relay's interop tests will print SKIPPED)"
  exit 0
}

have() {
  [ -x "$root/usr/sbin/smtp-sink" ] && [ -x "$root/usr/sbin/smtp-source" ] && [ -f "$root/usr/bin/swaks" ] &&
    [ -n "$(find "$root/usr/lib" -name SSLeay.pm 2>/dev/null | head -1)" ]
}

if have; then
  touch "$dest/READY"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || fail "no apt-get on this machine"
command -v dpkg >/dev/null 2>&1 || fail "no dpkg on this machine"
debs=$dest/debs
mkdir -p "$debs"
download() { (cd "$debs" && apt-get download "$@") >"$dest/apt.log" 2>&1; }
if ! download postfix swaks libnet-ssleay-perl; then
  # The package lists may be missing or stale: refresh them once (needs root).
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >>"$dest/apt.log" 2>&1 || fail "apt-get update failed (see $dest/apt.log)"
    download postfix swaks libnet-ssleay-perl || fail "apt-get download failed (see $dest/apt.log)"
  else
    fail "apt-get download failed and apt-get update needs root (see $dest/apt.log)"
  fi
fi
for deb in "$debs"/*.deb; do
  dpkg -x "$deb" "$root" || fail "dpkg -x $deb failed"
done
have || fail "the packages did not hold smtp-sink, smtp-source, swaks and Net::SSLeay"
touch "$dest/READY"
echo "MTA tools in $root"
