#!/usr/bin/env bash
# Lint gate: clippy on every target, warnings are errors; rustdoc warnings are errors too.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
