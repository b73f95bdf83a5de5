#!/usr/bin/env bash
# Runs every check and test of the workspace. Installs what it needs on a fresh machine
# (Rust, Python 3 with pip and gcc are assumed; maturin and pytest are installed into a
# virtual environment under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A one-off build needs no incremental caches (they doubled target/ and filled a CI disk once).
export CARGO_INCREMENTAL=0
step "disk before the build"
df -h . || true

step "rustfmt and clippy components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings (all crates, all targets)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet

# --- C API (issue 8) ---
# `cargo test` builds and runs the C programs (tests/tests/c_api.rs): it needs gcc and g++, and
# runs them under valgrind and checks the pkg-config file when those are installed (it prints
# SKIPPED otherwise). Install what is missing on a fresh Debian machine (CI runs as root).
step "C API toolchain (gcc, g++, valgrind, pkg-config)"
missing=()
for tool in gcc g++ valgrind pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } \
      || echo "could not install ${missing[*]}: the C API test skips what needs them"
  else
    echo "missing ${missing[*]} (no apt-get as root): the C API test skips what needs them"
  fi
fi
# --- end C API (issue 8) ---

# --- relay (issue 17) ---
# The relay's interop tests drive swaks, smtp-sink and smtp-source from Debian's packages,
# unpacked under target/mta-tools (nothing installed system-wide); they print SKIPPED with the
# reason only when this fetch fails.
step "MTA tools for the relay's interop tests (apt-get download + dpkg -x into target/)"
bash tests/fetch-mta-tools.sh
# --- end relay (issue 17) ---

step "Rust tests (unit, integration, doc)"
cargo test --all-features

step "Python package in a fresh virtual environment"
venv=target/py-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$PWD/$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet "maturin>=1.7,<2" pytest mypy
# --force-reinstall: the version does not change between builds of a working tree. The dev
# profile shares the Rust tests' compiled dependencies (a release build added 500 MB and minutes)
# and keeps debug assertions on under the Python tests.
MATURIN_PEP517_ARGS="--profile dev" "$py" -m pip install --quiet --force-reinstall --no-deps ./sigsync-py
# From tests/python, so `import sigsync` is the installed package, not the source tree.
(cd tests/python && "$py" -m pytest -q -p no:cacheprovider)
(cd target && "$py" -m mypy.stubtest sigsync._sigsync --allowlist ../sigsync-py/stubtest-allowlist.txt)

step "disk after the build"
du -sh target 2>/dev/null || true
df -h . || true

echo
echo "all checks passed"
