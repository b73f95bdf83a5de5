#!/usr/bin/env bash
# Runs every check and test of the workspace. Installs what it needs on a fresh machine
# (Rust, Python 3 with pip and gcc are assumed; maturin and pytest are installed into a
# virtual environment under target/).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "rustfmt and clippy components"
rustup component add rustfmt clippy >/dev/null 2>&1 || true

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings (all crates, all targets)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet

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
# --force-reinstall: the version does not change between builds of a working tree.
"$py" -m pip install --quiet --force-reinstall --no-deps ./sigsync-py
# From tests/python, so `import sigsync` is the installed package, not the source tree.
(cd tests/python && "$py" -m pytest -q -p no:cacheprovider)
(cd target && "$py" -m mypy.stubtest sigsync._sigsync --allowlist ../sigsync-py/stubtest-allowlist.txt)

echo
echo "all checks passed"
