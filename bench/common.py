"""Shared pieces of cobro's benchmarks (ingest, and later metrics and segments).

- ``run_child``: run one contender as a child process and measure its wall time and peak RSS (``os.wait4``).
- ``CANONICAL``: the canonical tables' columns and logical types (docs/canonical-format.md, domain/src/tables.rs),
  and their DuckDB / Polars spellings, so every contender parses the same columns to the same types.
- ``markdown_table`` and small formatting helpers.

This module imports the standard library only. The benchmark driver must stay a small process: on Linux a child's
``ru_maxrss`` starts at the parent's own peak RSS (the child is spawned with vfork/fork and exec records the
parent's high-water mark), so a parent that imported DuckDB or Polars would inflate every measurement. Anything that
needs DuckDB, Polars or pyarrow runs in a child. ``rss_floor_mib()`` reports the floor actually in effect.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------------------------------
# Canonical tables and their types
# --------------------------------------------------------------------------------------------------------------

# Logical types, as in domain/src/tables.rs (ColumnType).
TEXT, DATE, MONEY, RATE, INT, BOOL = "text", "date", "money", "rate", "int", "bool"

MONEY_PRECISION, MONEY_SCALE = 18, 4  # domain/src/money.rs
RATE_PRECISION, RATE_SCALE = 18, 10  # domain/src/tables.rs

# Table -> ordered (column, logical type). Order is the file order of docs/canonical-format.md.
CANONICAL: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("customer_id", TEXT),
        ("name", TEXT),
        ("country", TEXT),
        ("currency", TEXT),
        ("account_group", TEXT),
        ("payment_terms_days", INT),
        ("credit_limit", MONEY),
        ("collector_id", TEXT),
        ("sales_rep_id", TEXT),
        ("email", TEXT),
        ("phone", TEXT),
        ("language", TEXT),
        ("timezone", TEXT),
        ("vip", BOOL),
        ("supplier_id", TEXT),
    ),
    "documents": (
        ("document_id", TEXT),
        ("customer_id", TEXT),
        ("kind", TEXT),
        ("issue_date", DATE),
        ("due_date", DATE),
        ("currency", TEXT),
        ("amount", MONEY),
        ("reference", TEXT),
        ("disputed", BOOL),
    ),
    "payments": (
        ("payment_id", TEXT),
        ("customer_id", TEXT),
        ("received_date", DATE),
        ("currency", TEXT),
        ("amount", MONEY),
        ("method", TEXT),
        ("reference", TEXT),
    ),
    "allocations": (
        ("source_id", TEXT),
        ("document_id", TEXT),
        ("applied_date", DATE),
        ("amount", MONEY),
    ),
    "fx_rates": (
        ("date", DATE),
        ("currency", TEXT),
        ("rate_to_reporting", RATE),
    ),
}

TABLES: tuple[str, ...] = tuple(CANONICAL)

_DUCKDB_TYPES = {
    TEXT: "VARCHAR",
    DATE: "DATE",
    MONEY: f"DECIMAL({MONEY_PRECISION},{MONEY_SCALE})",
    RATE: f"DECIMAL({RATE_PRECISION},{RATE_SCALE})",
    INT: "INTEGER",
    BOOL: "BOOLEAN",
}


def duckdb_type(logical: str) -> str:
    """The DuckDB SQL type of a logical column type."""
    return _DUCKDB_TYPES[logical]


def polars_dtype(logical: str):
    """The Polars dtype of a logical column type (imports polars: call it in a child only)."""
    import polars as pl

    return {
        TEXT: pl.String,
        DATE: pl.Date,
        MONEY: pl.Decimal(MONEY_PRECISION, MONEY_SCALE),
        RATE: pl.Decimal(RATE_PRECISION, RATE_SCALE),
        INT: pl.Int32,
        BOOL: pl.Boolean,
    }[logical]


def sql_str(value: str | os.PathLike) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def duckdb_read_csv(path: str | os.PathLike, table: str) -> str:
    """``read_csv(...)`` for a canonical CSV with explicit column types (no sniffing, no type inference)."""
    cols = ", ".join(f"{sql_str(c)}: {sql_str(duckdb_type(t))}" for c, t in CANONICAL[table])
    return (
        f"read_csv({sql_str(path)}, header = true, delim = ',', quote = '\"', escape = '\"', "
        f"auto_detect = false, dateformat = '%Y-%m-%d', nullstr = '', columns = {{{cols}}})"
    )


def polars_schema(table: str) -> dict:
    """Column -> Polars dtype for a canonical table (imports polars: call it in a child only)."""
    return {c: polars_dtype(t) for c, t in CANONICAL[table]}


def check_csv_header(path: Path, table: str) -> None:
    """Raise ValueError if the CSV's header is not the canonical column list of ``table``."""
    with open(path, "r", encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n").lstrip("\ufeff")
    got = [h.strip().strip('"') for h in header.split(",")]
    want = [c for c, _ in CANONICAL[table]]
    if got != want:
        raise ValueError(
            f"{path}: header is {','.join(got)!r}, but docs/canonical-format.md says {table} has "
            f"{','.join(want)!r}"
        )


# --------------------------------------------------------------------------------------------------------------
# Running a child with time and peak RSS
# --------------------------------------------------------------------------------------------------------------


@dataclass
class ChildResult:
    """What one child process did."""

    argv: list[str]
    seconds: float  # wall time, from just before spawn to reaping
    maxrss_kib: int  # ru_maxrss of the child (KiB on Linux)
    returncode: int
    stdout: str
    stderr: str
    user_seconds: float = 0.0
    sys_seconds: float = 0.0

    @property
    def peak_rss_mib(self) -> float:
        return self.maxrss_kib / 1024.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe_failure(self, tail_lines: int = 30) -> str:
        tail = "\n".join((self.stderr.strip() or self.stdout.strip()).splitlines()[-tail_lines:])
        how = f"exit code {self.returncode}" if self.returncode >= 0 else f"signal {-self.returncode}"
        return f"command failed ({how}): {shlex.join(self.argv)}\n{tail}"


class ChildFailed(RuntimeError):
    def __init__(self, result: ChildResult, what: str = ""):
        self.result = result
        super().__init__((what + ": " if what else "") + result.describe_failure())


def run_child(
    argv: Sequence[str | os.PathLike],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    check: bool = False,
    what: str = "",
) -> ChildResult:
    """Run ``argv`` as a child process; return its wall time, peak RSS and output.

    stdout/stderr go to temporary files (no pipe deadlocks, no reader threads in the timed window). The child is
    reaped with ``os.wait4`` so its ``ru_maxrss`` is its own (plus any of its own children it waited for), not that
    of other contenders. See the module docstring for the floor the parent's own RSS puts under it.
    """
    argv = [os.fspath(a) for a in argv]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=full_env, cwd=cwd)
        except OSError as e:  # missing or non-executable binary
            raise ChildFailed(
                ChildResult(argv, 0.0, 0, 127, "", f"cannot start {argv[0]}: {e}"), what
            ) from e
        _, status, ru = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen it is reaped
        out.seek(0)
        err.seek(0)
        result = ChildResult(
            argv=argv,
            seconds=seconds,
            maxrss_kib=ru.ru_maxrss,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            user_seconds=ru.ru_utime,
            sys_seconds=ru.ru_stime,
        )
    if check and not result.ok:
        raise ChildFailed(result, what)
    return result


def python_child_argv(script: str | os.PathLike, *args: str | os.PathLike) -> list[str]:
    """argv running a Python script with this interpreter, unbuffered, without site-specific surprises."""
    return [sys.executable, "-u", os.fspath(script), *[os.fspath(a) for a in args]]


def last_json_line(text: str) -> dict:
    """The last line of ``text`` that parses as a JSON object (children report results that way)."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise ValueError(f"no JSON result line in child output:\n{text[-2000:]}")


def rss_floor_mib() -> float:
    """This (parent) process's peak RSS: every child's ru_maxrss is at least about this much."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def warm_files(paths: Iterable[Path], chunk: int = 1 << 20) -> int:
    """Read files once in small chunks so every contender starts with the same (warm) page cache."""
    total = 0
    buf = bytearray(chunk)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                total += n
    return total


def machine_info() -> dict:
    """Where the numbers were measured."""
    info = {
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    info["mem_total_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return info


# --------------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub Markdown table. ``align`` is one char per column: 'l' or 'r' (default: 'l' for the first, 'r')."""
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    headers = [str(h) for h in headers]
    align = align or ("l" + "r" * (len(headers) - 1))
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for c, w, a in zip(cells, widths, align):
            out.append(c.rjust(w) if a == "r" else c.ljust(w))
        return "| " + " | ".join(out) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, align)) + "|"
    return "\n".join([fmt(headers), sep, *(fmt(r) for r in rows)])


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s:.2f}" if s < 100 else f"{s:.0f}"


def fmt_ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}×"


def fmt_mib(m: float | None) -> str:
    return "–" if m is None else f"{m:,.0f}"


def fmt_count(n: int) -> str:
    """1000000 -> '1M', 20000 -> '20k', 1500 -> '1500'."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# --------------------------------------------------------------------------------------------------------------
# DuckDB running cobro's own SQL: the views as `cobro views NAME` renders them, with the few dialect shims needed.

# DuckDB computes the daily rate table with an ASOF join (it cannot cast a date to an integer for `range`).
DUCKDB_FX_DAILY = """
WITH bounds AS (
    SELECT currency, MIN(date) AS first_day FROM fx_rates WHERE date <= {as_of} GROUP BY currency
),
days AS (
    SELECT currency, CAST(unnest(generate_series(first_day, {as_of}, INTERVAL 1 DAY)) AS DATE) AS day FROM bounds
)
SELECT d.day AS date, d.currency, r.rate_to_reporting, r.date AS rate_date
FROM days d ASOF JOIN fx_rates r ON r.currency = d.currency AND d.day >= r.date
"""


def render_views(cobro: Path, data: Path, as_of: str, names: Sequence[str]) -> dict[str, str]:
    """Each view's SQL exactly as cobro runs it for the snapshot (`cobro views NAME`), comments stripped."""
    import re

    out = {}
    for name in names:
        r = subprocess.run([str(cobro), "views", "--data-dir", str(data), "--as-of", as_of, name],
                           check=True, capture_output=True, text=True)
        out[name] = re.sub(r"^\s*--.*$", "", r.stdout, flags=re.M)
    return out


def duckdb_shim(sql: str) -> str:
    """DataFusion → DuckDB: `to_char` is `strftime`; `/` on integers is `//`; DuckDB adds days to a date directly
    (`CAST(CAST(d AS INT) + n AS DATE)` → `(d + n)`)."""
    import re

    sql = sql.replace("to_char(", "strftime(").replace("month_idx / 12", "month_idx // 12")
    return re.sub(r"CAST\(CAST\(([^()]+?) AS INT\) ([+-]) ([^()]+?) AS DATE\)", r"(\1 \2 \3)", sql)


def duckdb_session(snap: Path, tables: Sequence[str]):
    """A DuckDB connection with the snapshot's tables as views and cobro's scalar functions as macros."""
    import duckdb

    con = duckdb.connect()
    for t in tables:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet({sql_str(snap / f'{t}.parquet')})")
    # DuckDB types DECIMAL(18,4) × DECIMAL(18,10) as DECIMAL(18,14), which overflows; DataFusion widens to 37 digits.
    con.execute(
        f"CREATE OR REPLACE VIEW fx_rates AS SELECT date, currency, CAST(rate_to_reporting AS DECIMAL(38, 10)) AS "
        f"rate_to_reporting FROM read_parquet({sql_str(snap / 'fx_rates.parquet')})"
    )
    con.execute("CREATE MACRO month_index(d) AS (year(d) * 12 + month(d) - 1)")
    con.execute(
        """CREATE MACRO round_half_even(x, p) AS (
             CASE WHEN abs(x * 100 - trunc(x * 100)) = 0.5
                  THEN (trunc(x * 100) + CASE WHEN trunc(x * 100) % 2 = 0 THEN 0 ELSE sign(x) END) / 100
                  ELSE round(x, 2) END)"""
    )
    return con


def duckdb_define_views(con, views: Mapping[str, str], as_of: str) -> None:
    """Creates cobro's views in order (fx_daily replaced by DUCKDB_FX_DAILY)."""
    for name, sql in views.items():
        text = DUCKDB_FX_DAILY.format(as_of=f"DATE '{as_of}'") if name == "fx_daily" else duckdb_shim(sql)
        con.execute(f"CREATE VIEW {name} AS {text}")


# --------------------------------------------------------------------------------------------------------------
# Races: one process per view, summed; the ratio table every benchmark prints.

def time_views(label: str, views: Sequence[str], argv_for) -> tuple[float | None, float, str]:
    """Runs `argv_for(view)` for each view as its own child: the sum of their times (None if one failed), the
    highest peak RSS, and what failed."""
    seconds, peak, failed = 0.0, 0.0, []
    for view in views:
        r = run_child(argv_for(view))
        peak = max(peak, r.peak_rss_mib)
        print(f"  {label} {view}: {r.seconds:.2f} s, {r.peak_rss_mib:.0f} MiB" + ("" if r.ok else f", FAILED ({r.returncode})"),
              file=sys.stderr, flush=True)
        if r.ok:
            seconds += r.seconds
        else:
            failed.append(f"{view} (exit {r.returncode})")
    return (None if failed else seconds), peak, ", ".join(failed)


def cobro_sql_argv(cobro: Path, data: Path, as_of: str, out: Path):
    """`argv_for` of cobro: `cobro sql --format parquet --out OUT/<view>.parquet "SELECT * FROM <view>"`."""
    return lambda view: [cobro, "sql", "--data-dir", data, "--as-of", as_of, "--format", "parquet",
                         "--out", out / f"{view}.parquet", f"SELECT * FROM {view}"]


def race_rows(n: int, timings: Mapping[str, tuple[float | None, float, str]], failures: list[str]) -> list[list[str]]:
    """Table rows for one size, each contender's time as a ratio to DuckDB's; a failed contender is also added to
    `failures`."""
    rows = []
    duck = timings["duckdb"][0]
    for name, (sec, rss, why) in timings.items():
        if why:
            failures.append(f"[{n}] {name} failed: {why}")
        ratio = sec / duck if sec is not None and duck else None
        rows.append([f"{n:,}", name, fmt_seconds(sec) if sec is not None else f"failed: {why}", fmt_ratio(ratio), fmt_mib(rss)])
    return rows


def report_race(rows: list[list[str]], seconds_header: str, failures: list[str], agreement: str) -> int:
    """Prints the table, the machine and the disagreements; the exit code (1 if any)."""
    print(markdown_table(["invoices", "contender", seconds_header, "ratio to DuckDB", "peak RSS MiB"], rows, align="llrrr"))
    print(f"\nmachine: {json.dumps(machine_info())}")
    if failures:
        print(f"\n{len(failures)} disagreement(s):")
        for f in failures[:30]:
            print("  " + f)
        return 1
    print(f"\n{agreement}")
    return 0
