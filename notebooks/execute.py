#!/usr/bin/env python3
"""Execute notebooks headless (nbclient) against $COBRO_SNAPSHOT; exit 1 if any cell fails.

    COBRO_SNAPSHOT=…/snapshots/as_of=2025-12-31/v=1 python notebooks/execute.py notebooks/*.ipynb [--out DIR]

The notebooks in the repository are kept without outputs: they are executed in memory and written back only to
--out (executed copies, with their plots), never over themselves. Each runs with its own folder as the working
directory, as in Jupyter.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, help="write the executed copies here")
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = ap.parse_args()
    if not os.environ.get("COBRO_SNAPSHOT"):
        print("COBRO_SNAPSHOT is not set (see notebooks/README.md)", file=sys.stderr)
        return 2
    failed = []
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        stale = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        if stale:
            failed.append(path.name)
            print(f"FAIL {path.name}: cells {stale} are stored with outputs; strip them before committing "
                  "(jupyter nbconvert --clear-output --inplace)", file=sys.stderr)
            continue
        started = time.monotonic()
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.resolve().parent)}})
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            status = "FAIL"
            failed.append(path.name)
            print(f"\n{path.name}: a cell failed\n{ANSI.sub('', str(e))}", file=sys.stderr)
        finally:
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, args.out / path.name)
        checks = sum(out.get("text", "").count("\nOK ") + out.get("text", "").startswith("OK ")
                     for c in nb.cells if c.cell_type == "code" for out in c.get("outputs", [])
                     if out.get("output_type") == "stream")
        print(f"{status:4} {path.name}: {time.monotonic() - started:.1f} s, {checks} table comparisons passed")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
