#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain: the binary that `cargo test` builds, SQLite
# (compiled in) and temporary directories need nothing; the delivery tests start a real SMTP server, aiosmtpd
# (Python); the object-store tests a real S3-compatible server, moto (Python); the browser tests drive Debian's
# chromium through chromium-driver (apt). PostgreSQL is installed by ci/postgres.sh, the only step that needs it. ci/test.sh (the README's test command) runs this first, so a fresh
# machine gets the same installs as CI. Idempotent and quick when done.
set -euo pipefail
command -v cargo >/dev/null || { echo "cargo is required (rustup toolchain from rust-toolchain.toml)" >&2; exit 1; }
rustup show active-toolchain >/dev/null 2>&1 || true
command -v python3 >/dev/null || { echo "python3 is required (the SMTP sink of the delivery tests)" >&2; exit 1; }
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6'
# The object-store tests publish snapshots to a real S3-compatible server: moto in server mode (with boto3).
python3 -c 'import moto.server, boto3, flask_cors' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.1'
# The browser tests drive Debian's headless Chromium through ChromeDriver; the pgwire tests run the real psql, and
# the TLS one makes its certificate with openssl.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null || ! command -v psql >/dev/null \
    || ! command -v openssl >/dev/null; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core postgresql-client openssl >/dev/null
fi
