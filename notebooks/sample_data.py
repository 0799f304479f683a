#!/usr/bin/env python3
"""Build a small, deterministic cobro data directory for the notebooks (and for ci/notebooks.sh).

    python notebooks/sample_data.py --out /tmp/cobro-sample [--cobro target/debug/cobro]

It only drives the cobro binary:

1. `cobro generate --customers 200 --invoices 5000 --seed 7` (a 24-month, three-currency ledger ending 2025-12-31)
   and `cobro import --mapping data/mappings/cobro-canonical.toml`;
2. a collections team working every other Tuesday from July to December 2025: at each work day W it builds a
   snapshot as of W, runs the daily tick, lets the departments answer and resolve the disputes that are due (each
   on its own planned date), records contact outcomes for the customers with the largest past-due balances
   (promises, disputes, reported payments, no commitment, no contact, with delay reasons; some promises are
   withdrawn two days later), and runs the default
   dunning strategy at W 14:00 UTC (messages are written as .eml files into the data directory's outbox);
3. a final snapshot as of 2025-12-31, built after the last tick, whose directory it prints on the last line of
   standard output (point COBRO_SNAPSHOT at it).

Every choice is a function of the work day and of what cobro reports, never of the clock or a random source, so
two runs give the same records (ids, dates, amounts). The ledger payments come from the generator: whether a
promise is kept is up to the generated customer, as in real life.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 12, 31)
FIRST_WORK_DAY = date(2025, 7, 1)  # a Tuesday
WORK_DAY_STEP = timedelta(days=14)
OUTCOMES_PER_DAY = 7

# The outcome of the k-th contact, cycling: promises dominate, as in a real collections team.
OUTCOME_CYCLE = [
    "promise",
    "dispute",
    "promise",
    "no_commitment",
    "promise",
    "reported_paid",
    "no_contact",
    "promise",
    "dispute",
]
DELAY_REASONS = ["cash_flow", "payment_run", "awaiting_approval", None, "invoice_not_received", "cash_flow", "other"]
DISPUTE_TYPES = ["billing_error", "delivery", "price", "breakdown", "delivery", "billing_error", "price"]
PROMISE_DAYS = [7, 10, 14, 21, 5]
# Dispute follow-up plan, by the dispute's number n (DSP-n): first response and resolution, in calendar days after
# the opening, or "due": exactly on the target cobro set (the edge of "in time"); None: never, so the dispute is
# still open (or unanswered) at the as-of date.
RESPONSE_LAG = [1, 2, "due", 4, 1, 6, 3, 2, 8]
RESOLUTION_LAG = [5, 9, "due", 16, 12, 27, 8, None, 20, 35, 11]
RESOLUTIONS = ["credit_note", "rejected", "corrected_invoice"]


# Awkward but legal rows the generator never produces, so that the notebooks' checks can tell conventions apart:
# * CHF has no rate before 2024-03-01, so XINV0001's sale and its February balance are unconverted (counted, never
#   summed as 0);
# * CHF rates of 1.25 and 0.5 turn amounts such as 10.02, 2.02 and 100.01 into exact half-cent ties (12.525, 2.525,
#   50.005), in a sale, a collection, a credit and month-end balances: half-even and half-up disagree on each
#   (generated rates have 6 decimals, so the generator practically never produces a tie);
# * XP0002 pays XINV0003 in April, before the invoice exists (May): a prepayment takes effect on the issue date;
# * XINV0004 is flagged disputed by the ERP, has no dispute record, and is paid in three months;
# * XP0006 is applied after the as-of date: invisible at 2025-12-31.
EDGE_FILES = {
    "customers_edge.csv": """customer_id,name,country,currency,account_group,payment_terms_days,credit_limit,collector_id,sales_rep_id,email,phone,language,timezone,vip,supplier_id
X000001,Rundung AG,CH,CHF,wholesale,30,5000.00,COL01,REP01,ap.x000001@example.com,,en,Europe/Zurich,false,
X000002,Borde S.L.,ES,EUR,retail,30,1000.00,COL02,REP02,facturas.x000002@example.com,,es,Europe/Madrid,false,
""",
    "fx_rates_edge.csv": """date,currency,rate_to_reporting
2024-03-01,CHF,1.25
2024-09-02,CHF,0.5
""",
    "documents_edge.csv": """document_id,customer_id,kind,issue_date,due_date,currency,amount,reference,disputed
XINV0001,X000001,invoice,2024-02-15,2024-03-16,CHF,10.02,before the first CHF rate,false
XINV0002,X000001,invoice,2024-03-05,2024-04-04,CHF,10.02,tie at 1.25,false
XCN0001,X000001,credit_note,2024-03-20,2024-03-20,CHF,4.02,XINV0002,false
XINV0003,X000002,invoice,2024-05-20,2024-06-19,EUR,200.00,prepaid,false
XINV0004,X000001,invoice,2024-09-10,2024-10-10,CHF,100.01,tie at 0.5; paid in three months,true
XINV0005,X000001,invoice,2025-11-03,2026-01-02,CHF,100.01,tie at 0.5; open at the as-of date,false
""",
    "payments_edge.csv": """payment_id,customer_id,received_date,currency,amount,method,reference
XP0001,X000001,2024-04-10,CHF,2.02,bank_transfer,XINV0002 part
XP0002,X000002,2024-04-25,EUR,200.00,bank_transfer,prepayment XINV0003
XP0003,X000001,2024-10-15,CHF,30.01,bank_transfer,XINV0004 part 1
XP0004,X000001,2024-11-15,CHF,30.01,bank_transfer,XINV0004 part 2
XP0005,X000001,2024-12-16,CHF,39.99,bank_transfer,XINV0004 part 3
XP0006,X000001,2026-01-20,CHF,10.02,bank_transfer,after the as-of date
""",
    "allocations_edge.csv": """source_id,document_id,applied_date,amount
XCN0001,XINV0002,2024-03-20,4.02
XP0001,XINV0002,2024-04-10,2.02
XP0002,XINV0003,2024-04-25,200.00
XP0003,XINV0004,2024-10-15,30.01
XP0004,XINV0004,2024-11-15,30.01
XP0005,XINV0004,2024-12-16,39.99
XP0006,XINV0001,2026-01-20,10.02
""",
}


class Cobro:
    def __init__(self, binary: Path, data_dir: Path):
        self.binary = binary
        self.data_dir = data_dir
        self.calls = 0

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        self.calls += 1
        cmd = [str(self.binary), "--data-dir", str(self.data_dir), *args]
        env = dict(os.environ, COBRO_USER="sample-data")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if check and proc.returncode != 0:
            raise SystemExit(f"cobro failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def sql(self, as_of: date, query: str) -> list[dict]:
        out = self.run("sql", "--as-of", as_of.isoformat(), "--format", "csv", query).stdout
        return list(csv.DictReader(io.StringIO(out)))

    def case(self, *args: str) -> dict | None:
        """A case command; None when cobro refuses it (a document paid meanwhile, a state that forbids it)."""
        proc = self.run("case", *args, "--json", check=False)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)


def work_days() -> list[date]:
    days, d = [], FIRST_WORK_DAY
    while d < AS_OF:
        days.append(d)
        d += WORK_DAY_STEP
    return days


def build(cobro_bin: Path, out: Path, customers: int, invoices: int, seed: int) -> Path:
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    gen = out / "gen"
    data = out / "data"
    cobro = Cobro(cobro_bin, data)
    cobro.run("generate", "--customers", str(customers), "--invoices", str(invoices), "--seed", str(seed),
              "--out", str(gen))
    mapping = str(REPO / "data/mappings/cobro-canonical.toml")
    files = [str(gen / f"{t}.csv") for t in ("customers", "documents", "payments", "allocations", "fx_rates")]
    cobro.run("import", "--mapping", mapping, *files)
    # A hand-made extract on top (fails on any rejected row): the awkward cases the generator never draws.
    edge = out / "edge"
    edge.mkdir()
    for name, text in EDGE_FILES.items():
        (edge / name).write_text(text)
    cobro.run("import", "--append", "--mapping", mapping, *sorted(str(p) for p in edge.iterdir()))

    contact_no = 0
    last_contact: dict[str, date] = {}
    disputes: dict[str, dict] = {}  # DSP-n -> {opened, responded, resolved}
    to_cancel: list[tuple[str, date]] = []  # promises withdrawn a few days after they were made
    for w in work_days():
        d = w.isoformat()
        cobro.run("snapshot", "--as-of", d)
        for promise_id, day in to_cancel:
            cobro.case("cancel-promise", promise_id, "--as-of", d, "--on", day.isoformat(), "--by", "collector",
                       "--note", "recorded by mistake")
        to_cancel = []
        cobro.run("case", "tick", "--as-of", d, "--on", d)

        # Departments: answer and resolve what is due by W, on the planned day.
        targets = {r["dispute_id"]: r for r in cobro.sql(w, "SELECT dispute_id, MIN(response_due_date) AS response, "
                                                            "MAX(deadline_date) AS resolution FROM disputes "
                                                            "GROUP BY dispute_id")}

        def planned(rec: dict, dsp_id: str, lag, kind: str) -> date | None:
            if lag is None:
                return None
            if lag == "due":
                return date.fromisoformat(targets[dsp_id][kind])
            return rec["opened"] + timedelta(days=lag)

        for dsp_id, rec in sorted(disputes.items(), key=lambda kv: int(kv[0].split("-")[1])):
            n = int(dsp_id.split("-")[1])
            if not rec["responded"]:
                day = planned(rec, dsp_id, RESPONSE_LAG[n % len(RESPONSE_LAG)], "response")
                if day is not None and day <= w:
                    cobro.case("respond", dsp_id, "--as-of", d, "--on", day.isoformat(), "--by", "department")
                    rec["responded"] = True
            if not rec["resolved"]:
                day = planned(rec, dsp_id, RESOLUTION_LAG[n % len(RESOLUTION_LAG)], "resolution")
                if day is not None and day <= w:
                    cobro.case("resolve", dsp_id, "--resolution", RESOLUTIONS[n % len(RESOLUTIONS)],
                               "--as-of", d, "--on", day.isoformat(), "--by", "department")
                    rec["resolved"] = True

        # Collectors: the customers with the largest past-due balance not contacted in the last 4 weeks.
        rows = cobro.sql(w, "SELECT customer_id, document_id, balance_rc, days_past_due FROM open_items "
                            "WHERE days_past_due > 0 ORDER BY customer_id, days_past_due DESC, document_id")
        per_customer: dict[str, list[dict]] = {}
        for r in rows:
            per_customer.setdefault(r["customer_id"], []).append(r)
        # Alternate the largest past-due balances (mostly chronic payers and defaulters) with the customers that
        # fell behind most recently (mostly occasional payers), so that promises are both kept and broken.
        by_balance = sorted(per_customer, key=lambda c: (-sum(float(r["balance_rc"]) for r in per_customer[c]), c))
        by_recent = sorted(per_customer, key=lambda c: (int(per_customer[c][0]["days_past_due"]), c))
        ranked = list(dict.fromkeys(c for pair in zip(by_balance, by_recent) for c in pair))
        done = 0
        for customer in ranked:
            if done >= OUTCOMES_PER_DAY:
                break
            if customer in last_contact and (w - last_contact[customer]).days < 28:
                continue
            docs = ",".join(r["document_id"] for r in per_customer[customer][:3])
            kind = OUTCOME_CYCLE[contact_no % len(OUTCOME_CYCLE)]
            reason = DELAY_REASONS[contact_no % len(DELAY_REASONS)]
            common = ["--customer", customer, "--invoices", docs, "--as-of", d, "--on", d, "--by", "collector"]
            if reason and kind != "dispute":
                common += ["--reason", reason]
            if kind == "promise":
                promised = w + timedelta(days=PROMISE_DAYS[contact_no % len(PROMISE_DAYS)])
                res = cobro.case("promise", *common, "--date", promised.isoformat())
                if res and contact_no % 4 == 0:
                    to_cancel.append((res["record_id"], w + timedelta(days=2)))
            elif kind == "dispute":
                res = cobro.case("dispute", *common, "--reason", "disputed_goods",
                                 "--type", DISPUTE_TYPES[contact_no % len(DISPUTE_TYPES)])
                if res:
                    disputes[res["record_id"]] = {"opened": w, "responded": False, "resolved": False}
            elif kind == "reported_paid":
                res = cobro.case("reported-paid", *common, "--paid-date", (w - timedelta(days=2)).isoformat(),
                                 "--reference", f"TRF-{contact_no:04d}")
            elif kind == "no_commitment":
                res = cobro.case("no-commitment", *common)
            else:
                res = cobro.case("no-contact", *common)
            contact_no += 1
            if res is not None:
                last_contact[customer] = w
                done += 1

        cobro.run("dunning", "run", "--as-of", d, "--at", f"{d}T14:00:00Z")

    final = AS_OF.isoformat()
    cobro.run("snapshot", "--as-of", final)
    cobro.run("case", "tick", "--as-of", final, "--on", final)
    cobro.run("snapshot", "--as-of", final)
    versions = sorted((data / "snapshots" / f"as_of={final}").glob("v=*"), key=lambda p: int(p.name[2:]))
    snapshot = versions[-1]
    print(f"{cobro.calls} cobro calls; {len(disputes)} disputes, {contact_no} contacts attempted", file=sys.stderr)
    return snapshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="an empty or missing directory")
    ap.add_argument("--cobro", type=Path,
                    default=Path(os.environ.get("COBRO_BIN")
                                 or Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug/cobro"))
    ap.add_argument("--customers", type=int, default=200)
    ap.add_argument("--invoices", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not args.cobro.exists():
        raise SystemExit(f"no cobro binary at {args.cobro} (set COBRO_BIN or --cobro, or run `cargo build`)")
    print(build(args.cobro.resolve(), args.out.resolve(), args.customers, args.invoices, args.seed))


if __name__ == "__main__":
    main()
