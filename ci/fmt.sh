#!/usr/bin/env bash
# Formatting gate: the tree must be `cargo fmt` clean.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
