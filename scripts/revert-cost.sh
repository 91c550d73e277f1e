#!/usr/bin/env bash
# What a dev node's snapshot and revert cost, the way Hardhat's loadFixture
# uses them, on lanes-validator --dev and anvil side by side: the chain is
# grown to each height H (one transfer per block, eth_sendTransaction under
# automine), then RUNS cycles each take evm_snapshot, send six transfers
# (six blocks, each with its receipt fetched) and evm_revert. Prints per node
# and height the medians of evm_revert, evm_snapshot and send+receipt, then
# of RUNS eth_estimateGas (a transfer) and hardhat_setBalance calls, in
# milliseconds, beside issue 82's goals (a revert of a 6-block snapshot at
# most 1 ms and flat from 100 to 10,000 blocks; send+receipt at most anvil's).
# The times are loopback HTTP round trips from Python over one keep-alive
# connection, as a client sees them.
#
#   scripts/revert-cost.sh [HEIGHT...]     (default 100 1000 10000; RUNS=30;
#                                            NODES="lanes anvil")
set -euo pipefail
cd "$(dirname "$0")/.."

heights=("$@")
[ ${#heights[@]} -gt 0 ] || heights=(100 1000 10000)
runs=${RUNS:-30}
nodes=${NODES:-lanes anvil}
source scripts/lib.sh
cargo build --release --bin lanes-validator >&2
[[ " $nodes " == *" anvil "* ]] && install_anvil

measure() {
    python3 - "http://127.0.0.1:$1" "$2" "$3" "$4" <<'PY'
import http.client, json, statistics, sys, time
url, node, height, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
# One keep-alive connection, as a client library holds one.
conn = http.client.HTTPConnection(*url.removeprefix("http://").split(":"))
def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    conn.request("POST", "/", body, {"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    if "error" in answer:
        raise SystemExit(f"{node}: {method}: {answer['error']}")
    return answer["result"]
sender = call("eth_accounts")[0]
def send():
    started = time.perf_counter()
    h = call("eth_sendTransaction", {"from": sender, "to": "0x" + "11" * 20, "value": "0x1"})
    # anvil answers a send before its block exists: its receipt is polled for.
    while call("eth_getTransactionReceipt", h) is None:
        pass
    return time.perf_counter() - started
while int(call("eth_blockNumber"), 16) < height:
    send()
reverts, snapshots, sends = [], [], []
for _ in range(runs):
    started = time.perf_counter()
    snap = call("evm_snapshot")
    snapshots.append(time.perf_counter() - started)
    sends.extend(send() for _ in range(6))
    started = time.perf_counter()
    assert call("evm_revert", snap) is True
    reverts.append(time.perf_counter() - started)
    assert int(call("eth_blockNumber"), 16) == height
def timed(method, *params):
    started = time.perf_counter()
    call(method, *params)
    return time.perf_counter() - started
transfer = {"from": sender, "to": "0x" + "11" * 20, "value": "0x1"}
estimates = [timed("eth_estimateGas", transfer) for _ in range(runs)]
balances = [timed("hardhat_setBalance", "0x" + "33" * 20, hex(10**18 + i)) for i in range(runs)]
ms = lambda xs: statistics.median(xs) * 1000
print(f"{node:6} height {height:6}: evm_revert {ms(reverts):5.2f} ms  evm_snapshot {ms(snapshots):5.2f}"
      f"  send+receipt {ms(sends):5.2f}  eth_estimateGas {ms(estimates):5.2f}"
      f"  hardhat_setBalance {ms(balances):5.2f}  ({runs} cycles of 6 blocks)")
PY
}

for height in "${heights[@]}"; do
    for node in $nodes; do
        # A fresh port each time: a node just stopped may hold its own a while.
        port=$(free_port)
        case $node in
            lanes) target/release/lanes-validator --dev --data-dir "$tmp/$node$height" \
                       --rpc-addr "127.0.0.1:$port" > "$tmp/node.log" 2>&1 & ;;
            anvil) "$anvil" --port "$port" --silent > "$tmp/node.log" 2>&1 & ;;
        esac
        node_pid=$!
        wait_for "$port"
        measure "$port" "$node" "$height" "$runs"
        stop_node
    done
done
echo "goals (issue 82): lanes evm_revert <= 1 ms median, flat from 100 to 10,000 blocks; send+receipt <= anvil's"
