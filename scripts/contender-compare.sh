#!/usr/bin/env bash
# lanes-loadgen's half of the comparison with contender (issue 54): the same
# scenario files against the same node, lanes-validator --dev (a fresh one
# per rate): the highest sustained rate (fixed-rate runs of STEP_SECONDS
# at each of RATES; a rate holds when 99% of what was sent is included and
# the inclusion p99 stays within P99_MS) and the latency measured at each.
#
#   scripts/contender-compare.sh [SCENARIO.toml ...]
#   RATES="100 200 400 800" STEP_SECONDS=10 P99_MS=1000
#   NODE_ARGS="--block-time 1s"     more lanes-validator flags
#   CONTENDER=/path/to/contender    also runs contender's half (below)
#
# SCENARIO defaults to contender's simpler.toml and simple.toml from
# ../shared/fixtures/contender. lanes-loadgen's own ceiling, against a node
# that runs nothing: scripts/loadgen-ceiling.sh (the sink).
#
# contender's half needs contender built by hand on a machine that can
# build it (v0.10.3, github.com/flashbots/contender: `cargo build --release
# -p contender_cli`; its reth git dependencies want github.com, and
# reth-mdbx-sys's bindings libclang with C headers). With CONTENDER set the
# script runs it against a fresh node for each rate, its database in the
# scratch folder, as by hand:
#
#   contender setup SCENARIO.toml -r http://127.0.0.1:18551 -p KEY  # if it has create or setup steps
#   contender spam SCENARIO.toml -r http://127.0.0.1:18551 -p KEY --tps RATE -d STEP_SECONDS \
#       --min-balance "5 ether"     # its default 0.01 ether lasts ~236 transfers
#
# KEY is the first dev account's (anvil's and lanes --dev's); contender's
# setup runs an anvil forking the node to price itself, so anvil is on PATH.
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

read -r -a node_args <<< "${NODE_ARGS:-}"
contender=${CONTENDER:-}
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
if [ -n "$contender" ]; then
    need sqlite3
    # contender's setup prices itself on an anvil forking the node (anvil's
    # first dev key funds it there; lanes --dev has the same accounts).
    install_anvil
    export PATH="$PWD/$(dirname "$anvil"):$PATH"
    key=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
fi
cargo build --release --bins >&2

start_node() {
    rm -rf "$tmp/lanes"
    # contender opens a connection per send at high rates: past lanes' default
    # --max-connections its sends would be refused, not measured.
    target/release/lanes-validator --dev --data-dir "$tmp/lanes" --rpc-addr "127.0.0.1:$port" \
        --max-connections 50000 "${node_args[@]}" > "$tmp/lanes.log" 2>&1 &
    node_pid=$!
    wait_for "$port"
}

stop_node() {
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=
}

printf '%-28s %-15s %8s %10s %10s %10s\n' scenario generator "rate" included "p50 ms" "p99 ms"

# Prints one rate's line for generator $1 (from $name, $r, $sent, $included,
# $p50, $p99) and keeps the rate in $best where it held.
row() {
    printf '%-28s %-15s %8s %10s %10.0f %10.0f\n' "$name" "$1" "$r" "$included/$sent" "$p50" "$p99"
    if [ "$included" -ge $((sent * 99 / 100)) ] && [ "${p99%.*}" -le "$p99_bound" ]; then
        best=$r
    fi
}
for scenario in "${scenarios[@]}"; do
    name=$(basename "$scenario" .toml)
    # lanes-loadgen: each rate a run of its own on a fresh node, as
    # contender's below (setup included, not timed): a rate over the chain's
    # capacity fills blocks and raises the EIP-1559 base fee for the next.
    best=none
    for r in "${rates[@]}"; do
        start_node
        if ! out=$(target/release/lanes-loadgen run --scenario "$scenario" --rpc "$url" --tps "$r" \
            --duration "${step}s" --no-db --json 2>"$tmp/loadgen.err"); then
            echo "$name: lanes-loadgen at $r tx/s failed: $(tail -1 "$tmp/loadgen.err")"
            stop_node
            continue
        fi
        read -r sent included p50 p99 <<< \
            "$(jq -r '"\(.submitted) \(.included) \(.latencyMs.p50) \(.latencyMs.p99)"' <<< "$out")"
        row lanes-loadgen
        stop_node
    done
    echo "$name: lanes-loadgen sustained $best tx/s (p99 within $p99_bound ms)"
    [ -n "$contender" ] || continue
    best=none
    for r in "${rates[@]}"; do
        start_node
        db="$tmp/contender"
        rm -rf "$db"
        : > "$tmp/contender.log"
        # Its setup wants anvil when a scenario has nothing to set up.
        if grep -Eq '^\[\[(create|setup)\]\]' "$scenario" &&
            ! "$contender" setup "$scenario" -r "$url" --data-dir "$db" -p "$key" \
                >> "$tmp/contender.log" 2>&1; then
            echo "$name: contender's setup failed: $(tail -1 "$tmp/contender.log")"
        fi
        if ! "$contender" spam "$scenario" -r "$url" --data-dir "$db" -p "$key" --tps "$r" \
            -d "$step" --min-balance "5 ether" >> "$tmp/contender.log" 2>&1; then
            echo "$name: contender at $r tx/s failed: $(tail -1 "$tmp/contender.log")"
        fi
        stop_node
        # Its own figures: sent, included, and end - start of each included
        # transaction (ms), as its report takes them.
        q="FROM run_txs WHERE run_id = (SELECT max(id) FROM runs)"
        read -r sent included <<< "$(sqlite3 -separator ' ' "$db/contender.db" \
            "SELECT count(*), count(block_number) $q")"
        mapfile -t lat < <(sqlite3 "$db/contender.db" \
            "SELECT end_timestamp - start_timestamp $q AND block_number IS NOT NULL ORDER BY 1")
        p50=${lat[$(( ${#lat[@]} / 2 ))]:-0}
        p99=${lat[$(( ${#lat[@]} * 99 / 100 ))]:-0}
        row contender
    done
    echo "$name: contender sustained $best tx/s (p99 within $p99_bound ms)"
done
