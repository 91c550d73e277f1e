#!/usr/bin/env bash
# One transaction at a time over raw keep-alive HTTP (tests/clients/latency_raw.py:
# presigned transfers, eth_sendRawTransaction answered once the block is committed,
# then eth_getTransactionReceipt), against lanes-validator --dev and anvil 1.7.1,
# both automining and fresh, alternating, on a quiet machine and with BUSY processes
# spinning on the CPU beside them (started and stopped here). One line per case
# and run: send p50/p99 and send+receipt p50/p99.
#
#   scripts/latency-raw.sh [TRANSFERS]   (default 300; RUNS=3 alternating runs,
#                                         BUSY=2 busy processes, LANES_BIN, BASE_BIN)
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-300}
runs=${RUNS:-3}
busy=${BUSY:-2}
scripts/install-clients.sh >&2
source scripts/lib.sh
install_anvil
lanes_bin=${LANES_BIN:-target/release/lanes-validator}
[ -n "${LANES_BIN:-}" ] || cargo build --release --bin lanes-validator >&2

spinners=()
spin() {
    for _ in $(seq 1 "$1"); do
        sh -c 'while :; do :; done' &
        spinners+=($!)
    done
}
unspin() {
    for pid in "${spinners[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${spinners[@]}"; do wait "$pid" 2>/dev/null || true; done
    spinners=()
}
trap 'unspin; cleanup' EXIT

measure() {
    local name=$1 case=$2 port
    shift 2
    port=$(free_port)
    "$@" "$port" > "$tmp/node.log" 2>&1 &
    node_pid=$!
    wait_for "$port"
    local out
    out=$(PYTHONPATH=target/clients/python python3 tests/clients/latency_raw.py "http://127.0.0.1:$port" "$n")
    printf '%-11s %-22s %s\n' "$name" "$case" "$out"
    stop_node
}
# Each replaces its background subshell, so $node_pid is the node's.
lanes() { exec "$lanes_bin" --dev --data-dir "$tmp/lanes-$RANDOM$RANDOM" --rpc-addr "127.0.0.1:$1"; }
base() { exec "$BASE_BIN" --dev --data-dir "$tmp/base-$RANDOM$RANDOM" --rpc-addr "127.0.0.1:$1"; }
anvil_node() { exec "$anvil" --port "$1" --silent; }

for case in quiet busy; do
    label=quiet
    if [ "$case" = busy ]; then
        spin "$busy"
        label="$busy busy processes"
    fi
    for r in $(seq 1 "$runs"); do
        measure "lanes" "$label" lanes
        [ -n "${BASE_BIN:-}" ] && measure "lanes base" "$label" base
        measure "anvil" "$label" anvil_node
    done
    unspin
done
