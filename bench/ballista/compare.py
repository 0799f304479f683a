#!/usr/bin/env python3
"""Does the Ballista run agree with cobro single-node? Usage: compare.py COBRO_OUT BALLISTA_OUT VIEW...

Two checks per view, over COBRO_OUT/<view>.parquet and BALLISTA_OUT/<view>.parquet:

1. bench/metrics.py's own comparison (`compare`): the same keys, money to the cent, counts exactly, ratios to 1e-9
   relative;
2. exact: the same column names and types, and every value equal once both sides are sorted by every column
   (row order is not part of a view's contract).

Exits 1 on any disagreement.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from metrics import compare  # noqa: E402


def exact(view: str, a: Path, b: Path) -> list[str]:
    import polars as pl

    x, y = pl.read_parquet(a / f"{view}.parquet"), pl.read_parquet(b / f"{view}.parquet")
    if x.schema != y.schema:
        return [f"{view}: schemas differ: cobro {dict(x.schema)} vs ballista {dict(y.schema)}"]
    if x.height != y.height:
        return [f"{view}: {x.height} rows from cobro, {y.height} from ballista"]
    cols = x.columns
    x, y = x.sort(cols, nulls_last=True), y.sort(cols, nulls_last=True)
    problems = []
    for c in cols:
        diff = (x[c] != y[c]) | (x[c].is_null() != y[c].is_null())
        n = int(diff.fill_null(False).sum())
        if n:
            i = int(diff.fill_null(False).arg_max())
            problems.append(f"{view}.{c}: {n} of {x.height} values differ, first at sorted row {i}: "
                            f"cobro {x[c][i]!r} vs ballista {y[c][i]!r}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    a, b, views = Path(argv[0]), Path(argv[1]), argv[2:]
    bad = 0
    for view in views:
        if not (b / f"{view}.parquet").exists():
            print(f"{view}: no Ballista output")
            bad += 1
            continue
        loose = compare(view, {"cobro": a, "ballista": b})
        strict = exact(view, a, b)
        import polars as pl

        rows = pl.read_parquet(a / f"{view}.parquet").height
        verdict = "agree" if not loose else f"{len(loose)} disagreement(s)"
        print(f"{view}: {rows} rows; metrics.py comparison: {verdict}; exact comparison: "
              + ("identical" if not strict else f"{len(strict)} column(s) differ"))
        for p in (loose[:10] + strict[:10]):
            print("  " + p)
        bad += bool(loose) + bool(strict)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
