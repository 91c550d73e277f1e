#!/usr/bin/env bash
# The read side of lanes-validator --dev (release) against a base binary and
# anvil (npm): each node, fresh, takes scenarios/mixed.toml (3,000
# transactions, closed loop 64), then `lanes-loadgen reads` sweeps RATES
# (default mix: eth_call 4, eth_getBalance 3, eth_getBlockByNumber 2,
# eth_getLogs 1; 5 s per rate). RUNS rounds, interleaved; prints each run and
# per node and rate the medians of answered calls/s, p50 and p99.
#
#   RUNS=3 RATES=6000,8000,10000 BASE_BIN=/tmp/lanes-validator-base scripts/reads-compare.sh
#
# BASE_BIN empty: no base; ANVIL=0: no anvil. Keep the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
runs="${RUNS:-3}"
rates="${RATES:-6000,8000,10000}"
base_bin="${BASE_BIN:-}"
with_anvil="${ANVIL:-1}"
[ "$with_anvil" = 0 ] || install_anvil
cargo build --release --bins >&2
loadgen=target/release/lanes-loadgen
work=$tmp

port=18650
# one NAME: start the node, send the workload, sweep the reads, stop it.
one() {
    local name=$1 pid url
    port=$((port + 1))
    url="http://127.0.0.1:$port"
    case $name in
    lanes) target/release/lanes-validator --dev --data-dir "$work/$name-$port" --rpc-addr "127.0.0.1:$port" >"$work/node.log" 2>&1 & ;;
    base) "$base_bin" --dev --data-dir "$work/$name-$port" --rpc-addr "127.0.0.1:$port" >"$work/node.log" 2>&1 & ;;
    anvil) "$anvil" --port "$port" --silent >"$work/node.log" 2>&1 & ;;
    esac
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        curl -sf -X POST -H 'content-type: application/json' \
            --data '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" >/dev/null && break
        sleep 0.1
    done
    "$loadgen" run --rpc "$url" --scenario scenarios/mixed.toml --txs 3000 --closed-loop 64 >/dev/null
    "$loadgen" reads --rpc "$url" --rates "$rates" --duration 5s 2>&1 |
        grep -E ' calls/s: ' | sed "s/^ */$name /"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

names=(lanes)
[ -n "$base_bin" ] && names+=(base)
[ "$with_anvil" = 0 ] || names+=(anvil)
for round in $(seq "$runs"); do
    # Alternate the order, so neither node always runs first.
    if ((round % 2)); then order=("${names[@]}"); else order=($(printf '%s\n' "${names[@]}" | tac)); fi
    for name in "${order[@]}"; do one "$name" | tee -a "$work/all.txt"; done
done
python3 - "$work/all.txt" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\d+) calls/s: (\d+) answered/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms", line)
    if m:
        rows.setdefault((m[1], int(m[2])), []).append((int(m[3]), float(m[4]), float(m[5])))
print(f"\nmedians of {max(len(v) for v in rows.values())} runs")
print(f"{'node':<6} {'rate':>6} {'answered/s':>11} {'p50 ms':>9} {'p99 ms':>9}")
for (name, rate), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    med = [statistics.median(x) for x in zip(*v)]
    print(f"{name:<6} {rate:>6} {med[0]:>11.0f} {med[1]:>9.2f} {med[2]:>9.2f}")
EOF
