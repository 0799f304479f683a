#!/usr/bin/env python3
"""Ingest benchmark: canonical CSV -> Parquet with cobro, DuckDB and Polars on the same files.

For each size it generates a synthetic ledger with ``cobro generate`` (cached), then times, each in a fresh child
process (wall time and peak RSS from ``os.wait4``):

- cobro:  ``cobro import`` (mapping data/mappings/cobro-canonical.toml) then ``cobro snapshot --as-of``;
- DuckDB: ``COPY (SELECT * FROM read_csv(..., explicit types)) TO 'table.parquet' (zstd)`` per table;
- Polars: ``scan_csv(..., schema_overrides=explicit types).sink_parquet(zstd)`` per table.

DuckDB and Polars parse every column to the same types (bench/common.py ``CANONICAL``): ids as text, dates as
DATE, money as DECIMAL(18,4), rates as DECIMAL(18,10). Then it checks that all three agree on row counts per
table and on the sum of documents.amount to the cent, prints a Markdown table, and writes DIR/ingest-results.json.

Run from the repository root:  python bench/ingest.py --sizes 1000000,10000000
See bench/README.md. Exit codes: 0 ok, 1 a contender failed or the outputs disagree, 2 bad setup.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (after the sys.path line on purpose)
    CANONICAL,
    REPO,
    TABLES,
    ChildFailed,
    ChildResult,
    check_csv_header,
    duckdb_read_csv,
    fmt_count,
    fmt_mib,
    fmt_ratio,
    fmt_seconds,
    last_json_line,
    machine_info,
    markdown_table,
    median,
    polars_schema,
    python_child_argv,
    rss_floor_mib,
    run_child,
    sql_str,
    warm_files,
    write_json,
)

THIS = Path(__file__).resolve()
DEFAULT_COBRO = REPO / "target" / "release" / "cobro"
DEFAULT_MAPPING = REPO / "data" / "mappings" / "cobro-canonical.toml"
DEFAULT_AS_OF = "2025-12-31"
CONTENDERS = ("cobro", "duckdb", "polars")
TRUTH_FILE = "customers_truth.csv"
IMPORT_GOAL = 1.5  # cobro ≤ 1.5× DuckDB


class SetupError(Exception):
    """Bad arguments or environment: exit 2 with the message."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ==============================================================================================================
# Child side: these run in a fresh `python bench/ingest.py child ...` process, so the timed engine's memory is its
# own. Only the child imports duckdb / polars / pyarrow.
# ==============================================================================================================


def child_duckdb(in_dir: Path, out_dir: Path) -> dict:
    import duckdb

    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()  # in-memory; threads = all cores (DuckDB's default)
    rows = {}
    t0 = time.perf_counter()
    for table in TABLES:
        src, dst = in_dir / f"{table}.csv", out_dir / f"{table}.parquet"
        (n,) = con.execute(
            f"COPY (SELECT * FROM {duckdb_read_csv(src, table)}) TO {sql_str(dst)} (FORMAT parquet, COMPRESSION zstd)"
        ).fetchone()
        rows[table] = int(n)
    seconds = time.perf_counter() - t0
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    return {"engine": "duckdb", "version": duckdb.__version__, "threads": int(threads), "inner_seconds": seconds, "rows": rows}


def child_polars(in_dir: Path, out_dir: Path) -> dict:
    import polars as pl

    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for table in TABLES:
        src, dst = in_dir / f"{table}.csv", out_dir / f"{table}.parquet"
        # Every column is overridden and nothing is inferred, matching DuckDB's explicit `columns`.
        pl.scan_csv(src, schema_overrides=polars_schema(table), infer_schema=False).sink_parquet(
            dst, compression="zstd"
        )
    seconds = time.perf_counter() - t0
    return {"engine": "polars", "version": pl.__version__, "threads": pl.thread_pool_size(), "inner_seconds": seconds}


def child_inspect(in_dir: Path) -> dict:
    """Row counts and the latest date of each table's CSV (run once per generated data set; not timed)."""
    import duckdb

    con = duckdb.connect()
    out = {}
    for table in TABLES:
        # The date a row happens on; due_date is left out on purpose (it runs past the last day of the data).
        dates = [c for c, t in CANONICAL[table] if t == "date" and c != "due_date"]
        sel = ", ".join(["count(*)"] + [f"max({d})" for d in dates])
        row = con.execute(f"SELECT {sel} FROM {duckdb_read_csv(in_dir / f'{table}.csv', table)}").fetchone()
        maxes = [str(v) for v in row[1:] if v is not None]
        out[table] = {"rows": int(row[0]), "max_date": max(maxes) if maxes else None}
    return out


def child_verify(spec_path: Path) -> dict:
    """For each contender: rows per table, Arrow schema, and sum(documents.amount) as an exact decimal string."""
    import duckdb
    import pyarrow.parquet as pq

    spec = json.loads(spec_path.read_text())
    con = duckdb.connect()
    out: dict = {}
    for contender, tables in spec.items():
        res: dict = {"tables": {}}
        for table, files in tables.items():
            rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
            schema = pq.read_schema(files[0])
            res["tables"][table] = {
                "rows": rows,
                "files": len(files),
                "schema": {f.name: str(f.type) for f in schema},
            }
            if table == "documents":
                if "amount" not in schema.names:
                    res["amount_error"] = f"documents has no column 'amount' (columns: {', '.join(schema.names)})"
                else:
                    lst = "[" + ", ".join(sql_str(f) for f in files) + "]"
                    (total,) = con.execute(f"SELECT sum(amount) FROM read_parquet({lst})").fetchone()
                    res["documents_amount_sum"] = None if total is None else str(total)
                    res["documents_amount_type"] = str(schema.field("amount").type)
        out[contender] = res
    return out


def child_main(argv: list[str]) -> int:
    what, *rest = argv
    if what == "duckdb":
        result = child_duckdb(Path(rest[0]), Path(rest[1]))
    elif what == "polars":
        result = child_polars(Path(rest[0]), Path(rest[1]))
    elif what == "inspect":
        result = child_inspect(Path(rest[0]))
    elif what == "verify":
        result = child_verify(Path(rest[0]))
    else:
        print(f"unknown child command {what!r}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0


# ==============================================================================================================
# Parent side: stdlib only (see bench/common.py on why the parent must stay small).
# ==============================================================================================================


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time canonical CSV -> Parquet with cobro, DuckDB and Polars on the same generated ledger.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--cobro", type=Path, default=DEFAULT_COBRO, help="the cobro binary")
    p.add_argument("--sizes", default="1000000,10000000", help="comma-separated invoice counts")
    p.add_argument("--customers-per-invoice", type=float, default=0.01, help="customers = invoices × this")
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--work", type=Path, default=REPO / "bench" / "out", help="work directory (data and outputs)")
    p.add_argument("--repeat", type=int, default=1, help="timed runs per contender; the table shows the median")
    p.add_argument("--as-of", default=DEFAULT_AS_OF, help="snapshot date for cobro (the last day of the data)")
    p.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="cobro mapping for the canonical CSVs")
    p.add_argument(
        "--contenders", default=",".join(CONTENDERS), help="which contenders to run (cobro,duckdb,polars)"
    )
    p.add_argument(
        "--input",
        type=Path,
        help="use this directory of canonical CSVs instead of `cobro generate` (one data set; --sizes ignored)",
    )
    p.add_argument("--keep-outputs", action="store_true", help="keep the Parquet outputs after the checks")
    args = p.parse_args(argv)

    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not args.sizes or any(n <= 0 for n in args.sizes):
        p.error("--sizes needs at least one positive integer")
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown or not args.contenders:
        p.error(f"--contenders takes a subset of {','.join(CONTENDERS)}; got {','.join(sorted(unknown)) or 'none'}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if args.customers_per_invoice <= 0:
        p.error("--customers-per-invoice must be positive")
    try:
        dt.date.fromisoformat(args.as_of)
    except ValueError:
        p.error(f"--as-of must be YYYY-MM-DD, got {args.as_of!r}")
    args.work = args.work.resolve()
    return args


def check_cobro_binary(path: Path) -> Path:
    """The cobro binary, or a SetupError that says how to get one."""
    path = path.expanduser()
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else (REPO / path)
    if not path.exists():
        others = [p for p in (REPO / "target" / "release" / "cobro", REPO / "target" / "debug" / "cobro") if p.exists()]
        hint = f" (found {', '.join(map(str, others))}: pass it with --cobro)" if others else ""
        raise SetupError(
            f"cobro binary not found at {path}{hint}.\n"
            f"Build it with `cargo build --release` (from {REPO}), or pass --cobro PATH. "
            f"To time only the peers on existing CSVs: --contenders duckdb,polars --input DIR."
        )
    if not os.access(path, os.X_OK) or path.is_dir():
        raise SetupError(f"{path} is not an executable file; pass the cobro binary with --cobro PATH")
    return path.resolve()


def cobro_version(cobro: Path) -> str | None:
    try:
        r = run_child([cobro, "--version"])
    except ChildFailed:
        return None
    if not r.ok or not r.stdout.strip():
        return None
    text = r.stdout.strip().splitlines()[0]
    return text[len("cobro "):] if text.startswith("cobro ") else text


def subcommand_missing(r: ChildResult) -> bool:
    text = (r.stderr + r.stdout).lower()
    return "unrecognized subcommand" in text or "unexpected argument" in text or "unknown subcommand" in text


def generate(args, cobro: Path | None, n: int) -> tuple[Path, dict | None]:
    """DIR/gen-N with canonical CSVs, generated once (DIR/gen-N/.done marks a finished generation)."""
    gen = args.work / f"gen-{n}"
    done = gen / ".done"
    if done.exists():
        log(f"[{fmt_count(n)}] using cached data in {gen}")
        return gen, None
    if cobro is None:
        raise SetupError(f"{gen} has no finished data set (.done) and generating it needs cobro; pass --cobro")
    if gen.exists():
        shutil.rmtree(gen)  # a half-written earlier attempt
    customers = max(1, round(n * args.customers_per_invoice))
    argv = [cobro, "generate", "--customers", str(customers), "--invoices", str(n), "--seed", str(args.seed), "--out", gen]
    log(f"[{fmt_count(n)}] generating: {' '.join(map(str, argv))}")
    r = run_child(argv)
    if not r.ok:
        hint = " (this cobro build has no `generate` subcommand yet)" if subcommand_missing(r) else ""
        raise SetupError(f"`cobro generate` failed{hint}:\n{r.describe_failure()}")
    info = {
        "command": [str(a) for a in argv],
        "seconds": round(r.seconds, 3),
        "peak_rss_mib": round(r.peak_rss_mib, 1),
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    done.write_text(json.dumps(info, indent=2) + "\n")
    log(f"[{fmt_count(n)}] generated in {r.seconds:.1f} s, peak RSS {r.peak_rss_mib:.0f} MiB")
    return gen, info


def canonical_files(data: Path) -> dict[str, Path]:
    """The five canonical CSVs of a data set, with their headers checked."""
    files = {}
    for table in TABLES:
        f = data / f"{table}.csv"
        if not f.is_file():
            raise SetupError(f"{data} has no {table}.csv; expected the canonical files of docs/canonical-format.md")
        try:
            check_csv_header(f, table)
        except ValueError as e:
            raise SetupError(str(e)) from None
        files[table] = f
    return files


def cobro_inputs(data: Path) -> list[Path]:
    """Every CSV of the data set except the generator's ground truth (customers_truth.csv)."""
    order = {t: i for i, t in enumerate(TABLES)}  # canonical load order first, then anything else by name
    files = sorted((p for p in data.glob("*.csv") if p.name != TRUTH_FILE), key=lambda p: (order.get(p.stem, 99), p.name))
    extra = [p.name for p in files if p.stem not in TABLES]
    if extra:
        log(f"note: cobro also imports {', '.join(extra)}, which DuckDB and Polars do not read")
    return files


def inspect(data: Path, cache: Path) -> dict:
    """Row counts and latest dates of the CSVs, cached in ``cache`` (keyed on file sizes and mtimes)."""
    key = {t: [(data / f"{t}.csv").stat().st_size, (data / f"{t}.csv").stat().st_mtime_ns] for t in TABLES}
    if cache.exists():
        try:
            cached = json.loads(cache.read_text())
            if cached.get("key") == key:
                return cached["tables"]
        except (json.JSONDecodeError, KeyError):
            pass
    r = run_child(python_child_argv(THIS, "child", "inspect", data), check=True, what="inspecting the CSVs")
    tables = last_json_line(r.stdout)
    try:
        cache.write_text(json.dumps({"key": key, "tables": tables}, indent=2) + "\n")
    except OSError:
        pass  # only a cache
    return tables


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    return path


def run_cobro(cobro: Path, mapping: Path, data: Path, out: Path, as_of: str) -> dict:
    fresh_dir(out)
    env = {"NO_COLOR": "1"}
    imp = run_child([cobro, "import", "--mapping", mapping, "--data-dir", out, *cobro_inputs(data)], env=env)
    if not imp.ok:
        return {"error": "cobro import: " + imp.describe_failure(), "import": imp}
    snap = run_child([cobro, "snapshot", "--as-of", as_of, "--data-dir", out], env=env)
    if not snap.ok:
        return {"error": "cobro snapshot: " + snap.describe_failure(), "import": imp, "snapshot": snap}
    return {"import": imp, "snapshot": snap}


def run_peer(engine: str, data: Path, out: Path) -> dict:
    fresh_dir(out)
    r = run_child(python_child_argv(THIS, "child", engine, data, out))
    if not r.ok:
        return {"error": f"{engine}: " + r.describe_failure(), engine: r}
    return {engine: r, "report": last_json_line(r.stdout)}


def latest_snapshot_dir(data_dir: Path, as_of: str) -> Path:
    """DATA_DIR/snapshots/as_of=D/v=N with the highest N (or as_of=D itself if it has no versions)."""
    base = data_dir / "snapshots" / f"as_of={as_of}"
    if not base.is_dir():
        found = sorted(p.name for p in (data_dir / "snapshots").glob("*")) if (data_dir / "snapshots").is_dir() else []
        raise FileNotFoundError(
            f"cobro wrote no snapshot at {base}" + (f" (snapshots found: {', '.join(found)})" if found else "")
        )
    versions = []
    for p in base.glob("v=*"):
        try:
            versions.append((int(p.name[2:]), p))
        except ValueError:
            continue
    return max(versions)[1] if versions else base


def snapshot_table_files(snap: Path, table: str) -> list[Path]:
    """Parquet part(s) of a table in a snapshot: <table>.parquet (a file, or a directory of parts), <table>/ with
    parts, or <table>-*.parquet / <table>.*.parquet parts beside each other."""
    for d in (snap / f"{table}.parquet", snap / table):
        if d.is_file():
            return [d]
        if d.is_dir() and (parts := sorted(d.rglob("*.parquet"))):
            return parts
    parts = sorted(set(snap.glob(f"{table}-*.parquet")) | set(snap.glob(f"{table}.*.parquet")))
    if parts:
        return parts
    listing = ", ".join(sorted(p.name for p in snap.iterdir()))
    raise FileNotFoundError(f"no Parquet for table {table} in {snap} (it holds: {listing})")


def count_rejects(work: Path, data_dir: Path) -> int | None:
    """Rows cobro rejected: rejects*.parquet anywhere under its data dir (DESIGN §3), counted by a child."""
    files = sorted(data_dir.rglob("rejects*.parquet"))
    if not files:
        return None
    spec_path = work / ".rejects-spec.json"
    spec_path.write_text(json.dumps({"rejects": {"rejects": [str(f) for f in files]}}))
    r = run_child(python_child_argv(THIS, "child", "verify", spec_path))
    if not r.ok:
        return None
    return last_json_line(r.stdout)["rejects"]["tables"]["rejects"]["rows"]


def _norm_type(t: str) -> str:
    return {"large_string": "string", "string_view": "string", "large_utf8": "string", "utf8": "string"}.get(t, t)


def verify(args, tag: str, outputs: dict[str, Path], csv_info: dict) -> tuple[bool, list[str], dict]:
    """Compare row counts per table and sum(documents.amount) to the cent across contenders' outputs."""
    spec: dict = {}
    problems: list[str] = []
    for contender, out in outputs.items():
        try:
            if contender == "cobro":
                snap = latest_snapshot_dir(out, args.as_of)
                spec[contender] = {t: [str(f) for f in snapshot_table_files(snap, t)] for t in TABLES}
            else:
                spec[contender] = {t: [str(out / f"{t}.parquet")] for t in TABLES}
        except FileNotFoundError as e:
            problems.append(f"{contender}: {e}")
    if not spec:
        return False, problems, {}
    spec_path = args.work / f".verify-{tag}.json"
    spec_path.write_text(json.dumps(spec, indent=2))
    r = run_child(python_child_argv(THIS, "child", "verify", spec_path))
    if not r.ok:
        return False, problems + ["reading the outputs failed: " + r.describe_failure()], {}
    got = last_json_line(r.stdout)

    names = list(got)
    for table in TABLES:
        counts = {c: got[c]["tables"][table]["rows"] for c in names}
        if len(set(counts.values())) > 1:
            detail = ", ".join(f"{c}={v:,}" for c, v in counts.items())
            problems.append(f"row count of {table} differs: {detail} (CSV has {csv_info[table]['rows']:,} data rows)")

    cents = {}
    for c in names:
        if "amount_error" in got[c]:
            problems.append(f"{c}: {got[c]['amount_error']}")
        elif got[c].get("documents_amount_sum") is None:
            problems.append(f"{c}: sum(documents.amount) is null")
        else:
            cents[c] = Decimal(got[c]["documents_amount_sum"]).quantize(Decimal("0.01"))
    if len(set(cents.values())) > 1:
        detail = ", ".join(f"{c}={v}" for c, v in cents.items())
        types = ", ".join(f"{c}: {got[c].get('documents_amount_type')}" for c in cents)
        problems.append(f"sum(documents.amount) differs: {detail} (column types {types})")

    if problems and "cobro" in outputs and outputs["cobro"].exists():
        rejects = count_rejects(args.work, outputs["cobro"])
        if rejects:
            problems.append(f"cobro rejected {rejects:,} rows (see rejects*.parquet under {outputs['cobro']})")
        late = {t: i["max_date"] for t, i in csv_info.items() if i["max_date"] and i["max_date"] > args.as_of}
        if late:
            problems.append(
                f"the data has dates after --as-of {args.as_of} ({', '.join(f'{t} up to {d}' for t, d in late.items())}); "
                "a snapshot may leave those rows out"
            )

    # Types: the peers must match each other exactly (same explicit schema); cobro's are reported, not enforced.
    notes = []
    if "duckdb" in got and "polars" in got:
        for table in TABLES:
            a = {k: _norm_type(v) for k, v in got["duckdb"]["tables"][table]["schema"].items()}
            b = {k: _norm_type(v) for k, v in got["polars"]["tables"][table]["schema"].items()}
            if a != b:
                diff = [f"{k}: duckdb {a.get(k)} / polars {b.get(k)}" for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
                problems.append(f"DuckDB and Polars wrote {table} with different types: {'; '.join(diff)}")
    if "cobro" in got:
        ref = "duckdb" if "duckdb" in got else ("polars" if "polars" in got else None)
        if ref:
            for table in TABLES:
                a = {k: _norm_type(v) for k, v in got["cobro"]["tables"][table]["schema"].items()}
                b = {k: _norm_type(v) for k, v in got[ref]["tables"][table]["schema"].items()}
                diff = [f"{k}: cobro {a.get(k, '(absent)')} / {ref} {b[k]}" for k in b if a.get(k) != b[k]]
                if diff:
                    notes.append(f"cobro's {table} types differ from {ref}'s: {'; '.join(diff)}")
    summary = {
        c: {
            "rows": {t: got[c]["tables"][t]["rows"] for t in TABLES},
            "documents_amount_sum": got[c].get("documents_amount_sum"),
            "schema": {t: got[c]["tables"][t]["schema"] for t in TABLES},
        }
        for c in names
    }
    summary["notes"] = notes
    return not problems, problems, summary


def python_import_baselines() -> dict:
    """Peak RSS of a Python child that only imports each library: the floor under the peers' RSS."""
    out = {}
    for lib in ("duckdb", "polars"):
        r = run_child([sys.executable, "-c", f"import {lib}"])
        out[f"python_import_{lib}_mib"] = round(r.peak_rss_mib, 1) if r.ok else None
    return out


def aggregate(runs: list[dict], key: str) -> tuple[float, float]:
    """(median seconds, max peak RSS MiB) of one measured step over the repeats."""
    return median([r[key]["seconds"] for r in runs]), max(r[key]["rss"] for r in runs)


def measured(r: ChildResult) -> dict:
    return {
        "seconds": r.seconds,
        "rss": r.peak_rss_mib,
        "user_seconds": round(r.user_seconds, 3),
        "sys_seconds": round(r.sys_seconds, 3),
    }


def bench_size(args, cobro: Path | None, mapping: Path | None, n: int | None, label: str, tag: str) -> dict:
    """Time every contender on one data set; ``label`` is for people (1M), ``tag`` names directories (1000000)."""
    if args.input is not None:
        data, gen_info = args.input.resolve(), None
    else:
        data, gen_info = generate(args, cobro, n)
    canonical_files(data)
    csv_info = inspect(data, (args.work / f".inspect-{tag}.json") if args.input is not None else data / ".inspect.json")
    late = {t: i["max_date"] for t, i in csv_info.items() if i["max_date"] and i["max_date"] > args.as_of}
    if late and "cobro" in args.contenders:
        log(f"warning: [{label}] dates after --as-of {args.as_of}: " + ", ".join(f"{t} {d}" for t, d in late.items()))
    warm_files([data / f"{t}.csv" for t in TABLES] + ([p for p in cobro_inputs(data)] if "cobro" in args.contenders else []))

    outputs = {
        "cobro": args.work / f"cobro-{tag}",
        "duckdb": args.work / f"duckdb-{tag}",
        "polars": args.work / f"polars-{tag}",
    }
    runs: dict[str, list[dict]] = {c: [] for c in args.contenders}
    errors: dict[str, str] = {}
    reports: dict[str, dict] = {}
    for rep in range(args.repeat):
        for c in args.contenders:
            if c in errors:
                continue
            log(f"[{label}] {c} run {rep + 1}/{args.repeat} ...")
            if c == "cobro":
                res = run_cobro(cobro, mapping, data, outputs[c], args.as_of)
                if "error" in res:
                    errors[c] = res["error"]
                    log(f"[{label}] {res['error']}")
                    continue
                imp, snap = measured(res["import"]), measured(res["snapshot"])
                total = {"seconds": imp["seconds"] + snap["seconds"], "rss": max(imp["rss"], snap["rss"])}
                runs[c].append({"import": imp, "snapshot": snap, "total": total})
                log(f"[{label}] cobro import {imp['seconds']:.2f} s, snapshot {snap['seconds']:.2f} s, "
                    f"peak RSS {total['rss']:.0f} MiB")
            else:
                res = run_peer(c, data, outputs[c])
                if "error" in res:
                    errors[c] = res["error"]
                    log(f"[{label}] {res['error']}")
                    continue
                m = measured(res[c])
                m["inner_seconds"] = res["report"].get("inner_seconds")
                runs[c].append({"total": m})
                reports[c] = res["report"]
                log(f"[{label}] {c} {m['seconds']:.2f} s, peak RSS {m['rss']:.0f} MiB")

    ok_outputs = {c: p for c, p in outputs.items() if c in args.contenders and c not in errors}
    checks_ok, problems, check_summary = (True, [], {})
    if len(ok_outputs) >= 2:
        checks_ok, problems, check_summary = verify(args, tag, ok_outputs, csv_info)
    elif len(ok_outputs) == 1:
        problems = []  # nothing to compare against; the run still reports timings
        check_summary = {"notes": ["only one contender produced output; nothing to compare"]}
    if not args.keep_outputs and checks_ok:
        for c, p in ok_outputs.items():
            shutil.rmtree(p, ignore_errors=True)

    rows = []
    duck = aggregate(runs["duckdb"], "total")[0] if runs.get("duckdb") else None

    def row(contender: str, key_runs: list[dict], key: str) -> dict:
        secs, rss = aggregate(key_runs, key)
        return {
            "size": n,
            "label": label,
            "contender": contender,
            "seconds": round(secs, 3),
            "ratio_to_duckdb": round(secs / duck, 3) if duck else None,
            "peak_rss_mib": round(rss, 1),
            "runs": [r[key] for r in key_runs],
        }

    if runs.get("cobro"):
        rows.append(row("cobro import", runs["cobro"], "import"))
        rows.append(row("cobro snapshot", runs["cobro"], "snapshot"))
        rows.append(row("cobro import+snapshot", runs["cobro"], "total"))
    for c in ("duckdb", "polars"):
        if runs.get(c):
            rows.append(row(c, runs[c], "total"))
    for c, e in errors.items():
        rows.append({"size": n, "label": label, "contender": c, "error": e})

    return {
        "size": n,
        "label": label,
        "data_dir": str(data),
        "generate": gen_info,
        "csv": csv_info,
        "rows": rows,
        "engines": {c: {k: v for k, v in r.items() if k in ("version", "threads")} for c, r in reports.items()},
        "checks": {"ok": checks_ok and not errors, "problems": problems, **check_summary},
        "errors": errors,
    }


def print_report(args, sizes: list[dict], meta: dict) -> dict:
    table_rows = []
    for s in sizes:
        for r in s["rows"]:
            if "error" in r:
                table_rows.append([s["label"], r["contender"], "failed", "–", "–"])
            else:
                table_rows.append(
                    [s["label"], r["contender"], fmt_seconds(r["seconds"]), fmt_ratio(r["ratio_to_duckdb"]), fmt_mib(r["peak_rss_mib"])]
                )
    print()
    print("## Ingest: canonical CSV → Parquet")
    print()
    print(markdown_table(["size", "contender", "seconds", "ratio to DuckDB", "peak RSS MiB"], table_rows, "llrrr"))
    print()

    goals: dict = {"import_goal_ratio": IMPORT_GOAL, "per_size": []}
    for s in sizes:
        by = {r["contender"]: r for r in s["rows"] if "error" not in r}
        if "cobro import+snapshot" in by and "duckdb" in by:
            tot, imp = by["cobro import+snapshot"]["ratio_to_duckdb"], by["cobro import"]["ratio_to_duckdb"]
            goals["per_size"].append({"label": s["label"], "total_ratio": tot, "import_ratio": imp, "met": tot <= IMPORT_GOAL})
            print(
                f"- {s['label']}: cobro import+snapshot is {tot:.3f}× DuckDB (import alone {imp:.3f}×); "
                f"goal ≤ {IMPORT_GOAL}×: {'met' if tot <= IMPORT_GOAL else 'NOT met'}"
            )
    cobro_rss = [(s["label"], r["peak_rss_mib"]) for s in sizes for r in s["rows"] if r.get("contender") == "cobro import+snapshot"]
    if cobro_rss:
        print("- cobro peak RSS: " + ", ".join(f"{lbl} {fmt_mib(m)} MiB" for lbl, m in cobro_rss), end="")
        if len(cobro_rss) >= 2:
            growth = cobro_rss[-1][1] / cobro_rss[0][1] if cobro_rss[0][1] else None
            goals["cobro_rss_growth"] = round(growth, 3) if growth else None
            print(f" ({cobro_rss[-1][0]} / {cobro_rss[0][0]} = {fmt_ratio(growth)}; the goal is flat memory)")
        else:
            print()
    goals["cobro_peak_rss_mib"] = dict(cobro_rss)
    b = meta.get("baselines", {})
    print(
        f"- RSS floor: the driver's own peak is {meta['rss_floor_mib']:.0f} MiB (a child's ru_maxrss starts there); "
        f"`python -c 'import duckdb'` alone peaks at {fmt_mib(b.get('python_import_duckdb_mib'))} MiB, "
        f"`import polars` at {fmt_mib(b.get('python_import_polars_mib'))} MiB."
    )
    print(f"- Machine: {meta['machine'].get('cpus')} CPUs ({meta['machine'].get('cpu_model', '?')}), "
          f"{meta['machine'].get('mem_total_gib', '?')} GiB; versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    print(f"- Seconds are wall time of the child process(es), median of {args.repeat} run(s); peak RSS is the max.")
    for s in sizes:
        for note in s["checks"].get("notes", []):
            print(f"- note [{s['label']}]: {note}")
    return goals


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        return child_main(argv[1:])

    args = parse_args(argv)
    try:
        need_cobro = "cobro" in args.contenders or args.input is None
        cobro = mapping = None
        if need_cobro:
            try:
                cobro = check_cobro_binary(args.cobro)
            except SetupError:
                # Cached data sets can still be timed with the peers when cobro is not built yet.
                cached = args.input is None and all((args.work / f"gen-{n}" / ".done").exists() for n in args.sizes)
                if "cobro" in args.contenders or not cached:
                    raise
        if "cobro" in args.contenders:
            mapping = args.mapping if args.mapping.is_absolute() else (Path.cwd() / args.mapping)
            if not mapping.exists() and not args.mapping.is_absolute():
                mapping = REPO / args.mapping
            if not mapping.is_file():
                raise SetupError(f"cobro mapping not found at {mapping}; pass --mapping FILE")
            mapping = mapping.resolve()
        if args.input is not None and not args.input.is_dir():
            raise SetupError(f"--input {args.input} is not a directory")
        args.work.mkdir(parents=True, exist_ok=True)

        versions = {}
        if cobro is not None:
            versions["cobro"] = cobro_version(cobro) or "unknown"
        started = dt.datetime.now(dt.timezone.utc)
        sizes = []
        if args.input is not None:
            sizes.append(bench_size(args, cobro, mapping, None, args.input.resolve().name, args.input.resolve().name))
        else:
            for n in args.sizes:
                sizes.append(bench_size(args, cobro, mapping, n, fmt_count(n), str(n)))
    except SetupError as e:
        log(f"error: {e}")
        return 2
    except ChildFailed as e:
        log(f"error: {e}")
        return 2

    for s in sizes:
        for c, info in s["engines"].items():
            versions[c] = info.get("version")
    meta = {
        "benchmark": "ingest",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions,
        "baselines": python_import_baselines(),
        "rss_floor_mib": round(rss_floor_mib(), 1),
        "args": {
            "cobro": str(cobro) if cobro else None,
            "sizes": args.sizes if args.input is None else None,
            "input": str(args.input) if args.input else None,
            "customers_per_invoice": args.customers_per_invoice,
            "seed": args.seed,
            "repeat": args.repeat,
            "as_of": args.as_of,
            "mapping": str(mapping) if mapping else None,
            "contenders": args.contenders,
        },
    }
    goals = print_report(args, sizes, meta)

    ok = all(s["checks"]["ok"] for s in sizes)
    for s in sizes:
        for p in s["checks"]["problems"]:
            print(f"MISMATCH [{s['label']}]: {p}")
        for c, e in s["errors"].items():
            print(f"FAILED [{s['label']}] {c}: " + e.replace("\n", "\n    "))
    results = {
        **meta,
        "ok": ok,
        "goals": goals,
        "results": [r for s in sizes for r in s["rows"]],
        "sizes": [{k: v for k, v in s.items() if k != "rows"} for s in sizes],
    }
    out = args.work / "ingest-results.json"
    write_json(out, results)
    print(f"\nResults written to {out}")
    if not ok:
        print("\nFAILED: see the lines above.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
