#!/usr/bin/env bash
# Send-then-receipt latency of a web3.py client (tests/clients/latency.py),
# one transfer after another, against lanes-validator --dev (automine) and
# anvil 1.7.1 (automine), both fresh, on loopback. Prints each node's median
# and p90, and the number of receipts found by the first look after the send.
#
#   scripts/latency.sh [TRANSFERS]     (default 50; RUNS=3 repeats, interleaved)
#   BASE_BIN=path/to/older/lanes-validator adds that build, interleaved, for
#   a before/after figure of a change (ANVIL=0 leaves anvil out).
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-50}
runs=${RUNS:-1}
lanes_port=${LANES_PORT:-18545}
anvil_port=${ANVIL_PORT:-18546}
scripts/install-clients.sh >&2
source scripts/lib.sh
install_anvil
cargo build --release --bins >&2

measure() {
    PYTHONPATH=target/clients/python python3 tests/clients/latency.py "$1" "$n" | tail -1
}

for r in $(seq 1 "$runs"); do
    target/release/lanes-validator --dev --data-dir "$tmp/lanes$r" \
        --rpc-addr "127.0.0.1:$lanes_port" > "$tmp/lanes.log" 2>&1 &
    node_pid=$!
    wait_for "$lanes_port"
    echo "lanes --dev: $(measure "http://127.0.0.1:$lanes_port")"
    stop_node
    if [ -n "${BASE_BIN:-}" ]; then
        "$BASE_BIN" --dev --data-dir "$tmp/base$r" \
            --rpc-addr "127.0.0.1:$lanes_port" > "$tmp/base.log" 2>&1 &
        node_pid=$!
        wait_for "$lanes_port"
        echo "lanes base:  $(measure "http://127.0.0.1:$lanes_port")"
        stop_node
    fi
    [ "${ANVIL:-1}" = 0 ] && continue
    "$anvil" --port "$anvil_port" --silent > "$tmp/anvil.log" 2>&1 &
    node_pid=$!
    wait_for "$anvil_port"
    echo "anvil:       $(measure "http://127.0.0.1:$anvil_port")"
    stop_node
done
