#!/usr/bin/env python3
"""Race cobro's metric pack against DuckDB and Polars on the same snapshot, check that all three agree.

The pack (DESIGN §9): `ageing` at the as-of date, `ar_monthly` over the whole ledger (24 months for the generated
data) and `customer_behaviour` (days late per customer). Each contender reads the same snapshot Parquet files:

- cobro: `cobro sql --format parquet --out F "SELECT * FROM <view>"`, one process per view (the views are
  analytics/sql/*.sql);
- DuckDB: the *same SQL*, as `cobro views NAME` renders it for the snapshot, with shims (bench/common.py): rates widened to DECIMAL(38, 10), `//` for integer division, the
  `countback_dso` function in Python, `month_index` and `round_half_even` as
  macros, `fx_daily` with an ASOF join (DuckDB cannot cast a date to an integer), and `strftime` for `to_char`;
- Polars: an independent implementation of the same definitions with the lazy API (docs/metrics.md), with the
  12-row-per-year tail (standard and countback DSO, CEI) in plain Python.

Outputs are compared row by row: money to the cent, counts exactly, ratios to 1e-9 relative. Any disagreement is
printed and the run exits 1. Usage:

    python3 bench/metrics.py --cobro target/release/cobro --sizes 1000000,10000000 --work /work/bench-out

Generated ledgers are shared with bench/ingest.py (WORK/gen-N); the imported snapshot is cached in WORK/metrics-N.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
    run_child,
    sql_str,
    time_views,
)

VIEWS = ["ageing", "ar_monthly", "customer_behaviour"]
TABLES = ["customers", "documents", "payments", "allocations", "fx_rates", "open_items", "disputes", "promises"]
# The views the pack needs, in dependency order (as in analytics/src/sql.rs), rendered by `cobro views`.
SQL_FILES = [
    "ledger_months", "fx_daily", "ar_document_months", "ar_monthly_by_currency", "ar_monthly", "ageing",
    "settled_documents", "promise_outcomes", "customer_behaviour",
]
BUCKET_EDGES = [30, 60, 90, 120]
KEYS = {"ageing": ["customer_id", "bucket", "currency"], "ar_monthly": ["month"], "customer_behaviour": ["customer_id"]}
MONEY = {
    "ageing": ["balance", "balance_rc"],
    "ar_monthly": ["credit_sales", "collections", "credits", "ar_begin", "ar_end", "ar_end_current", "ar_end_disputed"],
    "customer_behaviour": [],
}
INTS = {"ageing": ["open_count"], "ar_monthly": [], "customer_behaviour": ["settled_count", "paid_late_count"]}
RATIOS = {
    "ageing": [],
    "ar_monthly": ["dso_standard_3m", "dso_countback", "bpdso_3m", "cei_pct"],
    "customer_behaviour": ["wadl", "avg_days_late"],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def countback_dso(ar, sales, days):
    """cobro's `countback_dso` UDF for DuckDB, written again in Python: walk back from the last month, take whole
    months while what is left of AR covers their sales, then the covered fraction of the next."""
    if ar is None or sales is None:
        return None
    rem, total = ar, 0.0
    for s, d in zip(reversed(sales), reversed(days)):
        if rem <= 0:
            break
        if rem >= s:
            rem -= s
            total += d
        else:
            total += float(rem) / float(s) * d
            break
    return total


def duckdb_child(snap: Path, as_of: str, rc: str, out: Path, views_json: Path) -> dict:
    import duckdb

    con = duckdb_session(snap, TABLES)
    con.create_function(
        "countback_dso",
        countback_dso,
        [duckdb.decimal_type(28, 4), duckdb.list_type(duckdb.decimal_type(28, 4)), duckdb.list_type(duckdb.sqltype("INTEGER"))],
        duckdb.sqltype("DOUBLE"),
    )
    duckdb_define_views(con, json.loads(views_json.read_text()), as_of)
    for view in VIEWS:
        con.execute(f"COPY (SELECT * FROM {view}) TO {sql_str(out / f'{view}.parquet')} (FORMAT parquet)")
    return {}


# --------------------------------------------------------------------------------------------------------------
# Polars: the same definitions, written independently

def polars_child(snap: Path, as_of: str, rc: str, out: Path, views_json: Path) -> dict:
    import polars as pl

    a = dt.date.fromisoformat(as_of)
    last_idx = a.year * 12 + a.month - 1

    def scan(t: str) -> pl.LazyFrame:
        return pl.scan_parquet(snap / f"{t}.parquet")

    def month_idx(col: str) -> pl.Expr:
        return pl.col(col).dt.year().cast(pl.Int64) * 12 + pl.col(col).dt.month().cast(pl.Int64) - 1

    fx = scan("fx_rates").filter(pl.col("date") <= a).rename({"date": "rate_date"}).sort("rate_date")

    def with_rate(lf: pl.LazyFrame, on: str) -> pl.LazyFrame:
        """Adds rate_to_reporting: the rate dated `on` or the latest earlier one."""
        return lf.sort(on).join_asof(fx, left_on=on, right_on="rate_date", by="currency", strategy="backward")

    def to_rc(col: str) -> pl.Expr:
        conv = (pl.col(col).cast(pl.Decimal(38, 4)) * pl.col("rate_to_reporting")).round(2, mode="half_to_even")
        return pl.when(pl.col("currency") == rc).then(pl.col(col).cast(pl.Decimal(38, 10))).otherwise(conv.cast(pl.Decimal(38, 10)))

    docs = scan("documents")
    recv = (
        docs.filter((pl.col("kind") != "credit_note") & (pl.col("issue_date") <= a))
        .with_columns(issue_idx=month_idx("issue_date"), disputed=pl.col("disputed").fill_null(False))
    )
    credit_ids = docs.filter(pl.col("kind") == "credit_note").select(pl.col("document_id").alias("source_id"), is_credit=pl.lit(True))
    allocs = (
        scan("allocations").filter(pl.col("applied_date") <= a)
        .join(credit_ids, on="source_id", how="left")
        .with_columns(pl.col("is_credit").fill_null(False))
    )
    n_disputes = scan("disputes").select(pl.len()).collect().item()
    if n_disputes:
        raise SystemExit("the Polars contender implements disputed AR from the ERP flag only; this snapshot has dispute records")

    # Months of the ledger.
    first = recv.select(pl.col("issue_date").min()).collect().item()
    months = []
    for idx in range(first.year * 12 + first.month - 1, last_idx + 1):
        start = dt.date(idx // 12, idx % 12 + 1, 1)
        nxt = dt.date((idx + 1) // 12, (idx + 1) % 12 + 1, 1)
        end = min(nxt - dt.timedelta(days=1), a)
        months.append({"month_idx": idx, "month": start.strftime("%Y-%m"), "month_end": end, "days": (end - start).days + 1})
    months_lf = pl.LazyFrame(months, schema={"month_idx": pl.Int64, "month": pl.String, "month_end": pl.Date, "days": pl.Int64})

    # Balances at each month end: segments of constant balance, expanded over the month ends they cover.
    alloc_m = allocs.group_by("document_id", month_idx("applied_date").alias("idx")).agg(pl.col("amount").sum().alias("applied"))
    events = pl.concat([
        alloc_m.with_columns(pl.col("applied").cast(pl.Decimal(38, 4))),
        recv.select("document_id", pl.col("issue_idx").alias("idx"), pl.lit(0).cast(pl.Decimal(38, 4)).alias("applied")),
    ]).group_by("document_id", "idx").agg(pl.col("applied").sum())
    seg = (
        events.join(recv.select("document_id", "currency", "amount", "due_date", "issue_idx", "disputed"), on="document_id")
        .sort("document_id", "idx")
        .with_columns(
            cum=pl.col("applied").cum_sum().over("document_id"),
            nxt=pl.col("idx").shift(-1).over("document_id"),
        )
        .with_columns(
            from_idx=pl.max_horizontal("idx", "issue_idx"),
            to_idx=pl.col("nxt").fill_null(last_idx + 1),
            balance=(pl.col("amount").cast(pl.Decimal(38, 4)) - pl.col("cum")),
        )
        .filter((pl.col("balance") > 0) & (pl.col("from_idx") < pl.col("to_idx")))
        .with_columns(month_idx=pl.int_ranges("from_idx", "to_idx"))
        .explode("month_idx")
        .join(months_lf.select("month_idx", "month_end"), on="month_idx")
    )
    seg = with_rate(seg, "month_end").with_columns(balance_rc=to_rc("balance"))
    balances = seg.group_by("month_idx").agg(
        ar_end=pl.col("balance_rc").sum(),
        ar_end_current=pl.col("balance_rc").filter(pl.col("due_date") >= pl.col("month_end")).sum(),
        ar_end_disputed=pl.col("balance_rc").filter(pl.col("disputed")).sum(),
    )
    sales = (
        with_rate(recv, "issue_date").with_columns(amount_rc=to_rc("amount"))
        .group_by(pl.col("issue_idx").alias("month_idx")).agg(credit_sales=pl.col("amount_rc").sum())
    )
    flows = (
        allocs.join(recv.select("document_id", "currency", "issue_date"), on="document_id")
        .with_columns(effective=pl.max_horizontal("applied_date", "issue_date"))
    )
    flows = (
        with_rate(flows, "effective").with_columns(amount_rc=to_rc("amount"), month_idx=month_idx("effective"))
        .group_by("month_idx").agg(
            collections=pl.col("amount_rc").filter(~pl.col("is_credit")).sum(),
            credits=pl.col("amount_rc").filter(pl.col("is_credit")).sum(),
        )
    )
    monthly = (
        months_lf.join(sales, on="month_idx", how="left").join(flows, on="month_idx", how="left")
        .join(balances, on="month_idx", how="left").sort("month_idx").collect()
    )
    rows = []
    history = []
    previous_end = Decimal(0)
    zero = Decimal(0)
    for m in monthly.iter_rows(named=True):
        s = m["credit_sales"] or zero
        end, cur, dis = m["ar_end"] or zero, m["ar_end_current"] or zero, m["ar_end_disputed"] or zero
        history.append((s, m["days"]))
        window = history[-3:]
        s3, d3 = sum(x for x, _ in window), sum(d for _, d in window)
        k3 = float(d3) / float(s3) if len(window) == 3 and s3 > 0 else None
        rem, days = end, 0.0
        for sale, d in reversed(history):
            if rem <= 0:
                break
            if rem >= sale:
                rem -= sale
                days += d
            else:
                days += float(rem) / float(sale) * d
                rem = zero
                break
        den = previous_end + s - cur
        rows.append({
            "month": m["month"], "credit_sales": s, "collections": m["collections"] or zero, "credits": m["credits"] or zero,
            "ar_begin": previous_end, "ar_end": end, "ar_end_current": cur, "ar_end_disputed": dis,
            "dso_standard_3m": float(end) * k3 if k3 is not None else None, "dso_countback": days,
            "bpdso_3m": float(cur) * k3 if k3 is not None else None,
            "cei_pct": float(previous_end + s - end) / float(den) * 100 if den > 0 else None,
        })
        previous_end = end
    pl.DataFrame(rows).write_parquet(out / "ar_monthly.parquet")

    # Ageing at the as-of date, from open_items.
    dpd = pl.col("days_past_due")
    bucket = pl.when(dpd <= 0).then(pl.lit("current"))
    lower = 1
    for edge in BUCKET_EDGES:
        bucket = bucket.when(dpd <= edge).then(pl.lit(f"{lower}-{edge}"))
        lower = edge + 1
    bucket = bucket.otherwise(pl.lit(f"{BUCKET_EDGES[-1]}+"))
    (
        scan("open_items").with_columns(bucket=bucket)
        .group_by("customer_id", "bucket", "currency")
        .agg(open_count=pl.len(), balance=pl.col("balance").sum(), balance_rc=pl.col("balance_rc").sum())
        .collect().write_parquet(out / "ageing.parquet")
    )

    # Days late per customer.
    per_doc = allocs.group_by("document_id").agg(
        applied=pl.col("amount").sum(),
        last_applied=pl.col("applied_date").max(),
        by_payment=pl.col("amount").filter(~pl.col("is_credit")).sum(),
        by_credit_rows=pl.col("is_credit").sum(),
        payment_rows=(~pl.col("is_credit")).sum(),
    )
    settled = (
        recv.join(per_doc, on="document_id").filter(pl.col("applied") >= pl.col("amount"))
        .filter(pl.col("payment_rows") > 0)  # settled by payment or mixed; credit notes alone cancel
        .with_columns(settled=pl.max_horizontal("last_applied", "issue_date"))
        .with_columns(
            days_late=pl.max_horizontal((pl.col("settled") - pl.col("due_date")).dt.total_days(), pl.lit(0)),
        )
    )
    settled = with_rate(settled, "issue_date").with_columns(amount_rc=to_rc("amount"))
    # customer_behaviour covers the trailing 12 months: settled in (as_of − 12 months, as_of].
    as_of_date = dt.date.fromisoformat(as_of)
    window_start = as_of_date.replace(year=as_of_date.year - 1)  # as_of is a month end not in February here
    settled = settled.filter(pl.col("settled") > pl.lit(window_start))
    per_customer = (
        settled.with_columns(w=pl.col("amount_rc").cast(pl.Float64))
        .group_by("customer_id")
        .agg(
            settled_count=pl.len(),
            paid_late_count=(pl.col("days_late") > 0).sum(),
            wadl=(pl.col("w") * pl.col("days_late")).sum() / pl.col("w").sum(),
            avg_days_late=pl.col("days_late").cast(pl.Float64).mean(),
        )
    )
    (
        scan("customers").select("customer_id").join(per_customer, on="customer_id", how="left")
        .with_columns(pl.col("settled_count").fill_null(0), pl.col("paid_late_count").fill_null(0))
        .collect().write_parquet(out / "customer_behaviour.parquet")
    )
    return {}


def child_main(argv: list[str]) -> int:
    engine, snap, as_of, rc, out, views_json = argv
    {"duckdb": duckdb_child, "polars": polars_child}[engine](Path(snap), as_of, rc, Path(out), Path(views_json))
    print(json.dumps({"ok": True}))
    return 0


# --------------------------------------------------------------------------------------------------------------
# Orchestration

def prepare(cobro: Path, work: Path, n: int, seed: int) -> tuple[Path, str, str]:
    """WORK/metrics-N: the generated ledger (shared with ingest.py) imported and snapshotted at its extract date."""
    gen = work / f"gen-{n}"
    if not (gen / ".done").exists():
        if gen.exists():
            shutil.rmtree(gen)
        argv = [cobro, "generate", "--customers", str(max(1, round(n * 0.02))), "--invoices", str(n), "--seed", str(seed), "--out", gen]
        log(f"[{n}] generating: {' '.join(map(str, argv))}")
        run_child(argv, check=True, what="cobro generate")
        (gen / ".done").write_text("{}\n")
    data = work / f"metrics-{n}"
    as_of = "2025-12-31"  # the generator's extract date for 24 months from 2024-01
    snap = data / "snapshots" / f"as_of={as_of}" / "v=1"
    if not (data / ".done").exists():
        if data.exists():
            shutil.rmtree(data)
        files = [gen / f"{t}.csv" for t in ["customers", "documents", "payments", "allocations", "fx_rates"]]
        mapping = REPO / "data/mappings/cobro-canonical.toml"
        log(f"[{n}] importing and snapshotting into {data}")
        run_child([cobro, "import", "--data-dir", data, "--mapping", mapping, *files], check=True, what="cobro import")
        run_child([cobro, "snapshot", "--data-dir", data, "--as-of", as_of], check=True, what="cobro snapshot")
        (data / ".done").write_text(as_of + "\n")
    manifest = json.loads((snap / "manifest.json").read_text())
    return data, as_of, manifest["reporting_currency"]


def normalise(view: str, path: Path) -> dict:
    import polars as pl

    df = pl.read_parquet(path)
    out = {}
    for row in df.iter_rows(named=True):
        key = tuple(str(row[k]) for k in KEYS[view])
        vals = {}
        for c in MONEY[view]:
            v = row[c]
            vals[c] = None if v is None else Decimal(str(v)).quantize(Decimal("0.01"))
        for c in INTS[view]:
            vals[c] = None if row[c] is None else int(row[c])
        for c in RATIOS[view]:
            vals[c] = None if row[c] is None else float(row[c])
        out[key] = vals
    return out


def compare(view: str, results: dict[str, Path]) -> list[str]:
    tables = {name: normalise(view, path / f"{view}.parquet") for name, path in results.items()}
    base_name = "cobro"
    base = tables[base_name]
    problems = []
    for name, table in tables.items():
        if name == base_name:
            continue
        if set(table) != set(base):
            only_a, only_b = sorted(set(base) - set(table))[:3], sorted(set(table) - set(base))[:3]
            problems.append(f"{view}: rows differ between cobro and {name}: only in cobro {only_a}, only in {name} {only_b}")
            continue
        for key, vals in base.items():
            other = table[key]
            for c, v in vals.items():
                w = other[c]
                if isinstance(v, float) or isinstance(w, float):
                    same = (v is None and w is None) or (
                        v is not None and w is not None and abs(v - w) <= 1e-9 * max(1.0, abs(v), abs(w))
                    )
                else:
                    same = v == w
                if not same:
                    problems.append(f"{view} {key} {c}: cobro {v} vs {name} {w}")
    return problems


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
    # A private copy: rebuilding target/release/cobro during a run must not change the contender.
    cobro = args.work / "cobro-metrics-bench"
    shutil.copy2(args.cobro, cobro)
    rows, failures = [], []
    for n in [int(s) for s in args.sizes.split(",")]:
        data, as_of, rc = prepare(cobro, args.work, n, args.seed)
        snap = data / "snapshots" / f"as_of={as_of}" / "v=1"
        outs = {name: args.work / f"metrics-{n}-out-{name}" for name in ["cobro", "duckdb", "polars"]}
        for d in outs.values():
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        views_json = args.work / f"metrics-{n}-views.json"
        views_json.write_text(json.dumps(render_views(cobro, data, as_of, SQL_FILES)))
        timings = {}
        log(f"[{n}] cobro")
        timings["cobro"] = time_views("cobro", VIEWS, cobro_sql_argv(cobro, data, as_of, outs["cobro"]))
        for engine in ["duckdb", "polars"]:
            log(f"[{n}] {engine}")
            r = run_child(python_child_argv(__file__, "child", engine, snap, as_of, rc, outs[engine], views_json))
            timings[engine] = (r.seconds if r.ok else None, r.peak_rss_mib, "" if r.ok else f"exit {r.returncode}")
        done = {name: path for name, path in outs.items() if timings[name][0] is not None}
        if "cobro" in done and len(done) > 1:
            for view in VIEWS:
                failures += [f"[{n}] {p}" for p in compare(view, done)]
        rows += race_rows(n, timings, failures)
    return report_race(rows, "seconds", failures, "all three agree on ageing, ar_monthly and customer_behaviour")


if __name__ == "__main__":
    sys.exit(main())
