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
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "maturin>=1.7,<2" pytest mypy
"$venv/bin/python" -m pip install --quiet ./sigsync-py
(cd tests/python && "../../$venv/bin/python" -m pytest -q)
(cd tests/python && "../../$venv/bin/python" -m mypy.stubtest sigsync._sigsync)

echo
echo "all checks passed"
