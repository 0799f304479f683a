#!/usr/bin/env python3
"""Race cobro's segments and work queue against DuckDB running the same rules, and check that both agree.

The pack (issue 5): the `segments` view (the rules of data/strategies/segments.toml, compiled by cobro into SQL,
over `customer_behaviour`) and the `work_queue` view, on one snapshot of a generated ledger. Each contender reads
the same snapshot Parquet files and computes each view in its own process, from the raw tables up:

- cobro: `cobro sql --format parquet --out F "SELECT * FROM <view>"`, one process per view;
- DuckDB: the same SQL (`cobro views NAME`, rendered once before timing: the as-of date, the compiled rules and
  the queue settings are filled in), with the shims in bench/common.py (`round_half_even` as a macro, rates
  widened to DECIMAL(38, 10), `fx_daily` with an ASOF join, date + integer instead of the integer casts).

The reported time of each contender is the sum of its two processes. Outputs are compared row by row: segments on
(customer_id, segment, overlays, effective_segment, reasons), the queue on (queue_rank, customer_id,
priority_score, next_step, actionable balance to the cent). Usage:

    python3 bench/segments.py --cobro target/release/cobro --sizes 1000000,10000000 --work /work/bench-out

Generated ledgers and snapshots are shared with bench/metrics.py (WORK/gen-N, WORK/metrics-N).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    REPO,
    cobro_sql_argv,
    duckdb_define_views,
    duckdb_session,
    python_child_argv,
    race_rows,
    render_views,
    report_race,
    sql_str,
    time_views,
)
from metrics import log, prepare  # noqa: E402

VIEWS = ["segments", "work_queue"]
TABLES = [
    "customers", "documents", "payments", "allocations", "fx_rates", "open_items", "disputes", "promises",
    "payment_reports",
]
# What the two views read, in dependency order (as in analytics/src/sql.rs).
SQL_FILES = ["fx_daily", "settled_documents", "promise_outcomes", "customer_behaviour", "segments", "work_queue"]
KEYS = {"segments": ["customer_id"], "work_queue": ["queue_rank"]}
COLUMNS = {
    "segments": ["segment", "overlays", "effective_segment", "reasons"],
    "work_queue": ["customer_id", "priority_score", "next_step", "actionable_balance_rc"],
}


def duckdb_child(snap: Path, as_of: str, view: str, out: Path, views_json: Path) -> dict:
    con = duckdb_session(snap, TABLES)
    duckdb_define_views(con, json.loads(views_json.read_text()), as_of)
    con.execute(f"COPY (SELECT * FROM {view}) TO {sql_str(out / f'{view}.parquet')} (FORMAT parquet)")
    return {}


def child_main(argv: list[str]) -> int:
    snap, as_of, view, out, views_json = argv
    duckdb_child(Path(snap), as_of, view, Path(out), Path(views_json))
    print(json.dumps({"ok": True}))
    return 0


def normalise(view: str, path: Path) -> dict:
    import polars as pl

    out = {}
    for row in pl.read_parquet(path).iter_rows(named=True):
        vals = {}
        for c in COLUMNS[view]:
            v = row[c]
            if c.endswith("_rc") and v is not None:
                v = Decimal(str(v)).quantize(Decimal("0.01"))
            vals[c] = v
        out[tuple(str(row[k]) for k in KEYS[view])] = vals
    return out


def compare(view: str, a: Path, b: Path) -> list[str]:
    ta, tb = normalise(view, a / f"{view}.parquet"), normalise(view, b / f"{view}.parquet")
    if set(ta) != set(tb):
        return [f"{view}: rows differ: only in cobro {sorted(set(ta) - set(tb))[:3]}, "
                f"only in DuckDB {sorted(set(tb) - set(ta))[:3]}"]
    return [f"{view} {k} {c}: cobro {v!r} vs DuckDB {tb[k][c]!r}"
            for k, vals in ta.items() for c, v in vals.items() if tb[k][c] != v]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cobro", type=Path, default=REPO / "target/release/cobro")
    p.add_argument("--sizes", default="1000000,10000000", help="invoices per run, comma-separated")
    p.add_argument("--work", type=Path, default=Path("bench-out"))
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    cobro = args.work / "cobro-segments-bench"  # a private copy: a rebuild mid-run must not change the contender
    shutil.copy2(args.cobro, cobro)
    rows, failures = [], []
    for n in [int(s) for s in args.sizes.split(",")]:
        data, as_of, _ = prepare(cobro, args.work, n, args.seed)
        snap = data / "snapshots" / f"as_of={as_of}" / "v=1"
        missing = [t for t in TABLES if not (snap / f"{t}.parquet").exists()]
        if missing:
            log(f"[{n}] the cached snapshot predates {missing}; rebuilding it")
            (data / ".done").unlink()
            data, as_of, _ = prepare(cobro, args.work, n, args.seed)
        views_json = args.work / f"segments-{n}-views.json"
        views_json.write_text(json.dumps(render_views(cobro, data, as_of, SQL_FILES)))
        outs = {name: args.work / f"segments-{n}-out-{name}" for name in ["cobro", "duckdb"]}
        for d in outs.values():
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        timings = {
            "cobro": time_views(f"[{n}] cobro", VIEWS, cobro_sql_argv(cobro, data, as_of, outs["cobro"])),
            "duckdb": time_views(
                f"[{n}] duckdb", VIEWS,
                lambda view: python_child_argv(__file__, "child", snap, as_of, view, outs["duckdb"], views_json),
            ),
        }
        if all(t[0] is not None for t in timings.values()):
            for view in VIEWS:
                failures += [f"[{n}] {p}" for p in compare(view, outs["cobro"], outs["duckdb"])]
        rows += race_rows(n, timings, failures)
    return report_race(rows, "seconds (segments + queue)", failures, "cobro and DuckDB agree on segments and work_queue")


if __name__ == "__main__":
    sys.exit(main())
