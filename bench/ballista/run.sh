#!/usr/bin/env bash
# cobro's metric pack on a local Ballista cluster (one scheduler, two executors, separate processes) against cobro
# single-node, on the 10M-invoice snapshot of bench/metrics.py. See docs/scale-out.md.
#
#   bench/ballista/run.sh                 # everything: data (if missing), cluster, timings, agreement
#   REPEAT=1 bench/ballista/run.sh        # one timed run per view and contender
#
# Environment (defaults in brackets):
#   WORK [/work/scale-data]         data, outputs, logs (outside the repo)
#   COBRO [$WORK/cobro]             the cobro binary (a private copy: a rebuild of target/release must not change it)
#   BIN [$CARGO_TARGET_DIR/release/cobro-ballista, CARGO_TARGET_DIR=/work/ballista-target]
#   N [10000000]                    invoices (customers = 2 % of N, seed 42, as bench/metrics.py)
#   REPEAT [3]                      timed runs per view and contender (the table reports the median)
#   EXEC_MEMORY [6G]                each executor's memory pool (two of them: half the machine, as cobro's default)
#   CLIENT_SET [ballista.planner.adaptive.enabled=false]
#                                   space-separated `--set key=value` session options for the Ballista client
#
# Builds nothing: build the binary first (cd bench/ballista && cargo build --release).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
WORK=${WORK:-/work/scale-data}
COBRO=${COBRO:-$WORK/cobro}
BIN=${BIN:-${CARGO_TARGET_DIR:-/work/ballista-target}/release/cobro-ballista}
N=${N:-10000000}
REPEAT=${REPEAT:-3}
EXEC_MEMORY=${EXEC_MEMORY:-6G}
# Ballista 55's adaptive planner (AQE, on by default) never finishes a join against an empty table: it keeps
# planning a new shuffle stage over the EmptyExec (thousands of 2 ms stages, see docs/scale-out.md). The generated
# ledger has no disputes and no promises, so ar_monthly and customer_behaviour hit it; the static planner runs them.
CLIENT_SET=${CLIENT_SET-ballista.planner.adaptive.enabled=false}
AS_OF=2025-12-31
PACK=(ageing ar_monthly customer_behaviour)
DEFINE=ledger_months,fx_daily,ar_document_months,ar_monthly_by_currency,ar_monthly,ageing,settled_documents,promise_outcomes,customer_behaviour

[ -x "$COBRO" ] || { echo "no cobro binary at $COBRO (cp target/release/cobro $COBRO)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "no cobro-ballista binary at $BIN (build bench/ballista first)" >&2; exit 1; }
mkdir -p "$WORK/logs"
data=$WORK/metrics-$N
snap=$data/snapshots/as_of=$AS_OF/v=1

# 1. Data: bench/metrics.py's argv (generate, import with the canonical mapping, snapshot at the extract date).
if [ ! -f "$data/.done" ]; then
    gen=$WORK/gen-$N
    rm -rf "$gen" "$data"
    customers=$(python3 -c "print(max(1, round($N * 0.02)))")
    "$COBRO" generate --customers "$customers" --invoices "$N" --seed 42 --out "$gen"
    "$COBRO" import --data-dir "$data" --mapping "$repo/data/mappings/cobro-canonical.toml" \
        "$gen/customers.csv" "$gen/documents.csv" "$gen/payments.csv" "$gen/allocations.csv" "$gen/fx_rates.csv"
    "$COBRO" snapshot --data-dir "$data" --as-of "$AS_OF"
    echo "$AS_OF" > "$data/.done"
    rm -rf "$gen"  # the CSVs are not needed once imported
fi
echo "snapshot $snap: $(du -sb "$snap" | cut -f1) bytes"

# 2. The views, as cobro renders them for this snapshot (the same text bench/common.py render_views gives DuckDB).
mkdir -p "$WORK/views"
for v in ${DEFINE//,/ }; do
    "$COBRO" views --data-dir "$data" --as-of "$AS_OF" "$v" > "$WORK/views/$v.sql"
done

# 3. The cluster: three processes, each under /usr/bin/time -v (peak RSS over the whole trial in its log).
pids=()  # the /usr/bin/time wrappers; the servers are their children
stop_cluster() {  # SIGTERM to each server (not to `time`, which would leave it running), then reap the wrappers
    for p in "${pids[@]}"; do
        c=$(pgrep -P "$p" | head -1 || true)
        kill "${c:-$p}" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop_cluster EXIT
start() {  # start NAME ARGS...: runs BIN ARGS in the background, logs to WORK/logs/NAME.log
    local name=$1; shift
    RUST_LOG=${RUST_LOG:-info} /usr/bin/time -v "$BIN" "$@" > "$WORK/logs/$name.log" 2>&1 &
    pids+=($!)
}
start scheduler scheduler --bind 127.0.0.1 --port 50050 --finished-job-data-cleanup-secs 5
sleep 2
for i in 1 2; do
    mkdir -p "$WORK/ballista-work/executor-$i"
    start "executor-$i" executor --port $((50041 + 10 * i)) --grpc-port $((50042 + 10 * i)) \
        --scheduler-host localhost --scheduler-port 50050 --memory-pool "$EXEC_MEMORY" \
        --work-dir "$WORK/ballista-work/executor-$i"
done
for _ in $(seq 60); do  # both executors registered?
    [ "$(grep -c "Received register executor" "$WORK/logs/scheduler.log")" -ge 2 ] && break
    sleep 1
done
sleep 2

# The executors' process ids (the children of /usr/bin/time), to reset and read their peak RSS around each view.
child_of() { pgrep -P "$1" | head -1; }
cluster_pids=()
for p in "${pids[@]}"; do cluster_pids+=("$(child_of "$p")"); done
reset_peaks() { for p in "${cluster_pids[@]}"; do echo 5 > "/proc/$p/clear_refs" 2>/dev/null || true; done; }
peaks_mib() {  # scheduler,executor-1,executor-2 VmHWM in MiB
    local out=()
    for p in "${cluster_pids[@]}"; do out+=("$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$p/status")"); done
    (IFS=,; echo "${out[*]}")
}

# 4. Timings: per repetition, per view, cobro single-node then the Ballista client, each its own process.
results=$WORK/results.tsv
printf 'rep\tview\tcontender\twall_s\tquery_s\tpeak_rss_mib\tcluster_peak_mib(sched,ex1,ex2)\tstatus\n' > "$results"
set_args=()
for kv in $CLIENT_SET; do set_args+=(--set "$kv"); done
for rep in $(seq "$REPEAT"); do
    for view in "${PACK[@]}"; do
        out=$WORK/out-cobro; mkdir -p "$out"
        /usr/bin/time -f '%e %M' -o "$WORK/logs/time.txt" "$COBRO" sql --data-dir "$data" --as-of "$AS_OF" \
            --format parquet --out "$out/$view.parquet" "SELECT * FROM $view" > "$WORK/logs/cobro-$view-$rep.log" 2>&1 \
            && status=ok || status=failed
        read -r wall rss < <(tail -1 "$WORK/logs/time.txt")
        printf '%s\t%s\tcobro\t%s\t\t%.0f\t\t%s\n' "$rep" "$view" "$wall" "$(echo "$rss / 1024" | bc -l)" "$status" >> "$results"
        echo "[$rep] cobro $view: $wall s ($status)"

        out=$WORK/out-ballista; mkdir -p "$out"
        reset_peaks
        /usr/bin/time -f '%e %M' -o "$WORK/logs/time.txt" "$BIN" client --scheduler df://localhost:50050 \
            --snapshot "$snap" --views "$WORK/views" --define "$DEFINE" --run "$view" --out "$out" "${set_args[@]}" \
            > "$WORK/logs/ballista-$view-$rep.log" 2>&1 && status=ok || status=failed
        read -r wall rss < <(tail -1 "$WORK/logs/time.txt")
        query=$(grep -o '"event":"view".*"seconds":[0-9.]*' "$WORK/logs/ballista-$view-$rep.log" | grep -o '"seconds":[0-9.]*' | cut -d: -f2 || true)
        printf '%s\t%s\tballista\t%s\t%s\t%.0f\t%s\t%s\n' "$rep" "$view" "$wall" "$query" "$(echo "$rss / 1024" | bc -l)" "$(peaks_mib)" "$status" >> "$results"
        echo "[$rep] ballista $view: $wall s (query $query s, $status)"
    done
done
stop_cluster
trap - EXIT
rm -rf "$WORK/ballista-work"  # shuffle files of jobs the scheduler had not cleaned up yet
grep -h -E "Maximum resident|Elapsed" "$WORK"/logs/scheduler.log "$WORK"/logs/executor-*.log || true

# 5. Agreement: bench/metrics.py's row-by-row comparison (money to the cent, counts exactly, ratios to 1e-9
#    relative), plus an exact comparison of every column.
python3 "$here/compare.py" "$WORK/out-cobro" "$WORK/out-ballista" "${PACK[@]}"
column -t -s $'\t' "$results"
