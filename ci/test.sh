#!/usr/bin/env bash
# The README's test command: every test of the workspace, unit and black-box, on the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install.sh
cargo test --workspace --locked "$@"
