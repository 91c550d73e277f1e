#!/usr/bin/env bash
# A burst of transfers against lanes-validator --dev under on-demand mining
# (automine, the --dev default) and under interval mining (--block-time
# 400ms), each on a fresh node: lanes-loadgen funds ACCOUNTS accounts, then
# sends TXS transfers among them as fast as it can. Prints, per mode, the
# included tx/s, the blocks that hold the burst and the send-to-inclusion p50.
#
#   scripts/burst.sh            (TXS=10000 ACCOUNTS=2000 RUNS=3, interleaved)
#   VALIDATOR=path/to/lanes-validator MODES=on-demand scripts/burst.sh
#                               (another build, one mode; its median block
#                               seal time from the node's log is printed too)
set -euo pipefail
cd "$(dirname "$0")/.."

txs=${TXS:-10000}
accounts=${ACCOUNTS:-2000}
runs=${RUNS:-3}
port=${LANES_PORT:-18547}
validator=${VALIDATOR:-target/release/lanes-validator}
modes=${MODES:-on-demand interval-400ms}
source scripts/lib.sh
cargo build --release --bins >&2

for r in $(seq 1 "$runs"); do
    for mode in $modes; do
        args=()
        [ "$mode" = "interval-400ms" ] && args=(--block-time 400ms)
        "$validator" --dev --data-dir "$tmp/$mode$r" \
            --rpc-addr "127.0.0.1:$port" "${args[@]}" > "$tmp/node.log" 2>&1 &
        node_pid=$!
        wait_for "$port"
        target/release/lanes-loadgen run --workload transfer --txs "$txs" \
            --accounts "$accounts" --rate 1000000 --rpc "http://127.0.0.1:$port" \
            --json > "$tmp/report.json"
        python3 - "$mode" "$tmp/report.json" "$tmp/node.log" <<'PY'
import json, re, statistics, sys
r = json.load(open(sys.argv[2]))
unit = {"ns": 1e-6, "µs": 1e-3, "ms": 1.0, "s": 1e3}
seals = [float(v) * unit[u] for n, v, u in
         re.findall(r"txs=(\d+) .*? seal=([\d.]+)(ns|µs|ms|s)\b",
                    re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[3]).read()))
         if int(n) >= 100]
seal = f", seal {statistics.median(seals):.2f} ms (median, blocks of 100+)" if seals else ""
print(f"{sys.argv[1]:>15}: {r['includedPerSecond']:8.0f} tx/s included, "
      f"{r['included']} of {r['submitted']} in {r['blocks']} blocks, "
      f"p50 {r['latencyMs']['p50']:.0f} ms{seal}")
PY
        stop_node
    done
done
