"""Small helpers shared by the cobro notebooks: find the snapshot, read its tables, ask the cobro binary for its
own figures, handle money exactly, and compare two tables with assertions that say what differs.

Money is never a float here. Amounts in a snapshot are Decimal(18, 4) and rates Decimal(18, 10); the helpers turn
them into exact integers (`units`: amount × 10^4, rate × 10^10, both Int128), convert with integer arithmetic and
round half-even to cents (`rc_cents`), the convention of docs/metrics.md ("rounding", decision 0002).
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path

import polars as pl

NOTEBOOKS = Path(__file__).resolve().parent
REPO = NOTEBOOKS.parent

AMOUNT_SCALE = 4  # Decimal(18, 4) on disk
RATE_SCALE = 10  # Decimal(18, 10) on disk


# --------------------------------------------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------------------------------------------

def find_cobro() -> Path:
    """The cobro binary: $COBRO_BIN, else `cobro` on the PATH, else the repository's target/debug/cobro."""
    env = os.environ.get("COBRO_BIN")
    if env:
        p = Path(env).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"COBRO_BIN={env} does not exist")
        return p.resolve()
    on_path = shutil.which("cobro")
    if on_path:
        return Path(on_path)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    p = target / "debug" / "cobro"
    if p.exists():
        return p
    raise FileNotFoundError("no cobro binary: set COBRO_BIN, put `cobro` on the PATH or run `cargo build`")


def config_file(kind: str) -> Path:
    """The rules cobro applies: `segments` ($COBRO_SEGMENTS) or `workflow` ($COBRO_WORKFLOW); without the variable,
    the repository's data/strategies/<kind>.toml, which is what the binary has built in."""
    env = os.environ.get(f"COBRO_{kind.upper()}")
    p = Path(env).expanduser() if env else REPO / "data" / "strategies" / f"{kind}.toml"
    if not p.exists():
        raise FileNotFoundError(f"{p} not found: set COBRO_{kind.upper()} to the {kind} file cobro uses")
    return p


def load_toml(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


@dataclass
class Snapshot:
    """One snapshot version directory (…/snapshots/as_of=YYYY-MM-DD/v=N), from $COBRO_SNAPSHOT by default."""

    path: Path = field(default=None)

    def __post_init__(self):
        raw = self.path or os.environ.get("COBRO_SNAPSHOT")
        if not raw:
            raise RuntimeError(
                "Set COBRO_SNAPSHOT to one snapshot version directory, e.g. "
                "export COBRO_SNAPSHOT=cobro-data/snapshots/as_of=2025-12-31/v=1 (see notebooks/README.md)")
        self.path = Path(raw).expanduser().resolve()
        manifest_file = self.path / "manifest.json"
        if not manifest_file.exists():
            raise FileNotFoundError(
                f"{manifest_file} is missing: COBRO_SNAPSHOT must be a complete snapshot version directory "
                "(…/snapshots/as_of=YYYY-MM-DD/v=N), not the data directory")
        self.manifest = json.loads(manifest_file.read_text())
        self.as_of = date.fromisoformat(self.manifest["as_of"])
        self.version = int(self.manifest["version"])
        self.reporting_currency = self.manifest["reporting_currency"]
        self.cobro_bin = find_cobro()
        self._data_dir: Path | None = None

    def __repr__(self) -> str:
        return (f"Snapshot(as_of={self.as_of}, v={self.version}, reporting_currency={self.reporting_currency}, "
                f"path={self.path})")

    # ---- the raw tables -------------------------------------------------------------------------------------
    def table(self, name: str) -> pl.DataFrame:
        """A table of the snapshot, as stored. Refuses Decimal columns finer than the helpers assume (amounts
        0.0001, rates 10^-10), so that `units` can never truncate a digit."""
        df = pl.read_parquet(self.path / f"{name}.parquet")
        for c, dt in df.schema.items():
            if isinstance(dt, pl.Decimal) and dt.scale > (RATE_SCALE if c == "rate_to_reporting" else AMOUNT_SCALE):
                raise TypeError(f"{name}.{c} is {dt}: finer than the helpers' exact units; update cobro_nb.py")
        return df

    # ---- cobro's own figures --------------------------------------------------------------------------------
    def data_dir(self) -> Path:
        """A private data directory whose only snapshot is this one (a symlink), so that cobro reads exactly these
        files even when a later version of the same date exists. Removed when Python exits."""
        if self._data_dir is None:
            tmp = Path(tempfile.mkdtemp(prefix="cobro-nb-"))
            atexit.register(shutil.rmtree, tmp, True)
            link = tmp / "snapshots" / f"as_of={self.as_of.isoformat()}" / f"v={self.version}"
            link.parent.mkdir(parents=True)
            link.symlink_to(self.path, target_is_directory=True)
            self._data_dir = tmp
        return self._data_dir

    def cobro(self, *args: str) -> str:
        cmd = [str(self.cobro_bin), *args, "--data-dir", str(self.data_dir())]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"cobro failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
        return proc.stdout

    def sql(self, query: str) -> pl.DataFrame:
        """Run a query with cobro (DataFusion, its views) and get the result with its exact types (Parquet)."""
        out = self.data_dir() / "result.parquet"
        self.cobro("sql", "--as-of", self.as_of.isoformat(), "--format", "parquet", "--out", str(out), query)
        df = pl.read_parquet(out)
        out.unlink()
        return df

    def view_sql(self, name: str) -> str:
        """A view's SQL as cobro renders it for this snapshot (`cobro views NAME`)."""
        return self.cobro("views", name, "--as-of", self.as_of.isoformat())

    def metrics(self) -> dict[str, dict]:
        rows = json.loads(self.cobro("metrics", "--as-of", self.as_of.isoformat(), "--format", "json"))
        return {r["metric"]: r for r in rows}


# --------------------------------------------------------------------------------------------------------------
# Money, exactly
# --------------------------------------------------------------------------------------------------------------

def units(col: str | pl.Expr, scale: int = AMOUNT_SCALE) -> pl.Expr:
    """A Decimal column as an exact Int128 count of 10^-scale (amount → units of 0.0001, rate → 10^-10)."""
    e = pl.col(col) if isinstance(col, str) else col
    return (e.cast(pl.Decimal(38, scale)) * (10 ** scale)).cast(pl.Int128)


def div_half_even(x: pl.Expr, d: int) -> pl.Expr:
    """x / d for Int128 x and a positive int d, rounded half to even (exact, no float)."""
    q = x // d  # floor
    r = x - q * d  # 0 <= r < d
    up = (2 * r > d) | ((2 * r == d) & (q % 2 != 0))
    return pl.when(x.is_null()).then(None).when(up).then(q + 1).otherwise(q)


def rc_cents(amount_u4: pl.Expr, rate_u10: pl.Expr) -> pl.Expr:
    """amount × rate, rounded once, half-even, to cents: NULL when the rate is NULL (no rate known)."""
    return div_half_even(amount_u4 * rate_u10, 10 ** (AMOUNT_SCALE + RATE_SCALE - 2))


def with_rate(df: pl.DataFrame, fx_rates: pl.DataFrame, as_of: date, reporting_currency: str, on: str,
              currency: str = "currency", out: str = "rate_u10") -> pl.DataFrame:
    """Add the rate of day `on` (the rate dated that day, else the latest earlier one, never a later one and never
    one dated after the as-of date) as Int128 units of 10^-10; 1 for the reporting currency, NULL when unknown."""
    rates = (fx_rates.filter(pl.col("date") <= as_of)
             .select(pl.col("currency").alias(currency), pl.col("date").alias("__rate_date"),
                     units("rate_to_reporting", RATE_SCALE).alias("__rate"))
             .sort("__rate_date"))
    joined = (df.with_row_index("__row").sort(on)
              .join_asof(rates, left_on=on, right_on="__rate_date", by=currency, strategy="backward",
                         check_sortedness=False)  # both sides are sorted on the date just above
              .sort("__row"))
    return (joined
            .with_columns(pl.when(pl.col(currency) == reporting_currency).then(pl.lit(10 ** RATE_SCALE, pl.Int128))
                          .otherwise(pl.col("__rate")).alias(out))
            .drop("__row", "__rate_date", "__rate"))


def cents_to_decimal(col: str | pl.Expr) -> pl.Expr:
    """Integer cents back to a Decimal(38, 2), for display."""
    e = pl.col(col) if isinstance(col, str) else col
    return e.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, 2)) / 100


def fmt_cents(c: int | None) -> str:
    if c is None:
        return "NULL"
    sign = "-" if c < 0 else ""
    c = abs(int(c))
    return f"{sign}{c // 100:,}.{c % 100:02d}"


def ratio(num: int | Fraction, den: int | Fraction, times: int | Fraction = 1) -> Fraction | None:
    """An exact ratio num / den × times, or None (NULL) for a zero denominator."""
    if den is None or num is None or den == 0:
        return None
    return Fraction(num) / Fraction(den) * times


# --------------------------------------------------------------------------------------------------------------
# Comparing with cobro
# --------------------------------------------------------------------------------------------------------------

def _cobro_money_as(col: pl.Series, scale_out: int) -> tuple[pl.Series, int]:
    """A cobro Decimal column as exact integers of 10^-scale_out; also how many values had finer digits."""
    f = 10 ** (AMOUNT_SCALE - scale_out)
    df = pl.DataFrame({"v": col})
    finer = df.select(((units("v") % f) != 0).sum()).item() or 0
    return df.select(units("v") // f).to_series(), int(finer)


def assert_same(what: str, mine: pl.DataFrame, cobro: pl.DataFrame, keys: list[str], *,
                cents: list[str] = (), units4: list[str] = (), exact: list[str] = (), ratios: list[str] = (),
                rel_tol: float = 1e-9, show: int = 5) -> int:
    """Assert that `mine` (our recomputation) and `cobro` (cobro's output) hold the same rows and values.

    keys   -- columns identifying a row; both sides must have the same set of keys, each once.
    cents  -- money in cents: ours Int128 cents, cobro's a Decimal that must be whole cents and equal to the cent.
    units4 -- money in the document currency: ours Int128 units of 0.0001, cobro's Decimal(·, 4); equal exactly.
    exact  -- any other column (dates, counts, labels, flags): equal, NULL only where NULL.
    ratios -- DOUBLE ratios (days, percentages, shares; never money): ours exact (Fraction or float), equal within
              a relative 1e-9 (floating-point noise only), NULL only where NULL.
    Returns the number of rows compared; raises AssertionError listing every disagreement.
    """
    problems: list[str] = []
    for side, df in (("ours", mine), ("cobro", cobro)):
        dup = df.group_by(keys).len().filter(pl.col("len") > 1)
        if dup.height:
            problems.append(f"{side}: {dup.height} duplicated key(s), e.g. {dup.row(0, named=True)}")
    m_keys, c_keys = mine.select(keys), cobro.select(keys)
    missing = c_keys.join(m_keys, on=keys, how="anti", nulls_equal=True)
    extra = m_keys.join(c_keys, on=keys, how="anti", nulls_equal=True)
    if missing.height:
        problems.append(f"{missing.height} row(s) in cobro but not recomputed, e.g. {missing.head(show).to_dicts()}")
    if extra.height:
        problems.append(f"{extra.height} row(s) recomputed but not in cobro, e.g. {extra.head(show).to_dicts()}")

    cols = list(cents) + list(units4) + list(exact) + list(ratios)
    left = mine.select(keys + cols)
    right = cobro.select(keys + cols)
    for c in cents:
        s, finer = _cobro_money_as(right[c], 2)
        if finer:
            problems.append(f"{c}: {finer} cobro value(s) are not whole cents")
        right = right.with_columns(s.alias(c))
    for c in units4:
        s, _ = _cobro_money_as(right[c], 4)
        right = right.with_columns(s.alias(c))
    both = left.join(right, on=keys, how="inner", suffix="__cobro", nulls_equal=True)

    for c in list(cents) + list(units4) + list(exact):
        a, b = pl.col(c), pl.col(f"{c}__cobro")
        if c in exact and both[c].dtype != both[f"{c}__cobro"].dtype:
            b = b.cast(both[c].dtype)
        bad = both.filter(a.ne_missing(b))
        if bad.height:
            sample = bad.select(keys + [c, f"{c}__cobro"]).head(show).to_dicts()
            if c in cents:
                sample = [{**{k: r[k] for k in keys}, "ours": fmt_cents(r[c]), "cobro": fmt_cents(r[f"{c}__cobro"])}
                          for r in sample]
            problems.append(f"{c}: {bad.height} of {both.height} row(s) differ, e.g. {sample}")

    for c in ratios:
        bad = []
        for row in both.select(keys + [c, f"{c}__cobro"]).iter_rows(named=True):
            a, b = row[c], row[f"{c}__cobro"]
            if a is None or b is None:
                ok = a is None and b is None
            else:
                a = float(a)
                ok = abs(a - b) <= rel_tol * max(1.0, abs(a), abs(b))
            if not ok:
                bad.append({**{k: row[k] for k in keys}, "ours": None if a is None else float(a), "cobro": b})
        if bad:
            problems.append(f"{c}: {len(bad)} of {both.height} row(s) differ, e.g. {bad[:show]}")

    if problems:
        raise AssertionError(f"{what}: our recomputation and cobro disagree\n  - " + "\n  - ".join(problems))
    print(f"OK {what}: {both.height} rows agree on {len(cols)} column(s) "
          f"({len(cents)} money to the cent, {len(units4)} money in document currency, "
          f"{len(exact)} exact, {len(ratios)} ratios)")
    return both.height


def month_index(col: str | pl.Expr) -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return e.dt.year().cast(pl.Int32) * 12 + e.dt.month().cast(pl.Int32) - 1


def sub_months(d: date, n: int) -> date:
    """d − n calendar months, the day clamped to the month's length (chrono's checked_sub_months, as cobro)."""
    import calendar
    y, m = divmod(d.year * 12 + d.month - 1 - n, 12)
    m += 1
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


# --------------------------------------------------------------------------------------------------------------
# Recomputations shared by more than one notebook
# --------------------------------------------------------------------------------------------------------------

def promise_outcomes(snap: Snapshot) -> pl.DataFrame:
    """Every promise to pay made on or before D, kept / broken / pending, from the raw `promises`, `allocations`
    and `documents` tables (docs/metrics.md, "Promises"):

    * a promise cancelled or superseded on or before D (the store's state and closed_date) is no promise at all;
      whatever else the store says, the ledger decides;
    * per document of the promise, the cover is the payments (not credit notes) applied to it from the day the
      promise was made to promised_date + grace_days (and not after D), capped at what was promised on it;
    * kept when the covers add up to the promised amount; broken once D is past promised_date + grace_days;
      pending before.
    Amounts stay in the promise's currency, as exact units of 0.0001 (`amount`, `kept_amount`)."""
    D = snap.as_of
    promises = snap.table("promises")
    allocations = snap.table("allocations")
    cn_ids = snap.table("documents").filter(pl.col("kind") == "credit_note")["document_id"].implode()
    p = (promises.filter((pl.col("made_date") <= D)
                         & ~(pl.col("state").fill_null("").is_in(["cancelled", "superseded"])
                             & (pl.col("closed_date").fill_null(D) <= D)))
         .with_columns(broken_after=pl.col("promised_date") + pl.duration(days=pl.col("grace_days")),
                       amount_u4=units("amount")))
    pay = (allocations.filter(~pl.col("source_id").is_in(cn_ids) & (pl.col("applied_date") <= D))
           .select("document_id", "applied_date", a_u4=units("amount")))
    rows = (p.select("promise_id", "document_id", "amount_u4", "made_date", "broken_after")
            .join(pay, on="document_id", how="left")
            .with_columns(in_window=(pl.col("applied_date") >= pl.col("made_date"))
                          & (pl.col("applied_date") <= pl.col("broken_after")))
            .group_by("promise_id", "document_id", "amount_u4")
            .agg(paid_u4=pl.col("a_u4").filter(pl.col("in_window")).sum()))
    per = (rows.group_by("promise_id")
           .agg(amount=pl.col("amount_u4").sum(),
                kept_amount=pl.min_horizontal("paid_u4", "amount_u4").sum(),
                documents=pl.len().cast(pl.Int64)))
    head = (p.group_by("promise_id")
            .agg(pl.col("customer_id", "collector_id", "made_date", "promised_date", "grace_days", "broken_after",
                        "currency").min()))
    return (head.join(per, on="promise_id")
            .with_columns(status=pl.when(pl.col("kept_amount") >= pl.col("amount")).then(pl.lit("kept"))
                          .when(pl.lit(D) > pl.col("broken_after")).then(pl.lit("broken"))
                          .otherwise(pl.lit("pending")))
            .sort("promise_id"))


def business_days(start: date | None, end: date | None, weekend: set[int], holidays: set[date]) -> int | None:
    """Business days d with start < d <= end (weekend: ISO weekday numbers, 6 = Saturday, 7 = Sunday); NULL if
    either end is NULL, 0 when end <= start."""
    if start is None or end is None:
        return None
    from datetime import timedelta
    n, d = 0, start + timedelta(days=1)
    while d <= end:
        if d.isoweekday() not in weekend and d not in holidays:
            n += 1
        d += timedelta(days=1)
    return n


def company_calendar() -> tuple[set[int], set[date]]:
    """Weekend days and holidays of the workflow configuration's [calendar] (the calendar cobro counts business
    days in)."""
    cal = load_toml(config_file("workflow")).get("calendar", {})
    names = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
    weekend = {names[d.lower()[:3]] for d in cal.get("weekend", ["sat", "sun"])}
    holidays = {h if isinstance(h, date) else date.fromisoformat(str(h)) for h in cal.get("holidays", [])}
    return weekend, holidays


def display_round(x: Fraction) -> set[str]:
    """How `cobro metrics` displays a ratio: rounded to 2 decimals, half away from zero. cobro rounds a DOUBLE and
    we hold the exact fraction, so within 1e-9 (relative) of a half-hundredth either neighbour is accepted."""
    from decimal import ROUND_HALF_UP, Decimal
    out = set()
    for eps in (Fraction(0), Fraction(1, 10**9), Fraction(-1, 10**9)):
        v = x + eps * max(1, abs(x))
        out.add(str((Decimal(v.numerator) / Decimal(v.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
    return out
