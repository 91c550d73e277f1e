#!/usr/bin/env bash
# Is lanes-loadgen ever the bottleneck? Runs the same workload and pacing
# against lanes-validator (from a loadgen genesis, setup pre-applied) and
# against the sink (`run --sink`: every transaction taken, none run), RUNS
# times interleaved, and prints each pair and the median ratio sink / node.
#
#   RUNS=3 scripts/loadgen-ceiling.sh [WORKLOAD FLAGS...]
#
# WORKLOAD FLAGS default to --workload transfer --txs 100000 --accounts 4000;
# PACING to --closed-loop 16000 (the node's highest figure in figures.md).
set -euo pipefail
cd "$(dirname "$0")/.."

workload=("$@")
[ ${#workload[@]} -gt 0 ] || workload=(--workload transfer --txs 100000 --accounts 4000)
read -r -a pacing <<< "${PACING:---closed-loop 16000}"
runs=${RUNS:-3}
port=${LANES_PORT:-18547}

source scripts/lib.sh
need jq
cargo build --release --bins >&2
target/release/lanes-loadgen genesis "${workload[@]}" --out "$tmp/genesis.json" >&2

node=()
sink=()
for i in $(seq 1 "$runs"); do
    rm -rf "$tmp/lanes"
    target/release/lanes-validator --genesis "$tmp/genesis.json" --data-dir "$tmp/lanes" \
        --rpc-addr "127.0.0.1:$port" > "$tmp/lanes.log" 2>&1 &
    node_pid=$!
    wait_for "$port"
    n=$(target/release/lanes-loadgen run "${workload[@]}" "${pacing[@]}" --rpc "http://127.0.0.1:$port" \
        --no-db --json | jq '.includedPerSecond')
    kill "$node_pid"
    wait "$node_pid" 2>/dev/null || true
    node_pid=
    s=$(target/release/lanes-loadgen run "${workload[@]}" "${pacing[@]}" --sink --no-db --json \
        | jq '.includedPerSecond')
    node+=("$n")
    sink+=("$s")
    printf 'round %d: lanes %.0f tx/s, sink %.0f tx/s, ratio %.2f\n' "$i" "$n" "$s" \
        "$(jq -n "$s / $n")"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mn=$(median "${node[@]}")
ms=$(median "${sink[@]}")
printf 'median: lanes %.0f tx/s, sink %.0f tx/s, sink / lanes %.2fx\n' "$mn" "$ms" "$(jq -n "$ms / $mn")"
