"""Snapshots on an S3-compatible store: what reading them costs, with and without the checked local copy.

Starts moto in server mode (tests/support/s3_server.py, with its request log on), generates a ledger, imports it and
publishes one snapshot to the bucket. Then it runs `cobro metrics` REPEAT times reading the bucket directly
(`--snapshot-cache off`) and REPEAT times through the local copy (the default, decision 0016). For each run it prints
the wall time and the number of requests the server saw, and it checks that both ways print the same KPIs.

    python3 bench/object_store.py                              # 50,000 invoices, 3 runs each
    python3 bench/object_store.py --invoices 1000000 --cobro target/release/cobro

moto answers on localhost in about a millisecond, so the time saved here is a floor. Against a remote store each
request costs 10-50 ms. The request counts carry over as they are. Exit code 1 means the two ways disagree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, markdown_table, run_child

BUCKET = "cobro-bench"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cobro", type=Path, default=REPO / "target/debug/cobro")
    ap.add_argument("--invoices", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--as-of", default="2025-12-31")
    args = ap.parse_args()
    if not args.cobro.exists():
        print(f"no cobro binary at {args.cobro}: cargo build, or pass --cobro", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="cobro-bench-s3-"))
    log = work / "requests.log"
    server = subprocess.Popen(
        [sys.executable, str(REPO / "tests/support/s3_server.py"), BUCKET],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "S3_REQUEST_LOG": str(log)},
    )
    try:
        line = server.stdout.readline() if server.stdout else ""
        if not line.startswith("PORT "):
            print(f"the S3 server did not start (pip install 'moto[server]'): {line!r}", file=sys.stderr)
            return 2
        env = {
            "AWS_ENDPOINT": f"http://127.0.0.1:{line.split()[1]}",
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
        }
        base = [str(args.cobro), "--data-dir", f"s3://{BUCKET}/bench", "--work-dir", str(work / "work")]
        gen = work / "gen"
        customers = max(args.invoices // 25, 10)
        run_child(
            [args.cobro, "generate", "--out", gen, "--customers", str(customers), "--invoices", str(args.invoices)],
            check=True,
            what="generate",
        )
        (gen / "customers_truth.csv").unlink(missing_ok=True)
        csvs = sorted(str(p) for p in gen.glob("*.csv"))
        mapping = str(REPO / "data/mappings/cobro-canonical.toml")
        run_child([*base, "import", "--mapping", mapping, *csvs], env=env, check=True, what="import")
        run_child([*base, "snapshot", "--as-of", args.as_of], env=env, check=True, what="snapshot")

        rows = []
        outputs = {}
        for mode in ["off", "copy"]:
            for i in range(1, args.repeat + 1):
                log.write_text("")
                cache = ["--snapshot-cache", "off"] if mode == "off" else []
                r = run_child([*base, *cache, "metrics", "--as-of", args.as_of], env=env, check=True, what="metrics")
                requests = sum(1 for _ in log.open())
                outputs.setdefault(mode, r.stdout)
                rows.append([mode, i, f"{r.seconds:.2f} s", requests])
        print(f"`cobro metrics` on {args.invoices:,} invoices in moto ({args.cobro}):\n")
        print(markdown_table(["--snapshot-cache", "run", "time", "requests"], rows))
        copy = work / "work" / "snapshot-cache"
        size = sum(p.stat().st_size for p in copy.rglob("*") if p.is_file())
        print(f"\nlocal copy: {size / 1e6:.1f} MB")
        if outputs["off"] != outputs["copy"]:
            print("MISMATCH: the KPIs differ between reading the bucket and reading the copy", file=sys.stderr)
            return 1
        print("same KPIs both ways")
        return 0
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
