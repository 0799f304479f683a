#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. The main suite needs nothing: it uses the binary
# that `cargo test` builds, SQLite (compiled in) and temporary directories. PostgreSQL is installed by
# ci/postgres.sh, the only step that needs it. Later gates (SMTP sink, Chromium) add their installs here, so that a
# fresh machine finds them missing in CI first.
set -euo pipefail
command -v cargo >/dev/null || { echo "cargo is required (rustup toolchain from rust-toolchain.toml)" >&2; exit 1; }
rustup show active-toolchain >/dev/null 2>&1 || true
