#!/usr/bin/env bash
# Where the node's cores go under lanes-loadgen load: runs one workload
# against lanes-validator (from a loadgen genesis, setup pre-applied), records
# every core with `perf record -a` for PERF_SECONDS in the middle of the run,
# and prints the run's throughput and the samples grouped by what spent them
# (sender recovery, the RPC layer, the kernel, the scheduler thread, the
# workers, the load generator, idle).
#
#   scripts/node-profile.sh [WORKLOAD FLAGS...]
#
# WORKLOAD FLAGS default to --workload transfer --txs 150000 --accounts 6000;
# PACING to --closed-loop 16000. PERF_DELAY (default 2.5) is how many
# seconds after the start of `run` the recording starts (after presigning),
# PERF_SECONDS (default 3) how long it lasts; keep both inside the run's
# window. PERF_DATA keeps the recording (default: removed on exit).
set -euo pipefail
cd "$(dirname "$0")/.."

workload=("$@")
[ ${#workload[@]} -gt 0 ] || workload=(--workload transfer --txs 150000 --accounts 6000)
read -r -a pacing <<< "${PACING:---closed-loop 16000}"
port=${LANES_PORT:-18548}

source scripts/lib.sh
need perf
cargo build --release --bins >&2
data=${PERF_DATA:-$tmp/perf.data}

target/release/lanes-loadgen genesis "${workload[@]}" --out "$tmp/genesis.json" >&2
target/release/lanes-validator --genesis "$tmp/genesis.json" --data-dir "$tmp/lanes" \
    --rpc-addr "127.0.0.1:$port" > "$tmp/lanes.log" 2>&1 &
node_pid=$!
validator_pid=$node_pid
wait_for "$port"

(sleep "${PERF_DELAY:-2.5}"; perf record -a -F 1999 -o "$data" -- sleep "${PERF_SECONDS:-3}") \
    > "$tmp/perf.log" 2>&1 &
perf_pid=$!
target/release/lanes-loadgen run "${workload[@]}" "${pacing[@]}" \
    --rpc "http://127.0.0.1:$port" > "$tmp/report.txt" &
loadgen_pid=$!
wait "$perf_pid"
wait "$loadgen_pid"
stop_node
grep -E '^(window|sent tx/s|included tx/s)' "$tmp/report.txt"

# Shares of every sample on every core (perf's absolute percentages), the
# node's grouped by thread and symbol: its RPC runs on tokio's threads
# ("tokio-rt-worker"), sender recovery among them.
share() {
    perf report -i "$data" --no-children --percentage absolute "$@" --sort comm,dso,sym \
        --stdio 2>/dev/null | awk '!/^#/ && NF >= 4 { sub("%", "", $1); s += $1 } END { printf "%.1f", s }'
}
echo "share of all samples on every core, by what spent them:"
{
    perf report -i "$data" --no-children --percentage absolute --pid "$validator_pid" \
        --sort comm,dso,sym --stdio 2>/dev/null \
        | awk '
            /^#/ || NF < 4 { next }
            {
                share = $1; sub("%", "", share); comm = $2
                if (/secp256k1/) what = "sender recovery (secp256k1)"
                else if (comm == "lanes-scheduler") what = "the scheduler thread"
                else if (comm ~ /^lanes-worker/ || comm ~ /^lanes-[0-9]/) what = "the workers"
                else if (/Keccak|KECCAK/) what = "keccak on the RPC threads"
                else if (/\[k\]/) what = "the kernel under the RPC threads"
                else if (/mi_|malloc|memmove|memset|memcpy/) what = "allocator and copies on the RPC threads"
                else if (/serde|jsonrpsee|hyper|http|tower|tokio|futures/) what = "JSON-RPC, HTTP, async runtime"
                else what = "the rest of the node (" comm ")"
                total[what] += share
            }
            END { for (w in total) printf "%.1f%%  %s\n", total[w], w }'
    echo "$(share --pid "$loadgen_pid")%  lanes-loadgen"
    echo "$(share --comm swapper)%  idle"
} | sort -rn | awk '$1 + 0 >= 0.3'
