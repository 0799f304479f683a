#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. Today that is nothing: the tests use only the
# binary that `cargo test` builds and temporary directories. Later gates (SMTP sink, PostgreSQL, Chromium) add
# their installs here, so that a fresh machine finds them missing in CI first.
set -euo pipefail
command -v cargo >/dev/null || { echo "cargo is required (rustup toolchain from rust-toolchain.toml)" >&2; exit 1; }
rustup show active-toolchain >/dev/null 2>&1 || true
