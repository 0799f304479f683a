#!/usr/bin/env python3
"""Dunning benchmark: `cobro dunning plan` on a large generated ledger, with DuckDB reading the same inputs.

One data set, sized by its *open* invoices at the snapshot date (default 1,000,000 over 100,000 customers):

1. ``cobro generate --months M`` (canonical CSVs), ``cobro import`` (data/mappings/cobro-canonical.toml) and
   ``cobro snapshot --as-of X``, where X is the generator's extract date (the last day of month M from 2024-01).
   Only about half of a 3-month ledger is still open at its extract date, so the invoice count is derived from
   the open target (``OPEN_SHARE``). The open invoices and customers are counted with ``cobro sql``.
2. ``cobro dunning plan --as-of X --at XT09:00:00Z --format json > FILE`` ``--repeat`` times (median seconds, max
   peak RSS), with the actions and skipped items counted from the file; ``--format table > /dev/null`` once.
3. DuckDB, reading the snapshot's Parquet files, in its own child process:
   - ``join``: open_items ⋈ documents ⋈ customers, materialised: the floor of the planner's input stage;
   - ``inputs``: the five queries the planner itself runs (documents with what paid and credited them, customers
     with their segment and open balance, unapplied cash, ERP dispute flags, the control-total tie-out), with the
     ``segments`` and ``unapplied`` views as ``cobro views`` renders them.
   DuckDB does not plan: it only reads the inputs. The ratio cobro plan / DuckDB join is a floor, not a race.
4. ``cobro sql`` on each of the planner's five input queries, one process each (``--format parquet --out``): where
   the plan's time goes, without a profiler.

Markdown goes to stdout, progress to stderr, and everything to WORK/dunning-results.json. Run from the repository
root:  python3 bench/dunning.py            (smoke run: --open-target 20000)
See bench/README.md. Exit codes: 0 ok, 1 a timed command failed, 2 bad setup.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import math
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (after the sys.path line on purpose)
    REPO,
    ChildFailed,
    duckdb_define_views,
    duckdb_session,
    fmt_mib,
    fmt_ratio,
    fmt_seconds,
    last_json_line,
    machine_info,
    markdown_table,
    median,
    python_child_argv,
    render_views,
    rss_floor_mib,
    run_child,
    sql_str,
    warm_files,
    write_json,
)
from ingest import (  # noqa: E402
    DEFAULT_MAPPING,
    SetupError,
    check_cobro_binary,
    cobro_version,
    latest_snapshot_dir,
    log,
    snapshot_table_files,
)

THIS = Path(__file__).resolve()
CSV_TABLES = ("customers", "documents", "payments", "allocations", "fx_rates")
# Every table the planner's input queries read (segments reads disputes, promises and payment_reports).
SNAPSHOT_TABLES = (
    "customers", "documents", "payments", "allocations", "fx_rates", "open_items", "disputes", "promises",
    "payment_reports",
)
# The views behind `segments` and `unapplied`, in dependency order, as `cobro views` renders them.
VIEWS = ("fx_daily", "settled_documents", "promise_outcomes", "customer_behaviour", "segments", "unapplied")

# Share of generated invoices still open at the extract date, by --months (seed 42, `cobro generate`; measured on
# 100k invoices / 10k customers, and for 3 months also on the default 2M / 100k run, see bench/README.md).
# The default --months 3 gives a mix of current and 1-60 days overdue items at about 54 % open; 1 month is almost
# all current (nothing for the overdue steps to do), 24 months needs ~13M invoices for 1M open.
OPEN_SHARE = {1: 0.94, 2: 0.71, 3: 0.54, 6: 0.30}
MARGIN = 1.05  # generate 5 % more than the share says, so the target is met at any seed
OPEN_PER_CUSTOMER = 10  # default customers = open target / 10 (100k for 1M)
START = dt.date(2024, 1, 1)  # pipeline/src/generate.rs DEFAULT_START

# ==============================================================================================================
# The planner's input queries, copied from app/src/dunning.rs (`build`, `tie_out`) and app/src/ledger.rs
# (`load_documents`, `applied_by_document`): DataFusion SQL, which DuckDB runs as is. Keep them in step with the
# Rust code: they are what the breakdown times and what the DuckDB `inputs` contender runs.
# ==============================================================================================================


def planner_queries(as_of: str) -> dict[str, str]:
    d = f"DATE '{as_of}'"
    applied = (
        "SELECT a.document_id, "
        "SUM(CASE WHEN cn.document_id IS NULL THEN a.amount END) AS paid, "
        "SUM(CASE WHEN cn.document_id IS NOT NULL THEN a.amount END) AS credited "
        "FROM allocations a "
        "LEFT JOIN (SELECT document_id FROM documents WHERE kind = 'credit_note') cn ON cn.document_id = a.source_id "
        f"WHERE a.applied_date <= {d} AND TRUE GROUP BY a.document_id"
    )
    recent = f"d.kind <> 'credit_note' AND (o.document_id IS NOT NULL OR d.due_date >= {d} - INTERVAL '45' DAY)"
    return {
        "documents": (
            f"WITH applied AS ({applied}) "
            "SELECT d.document_id, d.customer_id, d.kind, d.currency, CAST(d.amount AS VARCHAR), "
            "CAST(COALESCE(o.balance, 0) AS VARCHAR), CAST(d.issue_date AS VARCHAR), CAST(d.due_date AS VARCHAR), "
            "CAST(COALESCE(p.paid, 0) AS VARCHAR), CAST(COALESCE(p.credited, 0) AS VARCHAR) "
            "FROM documents d "
            "LEFT JOIN open_items o ON o.document_id = d.document_id "
            "LEFT JOIN applied p ON p.document_id = d.document_id "
            f"WHERE d.issue_date <= {d} AND {recent}"
        ),
        "customers": (
            "SELECT c.customer_id, c.email, c.timezone, CAST(c.vip AS VARCHAR), c.account_group, s.effective_segment, "
            "CAST(c.payment_terms_days AS VARCHAR), c.collector_id, c.sales_rep_id, "
            "CAST(COALESCE(ob.balance_rc, 0) AS VARCHAR), c.name, c.language "
            "FROM customers c "
            "LEFT JOIN segments s ON s.customer_id = c.customer_id "
            "LEFT JOIN (SELECT customer_id, SUM(balance_rc) AS balance_rc FROM open_items GROUP BY customer_id) ob "
            "ON ob.customer_id = c.customer_id"
        ),
        "unapplied": (
            "SELECT customer_id, currency, CAST(SUM(unapplied) AS VARCHAR) FROM unapplied GROUP BY customer_id, currency"
        ),
        "flagged": (
            "SELECT d.document_id FROM documents d WHERE d.disputed "
            "AND NOT EXISTS (SELECT 1 FROM disputes x WHERE x.document_id = d.document_id)"
        ),
        "tie_out": (
            "SELECT currency, CAST(CAST(SUM(balance) AS DECIMAL(38, 4)) AS VARCHAR), CAST(COUNT(*) AS VARCHAR) "
            "FROM open_items GROUP BY currency"
        ),
    }


# The floor: what any planner must read at least. Typed columns, no casts to text.
JOIN_SQL = (
    "SELECT o.document_id, o.customer_id, d.kind, d.currency, d.amount, o.balance, o.balance_rc, d.issue_date, "
    "d.due_date, c.email, c.timezone, c.vip, c.account_group, c.payment_terms_days, c.collector_id, c.sales_rep_id, "
    "c.name, c.language "
    "FROM open_items o JOIN documents d ON d.document_id = o.document_id "
    "JOIN customers c ON c.customer_id = o.customer_id"
)

# ==============================================================================================================
# Child side: `python bench/dunning.py child ...`. Only the child imports duckdb.
# ==============================================================================================================


def child_duckdb(snap: Path, as_of: str, mode: str, views_json: Path | None) -> dict:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb_session(snap, [])  # the macros, and fx_rates widened as the views need it
    for t in SNAPSHOT_TABLES:
        if t == "fx_rates":
            continue
        files = ", ".join(sql_str(f) for f in snapshot_table_files(snap, t))
        con.execute(f"CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet([{files}])")
    rows = {}
    if mode == "join":
        con.execute(f"CREATE TABLE planner_input AS {JOIN_SQL}")
        rows["join"] = con.execute("SELECT COUNT(*) FROM planner_input").fetchone()[0]
    else:
        duckdb_define_views(con, json.loads(views_json.read_text()), as_of)
        for name, sql in planner_queries(as_of).items():
            con.execute(f"CREATE TABLE q_{name} AS {sql}")
            rows[name] = con.execute(f"SELECT COUNT(*) FROM q_{name}").fetchone()[0]
    seconds = time.perf_counter() - t0
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return {"engine": "duckdb", "version": duckdb.__version__, "threads": int(threads), "inner_seconds": seconds,
            "rows": rows}


def child_count(path: Path) -> dict:
    """Counts a plan's actions and skipped items with json.load (the fallback when the file is not pretty JSON)."""
    with open(path, encoding="utf-8") as f:
        plan = json.load(f)
    return {k: len(v) for k, v in plan.items() if isinstance(v, list)}


def child_main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "duckdb":
        snap, as_of, mode, views_json = rest
        out = child_duckdb(Path(snap), as_of, mode, Path(views_json) if views_json != "-" else None)
    elif kind == "count":
        out = child_count(Path(rest[0]))
    else:
        raise SystemExit(f"unknown child {kind!r}")
    print(json.dumps(out))
    return 0


# ==============================================================================================================
# Driver side (standard library only).
# ==============================================================================================================


def count_plan(path: Path) -> dict[str, int]:
    """Actions and skipped items of `dunning plan --format json` output, streamed line by line.

    serde_json's pretty printer puts every top-level key at an indent of 2 and every element of its array at an
    indent of 4, so an element starts with a line that is exactly `    {`. Anything else (compact JSON, a changed
    layout) is counted by a child with json.load instead, so the driver never holds the plan."""
    counts: dict[str, int] = {}
    key = None
    with open(path, encoding="utf-8") as f:
        if f.readline().rstrip("\n") != "{":
            key = "?"
        else:
            for line in f:
                if line.startswith('  "'):
                    key = line.split('"', 2)[1]
                    counts[key] = 0
                    if line.rstrip().rstrip(",").endswith("[]"):
                        key = None
                elif line.startswith("  ]"):
                    key = None
                elif key is not None and line.startswith("    {"):
                    counts[key] += 1
    if key is None and {"actions", "skipped"} <= counts.keys():
        return counts
    log(f"  {path.name} is not pretty-printed as expected; counting it with json.load in a child")
    r = run_child(python_child_argv(THIS, "child", "count", path), check=True, what="count the plan")
    return last_json_line(r.stdout)


def to_file(argv: list, out: Path | str) -> list[str]:
    """argv run with stdout to a file: `sh -c 'exec "$@" > OUT'`. The shell execs the command in place, so
    run_child's wait4 measures the command itself, and its output never passes through the driver."""
    return ["sh", "-c", 'exec "$@" > "$0"', str(out), *map(str, argv)]


def extract_date(months: int) -> str:
    """The generator's extract date: the last day of the last of `months` months from 2024-01."""
    m = START.month - 1 + months - 1
    y, m = START.year + m // 12, m % 12 + 1
    return dt.date(y, m, calendar.monthrange(y, m)[1]).isoformat()


def default_invoices(target: int, months: int) -> int:
    """Invoices to generate for `target` open invoices: target / OPEN_SHARE × MARGIN, rounded up to 2 digits."""
    n = target / OPEN_SHARE[months] * MARGIN
    step = 10 ** max(0, int(math.log10(n)) - 1)
    return int(math.ceil(n / step) * step)


def sql_csv(cobro: Path, data: Path, as_of: str, sql: str) -> list[dict[str, str]]:
    r = run_child([cobro, "--data-dir", data, "sql", "--as-of", as_of, "--format", "csv", sql], check=True,
                  what="cobro sql")
    lines = [l for l in r.stdout.strip().splitlines() if l.strip()]
    header = lines[0].split(",")
    return [dict(zip(header, l.split(","))) for l in lines[1:]]


def prepare(args, cobro: Path) -> dict:
    """Generates, imports and snapshots the ledger (or reuses it with --reuse); counts what is open."""
    tag = f"{args.invoices}-{args.customers}-m{args.months}-s{args.seed}"
    gen, data = args.work / f"dunning-gen-{tag}", args.work / f"dunning-data-{tag}"
    info: dict = {"gen_dir": str(gen), "data_dir": str(data), "setup": {}}
    if not args.reuse:
        for d in (gen, data):
            if d.exists():
                log(f"removing {d} (pass --reuse to keep it)")
                shutil.rmtree(d)
    if (gen / ".done").exists():
        as_of = json.loads((gen / ".done").read_text())["extract_date"]
        log(f"reusing {gen} (extract date {as_of})")
    else:
        shutil.rmtree(gen, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)
        argv = [cobro, "generate", "--customers", str(args.customers), "--invoices", str(args.invoices), "--months",
                str(args.months), "--seed", str(args.seed), "--out", gen]
        log("generating: " + " ".join(map(str, argv)))
        r = run_child(argv, check=True, what="cobro generate")
        m = re.search(r"extract date (\d{4}-\d{2}-\d{2})", r.stdout)
        as_of = m.group(1) if m else extract_date(args.months)
        if as_of != extract_date(args.months):
            log(f"warning: cobro generate says extract date {as_of}, expected {extract_date(args.months)}; using {as_of}")
        info["setup"]["generate"] = {"seconds": round(r.seconds, 2), "peak_rss_mib": round(r.peak_rss_mib),
                                     "summary": r.stdout.strip()}
        log(f"  {r.stdout.strip()} in {r.seconds:.1f} s")
        (gen / ".done").write_text(json.dumps({"extract_date": as_of, "summary": r.stdout.strip()}) + "\n")
    if (data / ".done").exists():
        log(f"reusing {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)
        files = [gen / f"{t}.csv" for t in CSV_TABLES]
        log(f"importing and snapshotting into {data}")
        r = run_child([cobro, "--data-dir", data, "import", "--mapping", args.mapping, *files], what="cobro import")
        if r.returncode not in (0, 3):  # 3: done with rejected rows
            raise ChildFailed(r, "cobro import")
        info["setup"]["import"] = {"seconds": round(r.seconds, 2), "peak_rss_mib": round(r.peak_rss_mib),
                                   "exit": r.returncode}
        log(f"  import: {r.seconds:.1f} s, {r.peak_rss_mib:.0f} MiB" + (", with rejected rows" if r.returncode else ""))
        r = run_child([cobro, "--data-dir", data, "snapshot", "--as-of", as_of], check=True, what="cobro snapshot")
        info["setup"]["snapshot"] = {"seconds": round(r.seconds, 2), "peak_rss_mib": round(r.peak_rss_mib)}
        log(f"  snapshot: {r.seconds:.1f} s, {r.peak_rss_mib:.0f} MiB")
        (data / ".done").write_text(as_of + "\n")
    info["as_of"] = as_of
    info["snapshot_dir"] = str(latest_snapshot_dir(data, as_of))
    (row,) = sql_csv(
        cobro, data, as_of,
        "SELECT COUNT(*) AS open_items, SUM(CASE WHEN kind = 'invoice' THEN 1 ELSE 0 END) AS open_invoices, "
        "SUM(CASE WHEN days_past_due > 0 THEN 1 ELSE 0 END) AS past_due, "
        "COUNT(DISTINCT customer_id) AS customers_with_open_items, "
        "(SELECT COUNT(*) FROM customers) AS customers, "
        "(SELECT COUNT(*) FROM documents WHERE kind = 'invoice') AS invoices FROM open_items",
    )
    info["counts"] = {k: int(v) for k, v in row.items()}
    return info


def time_cobro(label: str, argv: list, repeat: int) -> dict:
    """Runs argv `repeat` times: median seconds, max peak RSS (None seconds if a run failed)."""
    runs = []
    for i in range(repeat):
        r = run_child(argv)
        runs.append({"seconds": round(r.seconds, 3), "user": round(r.user_seconds, 2), "sys": round(r.sys_seconds, 2),
                     "peak_rss_mib": round(r.peak_rss_mib, 1), "exit": r.returncode})
        log(f"  {label} run {i + 1}/{repeat}: {r.seconds:.2f} s, {r.peak_rss_mib:.0f} MiB"
            + ("" if r.ok else f", FAILED\n{r.describe_failure()}"))
        if not r.ok:
            return {"seconds": None, "peak_rss_mib": r.peak_rss_mib, "runs": runs, "error": r.describe_failure()}
    return {"seconds": median([x["seconds"] for x in runs]), "peak_rss_mib": max(x["peak_rss_mib"] for x in runs),
            "runs": runs, "stdout": r.stdout[-4000:]}


def time_duckdb(label: str, snap: Path, as_of: str, mode: str, views_json: Path | None, repeat: int) -> dict:
    argv = python_child_argv(THIS, "child", "duckdb", snap, as_of, mode, views_json or "-")
    res = time_cobro(label, argv, repeat)
    if res["seconds"] is not None:
        res["report"] = last_json_line(res.pop("stdout"))  # rows, version, threads, in-engine seconds
    return res


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time `cobro dunning plan` on a large generated ledger, with DuckDB reading the same inputs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--cobro", type=Path, default=REPO / "target" / "release" / "cobro", help="the cobro binary")
    p.add_argument("--open-target", type=int, default=1_000_000, help="open invoices wanted at the snapshot date")
    p.add_argument("--months", type=int, default=3, help="months of generated history (`cobro generate --months`)")
    p.add_argument("--invoices", type=int, help="invoices to generate; None: derived from --open-target and --months")
    p.add_argument("--customers", type=int, help=f"customers; None: open target / {OPEN_PER_CUSTOMER}")
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--work", type=Path, default=REPO / "bench" / "out", help="work directory (data and outputs)")
    p.add_argument("--reuse", action="store_true", help="reuse the generated and imported data of an earlier run")
    p.add_argument("--repeat", type=int, default=1, help="timed runs of the JSON plan and of DuckDB (median)")
    p.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="cobro mapping for the canonical CSVs")
    p.add_argument("--no-breakdown", dest="breakdown", action="store_false",
                   help="skip timing the planner's input queries with `cobro sql`")
    p.add_argument("--keep-outputs", action="store_true",
                   help="keep the plan JSON and the `cobro sql` Parquet outputs (they can be large)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.open_target < 1:
        p.error("--open-target must be positive")
    if args.invoices is None:
        if args.months not in OPEN_SHARE:
            p.error(f"with --months {args.months}, pass --invoices (open shares are known for --months "
                    f"{', '.join(map(str, OPEN_SHARE))})")
        args.invoices = default_invoices(args.open_target, args.months)
    if args.customers is None:
        args.customers = max(1, args.open_target // OPEN_PER_CUSTOMER)
    args.work = args.work.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child_main(argv[1:])
    args = parse_args(argv)
    started = dt.datetime.now().astimezone()
    try:
        cobro = check_cobro_binary(args.cobro)
        if not args.mapping.exists():
            raise SetupError(f"mapping not found: {args.mapping}")
        args.work.mkdir(parents=True, exist_ok=True)
        private = args.work / "cobro-dunning-bench"  # a private copy: a rebuild mid-run must not change the contender
        shutil.copy2(cobro, private)
        if not run_child([private, "dunning", "plan", "--help"]).ok:
            raise SetupError(f"{cobro} has no `dunning plan`: build a current one (cargo build --release)")
        info = prepare(args, private)
    except (SetupError, ChildFailed) as e:
        log(f"error: {e}")
        return 2

    as_of, data, snap, counts = info["as_of"], Path(info["data_dir"]), Path(info["snapshot_dir"]), info["counts"]
    at = f"{as_of}T09:00:00Z"
    log(f"as of {as_of}: {counts['open_invoices']:,} open invoices ({counts['open_items']:,} open items, "
        f"{counts['past_due']:,} past due) of {counts['invoices']:,}, over {counts['customers_with_open_items']:,} "
        f"of {counts['customers']:,} customers")
    if counts["open_invoices"] < args.open_target:
        want = math.ceil(args.invoices * args.open_target / counts["open_invoices"] * 1.02 / 10_000) * 10_000
        log(f"warning: {counts['open_invoices']:,} open invoices is below --open-target {args.open_target:,}; "
            f"try --invoices {want}")
    warm_files(p for t in SNAPSHOT_TABLES for p in snapshot_table_files(snap, t))

    plan_argv = [private, "--data-dir", data, "dunning", "plan", "--as-of", as_of, "--at", at]
    plan_file = args.work / "dunning-plan.json"
    results: dict = {}
    log("cobro dunning plan --format json")
    results["plan_json"] = time_cobro("plan json", to_file(plan_argv + ["--format", "json"], plan_file), args.repeat)
    if results["plan_json"]["seconds"] is not None:
        results["plan_json"]["output_mib"] = round(plan_file.stat().st_size / 2**20, 1)
        results["plan_json"]["counts"] = count_plan(plan_file)
    log("cobro dunning plan --format table")
    results["plan_table"] = time_cobro("plan table", to_file(plan_argv + ["--format", "table"], "/dev/null"), 1)

    views_json = args.work / "dunning-views.json"
    views_json.write_text(json.dumps(render_views(private, data, as_of, VIEWS)))
    log("duckdb: open_items ⋈ documents ⋈ customers")
    results["duckdb_join"] = time_duckdb("duckdb join", snap, as_of, "join", None, args.repeat)
    log("duckdb: the planner's input queries")
    results["duckdb_inputs"] = time_duckdb("duckdb inputs", snap, as_of, "inputs", views_json, args.repeat)

    breakdown = {}
    if args.breakdown:
        out_dir = args.work / "dunning-sql-out"
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        log("cobro sql: the planner's input queries, one process each")
        for name, sql in planner_queries(as_of).items():
            breakdown[name] = time_cobro(f"sql {name}", [private, "--data-dir", data, "sql", "--as-of", as_of,
                                                          "--format", "parquet", "--out", out_dir / f"{name}.parquet",
                                                          sql], 1)
        if not args.keep_outputs:
            shutil.rmtree(out_dir, ignore_errors=True)
    if not args.keep_outputs:
        plan_file.unlink(missing_ok=True)

    # ---- report ----
    floor = results["duckdb_join"]["seconds"]
    pj = results["plan_json"]

    def row(name: str, res: dict, what: str) -> list:
        s = res["seconds"]
        return [name, fmt_seconds(s) if s is not None else "failed", fmt_ratio(s / floor if s is not None and floor else None),
                fmt_mib(res["peak_rss_mib"]), what]

    pc = pj.get("counts", {})
    duck_rows = (results["duckdb_inputs"].get("report") or {}).get("rows", {})
    rows = [
        row("cobro dunning plan --format json", pj,
            f"{pc.get('actions', 0):,} actions, {pc.get('skipped', 0):,} skipped, {pj.get('output_mib', 0):,.0f} MiB"
            if pc else "–"),
        row("cobro dunning plan --format table", results["plan_table"], "to /dev/null"),
        row("duckdb: open_items ⋈ documents ⋈ customers", results["duckdb_join"],
            f"{(results['duckdb_join'].get('report') or {}).get('rows', {}).get('join', 0):,} rows"),
        row("duckdb: the planner's 5 input queries", results["duckdb_inputs"],
            f"{duck_rows.get('documents', 0):,} documents, {duck_rows.get('customers', 0):,} customers"),
    ]
    if breakdown:
        total = sum(b["seconds"] for b in breakdown.values()) if all(b["seconds"] is not None for b in breakdown.values()) else None
        rows.append(row("cobro sql: the planner's 5 input queries (sum)",
                        {"seconds": total, "peak_rss_mib": max(b["peak_rss_mib"] for b in breakdown.values())},
                        ", ".join(f"{k} {fmt_seconds(b['seconds'])}" for k, b in breakdown.items())))
    print(f"### dunning plan, {counts['open_invoices']:,} open invoices, {counts['customers']:,} customers\n")
    print(f"Ledger: `cobro generate --customers {args.customers} --invoices {args.invoices} --months {args.months} "
          f"--seed {args.seed}`, snapshot as of {as_of}, plan at {at}. {counts['open_items']:,} open items "
          f"({counts['open_invoices']:,} invoices, {counts['past_due']:,} past due) over "
          f"{counts['customers_with_open_items']:,} customers. Seconds are the median of {args.repeat} run(s) "
          f"(table output: 1), peak RSS the maximum.\n")
    print(markdown_table(["step", "seconds", "ratio to DuckDB join", "peak RSS MiB", "output"], rows, align="lrrrl"))
    ratio = pj["seconds"] / floor if pj["seconds"] is not None and floor else None
    print(f"\ncobro plan (json) / DuckDB input read (join): {fmt_ratio(ratio)}. DuckDB does not plan; it only reads "
          "the planner's inputs from the same Parquet files.")
    duck = (results["duckdb_join"].get("report") or {})
    print(f"\nmachine: {json.dumps(machine_info())}; duckdb {duck.get('version')} ({duck.get('threads')} threads); "
          f"driver RSS floor {rss_floor_mib():.0f} MiB")

    ok = all(r["seconds"] is not None for r in [*results.values(), *breakdown.values()])
    out = args.work / "dunning-results.json"
    write_json(out, {
        "benchmark": "dunning",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "cobro": str(cobro),
        "cobro_version": cobro_version(private),
        "rss_floor_mib": round(rss_floor_mib(), 1),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "ledger": info,
        "at": at,
        "results": results,
        "breakdown": breakdown,
        "ratio_plan_to_duckdb_join": ratio,
        "ok": ok,
    })
    print(f"\nResults written to {out}")
    if not ok:
        print("\nFAILED: a timed command failed (see stderr).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
