#!/usr/bin/env bash
# The analysts' notebooks (notebooks/*.ipynb), run headless against a small deterministic ledger built with the
# cobro binary. Every notebook recomputes cobro's figures from the snapshot's raw tables and asserts they agree
# (money to the cent), so a failing cell fails this script. Needs the debug binary (`cargo build` or
# `cargo test`); takes about two minutes; leaves nothing in the repository.
#
#   bash ci/notebooks.sh                  # COBRO_BIN defaults to ${CARGO_TARGET_DIR:-target}/debug/cobro
#   KEEP=/tmp/nb bash ci/notebooks.sh     # keep the sample data and the executed notebooks (with plots) there
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

cobro_bin=${COBRO_BIN:-${CARGO_TARGET_DIR:-target}/debug/cobro}
[[ $cobro_bin == /* ]] || cobro_bin=$repo/$cobro_bin
if [[ ! -x $cobro_bin ]]; then
    echo "ci/notebooks.sh: no cobro binary at $cobro_bin (run \`cargo build\`, or set COBRO_BIN)" >&2
    exit 1
fi
python=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ next to the notebooks

# (a) The pinned requirements, installed only when one is missing or at another version.
if ! "$python" - notebooks/requirements.txt <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, pinned = line.partition("==")
    try:
        if pinned and version(name) != pinned:
            missing.append(f"{name} {version(name)} (want {pinned})")
    except PackageNotFoundError:
        missing.append(f"{name} (not installed)")
if missing:
    print("notebook requirements to install:", ", ".join(missing))
    sys.exit(1)
EOF
then
    "$python" -m pip install --quiet --disable-pip-version-check -r notebooks/requirements.txt
fi

if [[ -n ${KEEP:-} ]]; then
    work=$KEEP
    rm -rf "$work"
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/cobro-notebooks.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi

# cobro and the notebooks must apply the same segment rules and company calendar: name the files explicitly.
export COBRO_SEGMENTS=${COBRO_SEGMENTS:-$repo/data/strategies/segments.toml}
export COBRO_WORKFLOW=${COBRO_WORKFLOW:-$repo/data/strategies/workflow.toml}
export COBRO_BIN=$cobro_bin
unset COBRO_DATA_DIR COBRO_STORE

# (b) The sample ledger: generated (200 customers, 5,000 invoices, seed 7), a hand-made extract of edge cases, and
# six months of collection work (promises, disputes, dunning messages) recorded through cobro itself.
started=$SECONDS
snapshot=$("$python" notebooks/sample_data.py --cobro "$cobro_bin" --out "$work/sample" | tail -n 1)
echo "sample snapshot: $snapshot ($((SECONDS - started)) s)"

# (c) Every notebook, executed in memory (the committed files keep no outputs); executed copies go to $work.
started=$SECONDS
COBRO_SNAPSHOT=$snapshot "$python" notebooks/execute.py notebooks/*.ipynb --out "$work/executed"
echo "notebooks: $((SECONDS - started)) s${KEEP:+; executed copies in $work/executed}"
