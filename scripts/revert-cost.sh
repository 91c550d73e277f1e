#!/usr/bin/env bash
# What an evm_revert costs on lanes-validator --dev: for each chain height H
# (blocks of one transfer each, sent by eth_sendTransaction under automine),
# takes a snapshot at H, sends one more transfer, and times evm_revert (the
# ledger and the accounts database's log are cut back to H). Prints the
# height and the median of RUNS reverts.
#
#   scripts/revert-cost.sh [HEIGHT...]     (default 10 100 1000; RUNS=5)
set -euo pipefail
cd "$(dirname "$0")/.."

heights=("$@")
[ ${#heights[@]} -gt 0 ] || heights=(10 100 1000)
runs=${RUNS:-5}
port=${LANES_PORT:-18548}
source scripts/lib.sh
cargo build --release --bins >&2

for height in "${heights[@]}"; do
    target/release/lanes-validator --dev --data-dir "$tmp/h$height" \
        --rpc-addr "127.0.0.1:$port" > "$tmp/node.log" 2>&1 &
    node_pid=$!
    wait_for "$port"
    python3 - "http://127.0.0.1:$port" "$height" "$runs" <<'PY'
import json, statistics, sys, time, urllib.request
url, height, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    answer = json.load(urllib.request.urlopen(req))
    if "error" in answer:
        raise SystemExit(f"{method}: {answer['error']}")
    return answer["result"]
sender = call("eth_accounts")[0]
send = lambda: call("eth_sendTransaction", {"from": sender, "to": "0x" + "11" * 20, "value": "0x1"})
while int(call("eth_blockNumber"), 16) < height:
    send()
took = []
for _ in range(runs):
    snap = call("evm_snapshot")
    send()
    start = time.perf_counter()
    assert call("evm_revert", snap) is True
    took.append((time.perf_counter() - start) * 1000)
    assert int(call("eth_blockNumber"), 16) == height
print(f"height {height:6}: evm_revert median {statistics.median(took):8.1f} ms "
      f"(min {min(took):.1f}, max {max(took):.1f}, {runs} runs)")
PY
    stop_node
done
