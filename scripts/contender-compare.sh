#!/usr/bin/env bash
# lanes-loadgen's half of the comparison with contender (issue 54): the same
# scenario files against the same node, lanes-validator --dev (a fresh one
# per scenario): the highest sustained rate (fixed-rate runs of STEP_SECONDS
# at each of RATES; a rate holds when 99% of what was sent is included and
# the inclusion p99 stays within P99_MS) and the latency measured at each.
#
#   scripts/contender-compare.sh [SCENARIO.toml ...]
#   RATES="100 200 400 800" STEP_SECONDS=10 P99_MS=1000
#
# SCENARIO defaults to contender's simpler.toml and simple.toml from
# ../shared/fixtures/contender. lanes-loadgen's own ceiling, against a node
# that runs nothing: scripts/loadgen-ceiling.sh (the sink).
#
# contender's half, by hand on a machine that can build it (v0.10.3,
# github.com/flashbots/contender: `cargo build --release -p contender_cli`;
# its reth git dependencies want github.com, and reth-mdbx-sys's bindings
# libclang with C headers), against the same fresh node for each rate:
#
#   contender setup SCENARIO.toml -r http://127.0.0.1:18551
#   contender spam SCENARIO.toml -r http://127.0.0.1:18551 --tps RATE -d STEP_SECONDS
#
# then, for its last run, sent, included and the inclusion latency (each
# transaction's end_timestamp - start_timestamp, ms, as its report takes
# it) from ~/.local/state/contender/contender.db (v0.10.3):
#
#   sqlite3 ~/.local/state/contender/contender.db "SELECT count(*), count(block_number)
#     FROM run_txs WHERE run_id = (SELECT max(id) FROM runs)"
#   sqlite3 ~/.local/state/contender/contender.db "SELECT end_timestamp - start_timestamp
#     FROM run_txs WHERE run_id = (SELECT max(id) FROM runs)
#     AND block_number IS NOT NULL ORDER BY 1"          # p50, p99 by rank
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a rates <<< "${RATES:-100 200 400 800 1600}"
step=${STEP_SECONDS:-10}
p99_bound=${P99_MS:-1000}
port=${LANES_PORT:-18551}
url="http://127.0.0.1:$port"
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
    scenarios=(../shared/fixtures/contender/simpler.toml ../shared/fixtures/contender/simple.toml)
fi

source scripts/lib.sh
need jq
cargo build --release --bins >&2

start_node() {
    rm -rf "$tmp/lanes"
    target/release/lanes-validator --dev --data-dir "$tmp/lanes" --rpc-addr "127.0.0.1:$port" \
        > "$tmp/lanes.log" 2>&1 &
    node_pid=$!
    wait_for "$port"
}

stop_node() {
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=
}

printf '%-28s %-15s %8s %10s %10s %10s\n' scenario generator "rate" included "p50 ms" "p99 ms"
for scenario in "${scenarios[@]}"; do
    name=$(basename "$scenario" .toml)
    # lanes-loadgen: each rate a run of its own (setup included, not timed).
    start_node
    best=none
    for r in "${rates[@]}"; do
        out=$(target/release/lanes-loadgen run --scenario "$scenario" --rpc "$url" --tps "$r" \
            --duration "${step}s" --no-db --json 2>/dev/null)
        read -r sent included p50 p99 <<< \
            "$(jq -r '"\(.submitted) \(.included) \(.latencyMs.p50) \(.latencyMs.p99)"' <<< "$out")"
        printf '%-28s %-15s %8s %10s %10.0f %10.0f\n' "$name" lanes-loadgen "$r" "$included/$sent" "$p50" "$p99"
        if [ "$included" -ge $((sent * 99 / 100)) ] && [ "${p99%.*}" -le "$p99_bound" ]; then
            best=$r
        fi
    done
    stop_node
    echo "$name: lanes-loadgen sustained $best tx/s (p99 within $p99_bound ms)"
done
