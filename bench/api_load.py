#!/usr/bin/env python3
"""API load benchmark: `cobro serve` under wrk, on the dunning benchmark's ledger (1M open invoices by default).

1. **Ledger.** The same ledger as ``dunning.py`` (its ``prepare``): ``cobro generate --months 3``, ``cobro import``
   and ``cobro snapshot --as-of X`` at the extract date, sized by the invoices still OPEN at X (default 1,000,000
   open invoices, about 2M generated, over 100,000 customers). A ledger already in WORK is reused as is, so a rerun
   skips generate/import/snapshot (``--fresh`` makes it again).
2. **Server.** A private copy of the binary serves it: ``cobro --data-dir D --store S serve --listen
   127.0.0.1:0``, with a fresh operational store S (an SQLite file in WORK/api-load/, so the run never touches
   the ledger's own store and starts with no live records). Two tokens are made in S: a collector token for the
   collector with the most customers with open items (work queue and account cards) and a CFO token (metrics).
3. **Cold.** One request to each endpoint, in order: work queue, account card, metrics, and ``/healthz`` (no auth,
   no data: the floor of what wrk and axum do on these cores, for comparison). The server computes and
   caches per snapshot and state of the store, so this first request is timed on its own and reported; five
   sequential warm requests follow (median), and one with ``Accept-Encoding: gzip`` for the compressed size.
4. **Load.** ``wrk -t T -c 64 -d D --latency -s bench/wrk_report.lua URL -- TOKEN [PATHS]`` per endpoint, one after
   the other. Account cards rotate over every customer in the collector's queue. The server's CPU time per run is
   read from /proc, wrk's from its rusage.
5. **Report.** Markdown to stdout (cold ms, requests/s, p50/p99/p99.9 ms, errors, body bytes per endpoint; whether
   the work queue's p99 is under the goal), progress to stderr, everything to WORK/api-load-results.json.

The server is always stopped at the end (SIGTERM, then SIGKILL after 15 s; it also gets SIGTERM if this driver
dies, through PR_SET_PDEATHSIG). Exit codes: 0 ok (the goal is reported, never enforced), 1 an error (a non-2xx
response, a socket error or timeout, a failed cold request, the server died), 2 bad setup.
Run from the repository root:  python3 bench/api_load.py --smoke        See bench/README.md.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402  (after the sys.path line on purpose)
    BENCH,
    REPO,
    ChildFailed,
    machine_info,
    markdown_table,
    median,
    run_child,
    write_json,
)
from dunning import OPEN_PER_CUSTOMER, OPEN_SHARE, default_invoices, prepare, sql_csv  # noqa: E402
from ingest import DEFAULT_MAPPING, SetupError, check_cobro_binary, cobro_version, log  # noqa: E402

LUA = BENCH / "wrk_report.lua"
GOAL_P99_MS = 20.0  # the goal for the work queue at 64 connections
ENDPOINTS = ("work-queue", "work-queue-page", "account-card", "metrics", "healthz")
SMOKE_OPEN_TARGET = 20_000
SMOKE_DURATION = 5
CARD_SAMPLE = 50  # account cards fetched one by one after the warm-up, for their sizes


class BenchError(Exception):
    """A failure during the run: exit 1 after the server is stopped."""


# ==============================================================================================================
# The server
# ==============================================================================================================


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when this driver dies, even by SIGKILL (Linux PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


class Server:
    """`cobro serve` as a child: started, waited for, and always stopped (use it as a context manager)."""

    def __init__(self, argv: list[str], log_path: Path):
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.addr: str | None = None
        self.exit: dict | None = None

    def __enter__(self) -> "Server":
        env = {k: v for k, v in os.environ.items() if k != "COBRO_SERVER_CONFIG"}  # only what argv says
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            m = re.search(r"cobro listening on http://(\S+)", self.log_path.read_text("utf-8", "replace"))
            if m:
                self.addr = m.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        raise BenchError(f"the server did not start (no `cobro listening on` line):\n{tail}")

    def __exit__(self, *exc) -> None:
        self.stop()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        """utime + stime of the server so far, from /proc/PID/stat."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float | None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), SIGKILL after 15 s; reaps it with wait4 for its peak RSS and CPU time."""
        p = self.proc
        if p is None or self.exit is not None:
            return
        how = "exited by itself"
        if p.returncode is None:
            try:
                p.send_signal(signal.SIGTERM)
                how = "SIGTERM"
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 15
            status = ru = None
            while time.monotonic() < deadline:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            else:
                log("  the server did not stop within 15 s of SIGTERM: SIGKILL")
                p.kill()
                how = "SIGKILL"
                _, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            self.exit = {"how": how, "code": p.returncode, "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
                         "user_s": round(ru.ru_utime, 2), "sys_s": round(ru.ru_stime, 2)}
        else:
            self.exit = {"how": how, "code": p.returncode}
        self._log.close()
        log(f"  server stopped ({how}, exit {p.returncode})")


# ==============================================================================================================
# HTTP from the driver (http.client: no proxies from the environment, no automatic decompression)
# ==============================================================================================================


def http_get(addr: str, path: str, token: str, *, gzip: bool = False, timeout: float = 900) -> dict:
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
               "Accept-Encoding": "gzip" if gzip else "identity"}
    try:
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        return {"status": resp.status, "ms": ms, "bytes": len(body), "body": body,
                "encoding": resp.getheader("content-encoding")}
    finally:
        conn.close()


def problem_text(r: dict) -> str:
    return r["body"][:400].decode("utf-8", "replace")


def warm_up(addr: str, path: str, token: str, timeout: float) -> dict:
    """The cold first request (timed alone), 5 warm ones (median), and the gzip size."""
    cold = http_get(addr, path, token, timeout=timeout)
    out = {"path": path, "cold_ms": round(cold["ms"], 1), "cold_status": cold["status"], "body_bytes": cold["bytes"]}
    if cold["status"] != 200:
        out["error"] = f"cold request: HTTP {cold['status']} after {cold['ms'] / 1000:,.1f} s"
        if cold["status"] == 503:
            # The server's request timeout: is the work kept for the next request, or dropped with the request?
            again = http_get(addr, path, token, timeout=timeout)
            out["retry_status"], out["retry_ms"] = again["status"], round(again["ms"], 1)
            out["error"] += (f" (the server's request_timeout_seconds?); a second request: HTTP {again['status']} "
                             f"after {again['ms'] / 1000:,.1f} s")
        out["error"] += f"; body: {problem_text(cold) or '(empty)'}"
        return out
    warm = [http_get(addr, path, token, timeout=timeout) for _ in range(5)]
    bad = [w for w in warm if w["status"] != 200]
    if bad:
        out["error"] = f"warm request: HTTP {bad[0]['status']}: {problem_text(bad[0])}"
        return out
    out["warm_ms"] = round(median([w["ms"] for w in warm]), 2)
    gz = http_get(addr, path, token, gzip=True, timeout=timeout)
    out["gzip_bytes"] = gz["bytes"] if gz["encoding"] == "gzip" else None
    out["_body"] = cold["body"]
    return out


# ==============================================================================================================
# wrk
# ==============================================================================================================


def run_wrk(args, url: str, token: str, paths_file: Path | None) -> dict:
    """One wrk run; its WRK_JSON line, its own CPU time, and its text output."""
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout",
            f"{args.wrk_timeout}s", "--latency", "-s", str(LUA), url, "--", token]
    if paths_file is not None or args.gzip:
        argv.append(str(paths_file or ""))
    if args.gzip:
        argv.append("gzip")
    shown = [a if a != token else "TOKEN" for a in argv]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent)
    try:
        t0 = time.perf_counter()
        out = proc.stdout.read().decode("utf-8", "replace")
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if proc.returncode is None:  # interrupted: do not leave wrk running
            proc.kill()
            proc.wait()
    m = re.search(r"^WRK_JSON (\{.*\})\s*$", out, flags=re.M)
    if proc.returncode != 0 or not m:
        raise BenchError(f"wrk failed (exit {proc.returncode}): {' '.join(shown)}\n{out[-2000:]}")
    res = json.loads(m.group(1))
    res["wrk_cpu_s"] = round(ru.ru_utime + ru.ru_stime, 2)
    res["wrk_wall_s"] = round(wall, 2)
    res["argv"] = shown
    res["text"] = out[: m.start()].rstrip()
    return res


# ==============================================================================================================
# Driver
# ==============================================================================================================


def make_token(cobro: Path, data: Path, store: str, *role_args: str) -> str:
    r = run_child([cobro, "--data-dir", data, "--store", store, "token", "create", *role_args, "--label",
                   "bench api_load"], check=True, what="cobro token create")
    lines = [l.strip() for l in r.stdout.strip().splitlines() if l.strip()]
    if not lines or " " in lines[-1]:
        raise SetupError(f"cannot read the token from `cobro token create`:\n{r.stdout}")
    return lines[-1]


def pick_collector(cobro: Path, data: Path, as_of: str) -> dict:
    """The collector with the most customers with open items (the longest queue): the heaviest collector."""
    rows = sql_csv(
        cobro, data, as_of,
        "SELECT c.collector_id, COUNT(*) AS customers, COUNT(o.customer_id) AS with_open FROM customers c "
        "LEFT JOIN (SELECT DISTINCT customer_id FROM open_items) o ON o.customer_id = c.customer_id "
        "WHERE c.collector_id IS NOT NULL GROUP BY c.collector_id ORDER BY with_open DESC, c.collector_id",
    )
    if not rows:
        raise SetupError("no customer has a collector_id: nothing for a collector token to read")
    top = rows[0]
    return {"collector_id": top["collector_id"], "customers": int(top["customers"]),
            "customers_with_open_items": int(top["with_open"]), "collectors": len(rows)}


def fresh_store(root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    db = root / "store.db"
    for p in root.glob("store.db*"):
        p.unlink()
    return f"sqlite://{db}?mode=rwc"


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over `seconds` (from /proc/stat), as a percentage: run while the server is idle, it
    shows whether something else (a build) is using the machine."""
    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3] + v[4]  # idle + iowait
        return sum(v[:8]) - idle, sum(v[:8])

    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


def cpu_pct(seconds: float, wall: float) -> str:
    return f"{100 * seconds / wall:.0f} %" if wall else "–"


def fmt_ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Load-test `cobro serve` (work queue, account card, metrics) with wrk on a generated ledger.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--cobro", type=Path, default=REPO / "target" / "release" / "cobro", help="the cobro binary")
    p.add_argument("--open-target", type=int, default=1_000_000,
                   help="OPEN invoices wanted at the snapshot date (the dunning benchmark's ledger)")
    p.add_argument("--months", type=int, default=3, help="months of generated history")
    p.add_argument("--invoices", type=int, help="invoices to generate; None: derived from --open-target and --months")
    p.add_argument("--customers", type=int, help=f"customers; None: open target / {OPEN_PER_CUSTOMER}")
    p.add_argument("--seed", type=int, default=42, help="generator seed")
    p.add_argument("--work", type=Path, default=REPO / "bench" / "out", help="work directory (data and results)")
    p.add_argument("--fresh", action="store_true", help="generate, import and snapshot again even if WORK has them")
    p.add_argument("--mapping", type=Path, default=DEFAULT_MAPPING, help="cobro mapping for the canonical CSVs")
    p.add_argument("--smoke", action="store_true",
                   help=f"a small run: --open-target {SMOKE_OPEN_TARGET:,} and --duration {SMOKE_DURATION} "
                        "unless given")
    p.add_argument("--duration", type=int, help="seconds of load per endpoint (default 20; 5 with --smoke)")
    p.add_argument("--connections", type=int, default=64, help="open connections (wrk -c)")
    p.add_argument("--threads", type=int, default=1,
                   help="wrk threads (wrk -t). 1 leaves the most CPU to the server on a 2-core machine")
    p.add_argument("--wrk-timeout", type=int, default=60,
                   help="wrk --timeout seconds: a slower response is a timeout error and not in the latencies")
    p.add_argument("--gzip", action="store_true",
                   help="wrk sends `Accept-Encoding: gzip` (the server compresses); by default it sends none")
    p.add_argument("--endpoints", default=",".join(ENDPOINTS), help="a subset of " + ",".join(ENDPOINTS))
    p.add_argument("--collector", help="the collector whose token reads the queue and the cards; None: the one "
                                       "with the most customers with open items")
    p.add_argument("--cards", type=int, default=0,
                   help="account cards to rotate over (the first N of the collector's queue); 0: all of them")
    p.add_argument("--request-timeout", type=int,
                   help="the server's request_timeout_seconds (written to WORK/api-load/serve.toml); None: the "
                        "server's default (30 s)")
    p.add_argument("--cold-timeout", type=float, default=900, help="client timeout of the cold first requests, s")
    p.add_argument("--out", type=Path, help="results JSON; None: WORK/api-load-results.json "
                                            "(api-load-smoke-results.json with --smoke)")
    args = p.parse_args(argv)
    given = set(a.split("=")[0] for a in argv if a.startswith("--"))
    if args.smoke and "--open-target" not in given:
        args.open_target = SMOKE_OPEN_TARGET
    if args.duration is None:
        args.duration = SMOKE_DURATION if args.smoke else 20
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if unknown := [e for e in args.endpoints if e not in ENDPOINTS]:
        p.error(f"unknown endpoint(s) {', '.join(unknown)}; choose from {', '.join(ENDPOINTS)}")
    if "account-card" in args.endpoints and "work-queue" not in args.endpoints:
        p.error("account-card takes its customers from the work queue: keep work-queue in --endpoints")
    if min(args.duration, args.connections, args.threads, args.open_target) < 1:
        p.error("--duration, --connections, --threads and --open-target must be positive")
    if args.threads > args.connections:
        p.error("--threads must not exceed --connections (wrk needs a connection per thread)")
    if args.invoices is None:
        if args.months not in OPEN_SHARE:
            p.error(f"with --months {args.months}, pass --invoices")
        args.invoices = default_invoices(args.open_target, args.months)
    if args.customers is None:
        args.customers = max(1, args.open_target // OPEN_PER_CUSTOMER)
    args.work = args.work.resolve()
    if args.out is None:
        args.out = args.work / ("api-load-smoke-results.json" if args.smoke else "api-load-results.json")
    args.reuse = not args.fresh  # dunning.prepare's switch
    return args


def on_sigterm(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)  # unwinds through the `with Server` block, which stops the server


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, on_sigterm)
    started = dt.datetime.now().astimezone()
    if shutil.which("wrk") is None:
        log("error: wrk not found: apt-get install -y wrk")
        return 2
    root = args.work / "api-load"
    try:
        cobro = check_cobro_binary(args.cobro)
        if not args.mapping.exists():
            raise SetupError(f"mapping not found: {args.mapping}")
        root.mkdir(parents=True, exist_ok=True)
        private = args.work / "cobro-api-load-bench"  # a private copy: a rebuild mid-run must not change the server
        shutil.copy2(cobro, private)
        if not run_child([private, "serve", "--help"]).ok:
            raise SetupError(f"{cobro} has no `serve`: build a current one (cargo build --release)")
        info = prepare(args, private)
        as_of, data, counts = info["as_of"], Path(info["data_dir"]), info["counts"]
        log(f"as of {as_of}: {counts['open_invoices']:,} open invoices ({counts['open_items']:,} open items) of "
            f"{counts['invoices']:,}, {counts['customers']:,} customers")
        if args.collector:
            collector = {"collector_id": args.collector}
        else:
            collector = pick_collector(private, data, as_of)
        log(f"collector {collector['collector_id']}: {collector}")
        store = fresh_store(root)
        tokens = {"collector": make_token(private, data, store, "--role", "collector", "--collector",
                                          collector["collector_id"]),
                  "cfo": make_token(private, data, store, "--role", "cfo")}
    except (SetupError, ChildFailed) as e:
        log(f"error: {e}")
        return 2

    serve_argv = [private, "--data-dir", data, "--store", store, "serve", "--listen", "127.0.0.1:0"]
    if args.request_timeout:
        cfg = root / "serve.toml"
        cfg.write_text(f"# written by bench/api_load.py --request-timeout\nrequest_timeout_seconds = "
                       f"{args.request_timeout}\n")
        at = serve_argv.index("serve") + 1
        serve_argv[at:at] = ["--config", cfg]
    q = f"?as_of={as_of}"
    plan = {
        "work-queue": {"path": f"/api/v1/work-queue{q}", "token": "collector"},
        # One screen of it: the first 50 customers (`?limit=`), what the collector's page asks for.
        "work-queue-page": {"path": f"/api/v1/work-queue{q}&limit=50", "token": "collector"},
        "account-card": {"path": None, "token": "collector"},
        "metrics": {"path": f"/api/v1/metrics{q}", "token": "cfo"},
        "healthz": {"path": "/healthz", "token": "collector"},  # the floor: no auth, no store, no data
    }
    results: dict = {e: {} for e in args.endpoints}
    errors: list[str] = []
    server_info: dict = {}
    load_before = os.getloadavg()
    try:
        log("starting: " + " ".join(map(str, serve_argv)))
        with Server(serve_argv, root / "server.log") as server:
            addr = server.addr
            server_info["addr"] = addr
            server_info["rss_mib_start"] = server.rss_mib()
            log(f"  listening on {addr}")
            # ---- cold first requests, in order ----
            for name in args.endpoints:
                spec = plan[name]
                if name == "account-card":
                    ids = results["work-queue"].pop("_ids", [])
                    if not ids:
                        results[name]["error"] = (f"no cards: collector {collector['collector_id']}'s work queue "
                                                  "is empty or failed")
                        errors.append(f"{name}: {results[name]['error']}")
                        continue
                    if args.cards:
                        ids = ids[: args.cards]
                    paths = [f"/api/v1/customers/{cid}{q}" for cid in ids]
                    paths_file = root / "card-paths.txt"
                    paths_file.write_text("\n".join(paths) + "\n")
                    spec["path"], spec["paths_file"], spec["cards"] = paths[0], paths_file, len(paths)
                log(f"cold: GET {spec['path']}")
                w = warm_up(addr, spec["path"], tokens[spec["token"]], args.cold_timeout)
                body = w.pop("_body", b"")
                results[name].update(w)
                if "error" in w:  # reported; this endpoint gets no load run, the others still do
                    errors.append(f"{name}: {w['error']}")
                    log(f"  {name}: {w['error']}")
                    continue
                log(f"  {name}: cold {w['cold_ms']:,.1f} ms, warm {w['warm_ms']:,.2f} ms, {w['body_bytes']:,} bytes "
                    f"({w['gzip_bytes'] or 0:,} gzip), server RSS {server.rss_mib() or 0:,.0f} MiB")
                if name == "work-queue":
                    rows = json.loads(body)
                    results[name]["rows"] = len(rows)
                    results[name]["_ids"] = [r["customer_id"] for r in rows]
                if name == "account-card":
                    # Sizes of a sample of cards over the queue (they vary with the customer's open items).
                    step = max(1, len(paths) // CARD_SAMPLE)
                    sample = [http_get(addr, pth, tokens["collector"]) for pth in paths[::step][:CARD_SAMPLE]]
                    if bad := [s for s in sample if s["status"] != 200]:
                        results[name]["error"] = f"a card: HTTP {bad[0]['status']}: {problem_text(bad[0])}"
                        errors.append(f"{name}: {results[name]['error']}")
                        continue
                    sizes = sorted(s["bytes"] for s in sample)
                    results[name]["sample"] = {"cards": len(sample), "bytes_min": sizes[0],
                                               "bytes_median": median(sizes), "bytes_max": sizes[-1],
                                               "warm_ms_median": round(median([s["ms"] for s in sample]), 2)}
                    results[name]["body_bytes"] = int(median(sizes))
            results.get("work-queue", {}).pop("_ids", None)
            server_info["rss_mib_warm"] = server.rss_mib()
            # ---- load ----
            for name in args.endpoints:
                spec = plan[name]
                if "error" in results[name]:
                    log(f"load: {name} skipped (its cold request failed)")
                    continue
                time.sleep(1)
                busy = cpu_busy(2.0)  # the server is idle now: anything busy is someone else
                if not server.alive():
                    raise BenchError(f"the server died before the {name} load run:\n{server.log_tail()}")
                load = os.getloadavg()[0]
                log(f"load: {name}, wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
                    f"(CPUs {busy:.0f} % busy just before, load average {load:.2f})")
                if busy > 10:
                    log(f"warning: the CPUs were {busy:.0f} % busy with the server idle: something else is "
                        "running, and the numbers will show it")
                cpu0 = server.cpu_seconds()
                url = f"http://{addr}" + (spec["path"] if "paths_file" not in spec else "/")
                r = run_wrk(args, url, tokens[spec["token"]], spec.get("paths_file"))
                if not server.alive():
                    raise BenchError(f"the server died during the {name} load run:\n{server.log_tail()}")
                r["server_cpu_s"] = round(server.cpu_seconds() - cpu0, 2)
                r["load_average_before"] = round(load, 2)
                r["cpu_busy_before_pct"] = round(busy, 1)
                results[name]["load"] = r
                lat, e = r["latency_ms"], r["errors"]
                n_err = sum(e.values())
                log(f"  {r['requests']:,} requests, {r['requests_per_s']:,.0f}/s, p50 {lat['p50']:.2f} ms, "
                    f"p99 {lat['p99']:.2f} ms, p99.9 {lat['p999']:.2f} ms, max {lat['max']:.2f} ms, "
                    f"errors {n_err}; server CPU {cpu_pct(r['server_cpu_s'], r['duration_s'])}, "
                    f"wrk CPU {cpu_pct(r['wrk_cpu_s'], r['duration_s'])}")
                if n_err:
                    what = ", ".join(f"{k} {v}" for k, v in e.items() if v)
                    errors.append(f"{name}: {n_err} error(s) under load ({what})")
                    if e["status"]:  # show one: which status, and the problem document
                        probe = http_get(addr, spec["path"], tokens[spec["token"]], timeout=args.cold_timeout)
                        errors.append(f"  {name}: a request after the run: HTTP {probe['status']} "
                                      f"{problem_text(probe) if probe['status'] != 200 else ''}".rstrip())
            server_info["rss_mib_end"] = server.rss_mib()
            server_info["cpu_s_total"] = round(server.cpu_seconds(), 2)
    except BenchError as e:
        errors.append(str(e))
        log(f"error: {e}")
    except KeyboardInterrupt:
        log("interrupted (the server is stopped)")
        return 130
    finally:
        if "server" in locals():
            server_info["exit"] = server.exit
            server_info["log_tail"] = server.log_tail(10)

    # ---- report ----
    wq = results.get("work-queue", {}).get("load")
    goal_met = None
    if wq is not None:
        goal_met = wq["latency_ms"]["p99"] < GOAL_P99_MS and sum(wq["errors"].values()) == 0
    rows, cpu_rows = [], []
    for name in args.endpoints:
        res = results[name]
        ld = res.get("load")
        lat = ld["latency_ms"] if ld else {}
        size = res.get("body_bytes")
        if name == "account-card" and "sample" in res:
            s = res["sample"]
            size_txt = f"{s['bytes_median']:,.0f} (median of {s['cards']}; {s['bytes_min']:,}–{s['bytes_max']:,})"
        elif res.get("cold_status", 200) != 200:
            size_txt = "–"
        else:
            size_txt = f"{size:,}" if size is not None else "–"
        if res.get("gzip_bytes"):
            size_txt += f" / {res['gzip_bytes']:,} gzip" if name != "account-card" else ""
        label = {"work-queue": f"work queue ({res.get('rows', 0):,} rows)",
                 "work-queue-page": "work queue, first page (50 rows)",
                 "account-card": f"account card ({plan[name].get('cards', 0):,} customers)",
                 "metrics": "metrics",
                 "healthz": "healthz (floor: no auth, no data)"}[name]
        cold_txt = fmt_ms(res.get("cold_ms"))
        if res.get("cold_status", 200) != 200:
            cold_txt = f"HTTP {res['cold_status']} after {cold_txt}"
        if ld:
            err_txt = f"{sum(ld['errors'].values()):,}"
        else:
            err_txt = "no load run" if "error" in res else "–"
        rows.append([label, cold_txt, fmt_ms(res.get("warm_ms")),
                     f"{ld['requests_per_s']:,.0f}" if ld else "–", fmt_ms(lat.get("p50")), fmt_ms(lat.get("p99")),
                     fmt_ms(lat.get("p999")), fmt_ms(lat.get("max")), err_txt, size_txt])
        if ld:
            cpu_rows.append([name, f"{ld['requests']:,}", cpu_pct(ld["server_cpu_s"], ld["duration_s"]),
                             f"{1000 * ld['server_cpu_s'] / ld['requests']:.2f}" if ld["requests"] else "–",
                             cpu_pct(ld["wrk_cpu_s"], ld["duration_s"]),
                             f"{ld['bytes'] / ld['duration_s'] / 2**20:,.1f}", f"{ld['cpu_busy_before_pct']:.0f} %"])
    print(f"### API load, {counts['open_invoices']:,} open invoices, {counts['customers']:,} customers\n")
    print(f"Ledger: `cobro generate --customers {args.customers} --invoices {args.invoices} --months {args.months} "
          f"--seed {args.seed}` ({counts['invoices']:,} invoices), snapshot as of {as_of}: "
          f"{counts['open_items']:,} open items ({counts['open_invoices']:,} invoices). Collector "
          f"{collector['collector_id']}" + (f" ({collector['customers_with_open_items']:,} of its "
                                             f"{collector['customers']:,} customers with open items; "
                                             f"{collector['collectors']} collectors)" if "collectors" in collector else "")
          + f". `wrk -t{args.threads} -c{args.connections} -d{args.duration}s` per endpoint, one after the other, "
          + ("with `Accept-Encoding: gzip`, " if args.gzip else "uncompressed (no `Accept-Encoding`), ")
          + f"server and wrk on the same {os.cpu_count()} CPUs. Cold: the first request after the server started "
          "(in this order); warm: the median of 5 sequential requests after it. Latencies in ms.\n")
    print(markdown_table(["endpoint", "cold ms", "warm ms", "requests/s", "p50", "p99", "p99.9", "max", "errors",
                          "body bytes"], rows, align="lrrrrrrrrr"))
    if cpu_rows:
        print()
        print(markdown_table(["endpoint", "requests", "server CPU", "server CPU ms/request", "wrk CPU", "MiB/s",
                              "CPUs busy before"], cpu_rows, align="lrrrrrr"))
    if wq is not None:
        p99 = wq["latency_ms"]["p99"]
        verdict = "met" if goal_met else "NOT met"
        print(f"\nGoal: work-queue p99 < {GOAL_P99_MS:.0f} ms at {args.connections} connections with no errors: "
              f"**{verdict}** (p99 {p99:.2f} ms, {sum(wq['errors'].values())} errors).")
    ex = server_info.get("exit") or {}
    if ex.get("peak_rss_mib") is not None:
        print(f"\nServer: peak RSS {ex['peak_rss_mib']:,.0f} MiB, CPU {ex['user_s'] + ex['sys_s']:,.1f} s over the "
              f"run; stopped by {ex['how']} (exit {ex['code']}).")
    print(f"\nmachine: {json.dumps(machine_info())}; wrk: {wrk_version()}; load average at the start "
          f"{load_before[0]:.2f}. \"CPUs busy before\": both CPUs over the 2 s before each load run, with the "
          "server idle (anything above a few % is another process).")
    if errors:
        print(f"\n{len(errors)} error(s):")
        for e in errors:
            print("  " + e.replace("\n", "\n  "))

    write_json(args.out, {
        "benchmark": "api_load",
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_before": load_before,
        "cobro": str(cobro),
        "cobro_version": cobro_version(private),
        "wrk": wrk_version(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "ledger": info,
        "collector": collector,
        "server": server_info,
        "endpoints": {k: {kk: (str(vv) if isinstance(vv, Path) else vv) for kk, vv in v.items()}
                      for k, v in results.items()},
        "goal_p99_ms": GOAL_P99_MS,
        "goal_met": goal_met,
        "errors": errors,
        "ok": not errors,
    })
    print(f"\nResults written to {args.out}")
    if errors:
        print("\nFAILED: see the errors above.", file=sys.stderr)
        return 1
    return 0


def wrk_version() -> str:
    r = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    m = re.search(r"wrk (\S+)", r.stdout + r.stderr)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    sys.exit(main())
