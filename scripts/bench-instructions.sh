#!/usr/bin/env bash
# Instructions per transaction of the execution bench's two timed paths, lanes'
# batch path (`lanes_batches`) and sequential revm (`revm_sequential`), counted
# by callgrind: a measure that does not move with the host's load or with where
# a process's pages land, so a change to either path can be judged on its own
# (timed ratios on a shared 2-core VM move by several percent between runs).
# Instructions are not time: cache misses count for nothing here.
#
#   scripts/bench-instructions.sh [transfers|erc20] [transactions]
#
# Needs valgrind. Defaults: erc20, 2000 transactions, two rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

workload="${1:-erc20}"
txs="${2:-2000}"
case "$workload" in
transfers | erc20) ;;
*)
    echo "unknown workload '$workload' (transfers or erc20)" >&2
    exit 2
    ;;
esac
command -v valgrind >/dev/null || {
    echo "valgrind is not installed" >&2
    exit 1
}

bin=$(cargo bench --bench execution --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.target.name == "execution" and .executable != null) | .executable' | tail -1)
[ -x "$bin" ] || {
    echo "could not build the execution bench" >&2
    exit 1
}

rounds=2
# The bench's profile mode runs one path `rounds` times; only the timed function
# is counted. Forked children (the bench may start solc) report 0: take the max.
count() {
    env "$@" LANES_BENCH_TXS="$txs" LANES_PROFILE_ONLY="$workload" LANES_PROFILE_ROUNDS="$rounds" \
        valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect="$toggle" \
        "$bin" --bench 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d , | sort -n | tail -1
}
toggle='execution::lanes_batches'
lanes=$(count)
toggle='execution::common::revm_sequential'
revm=$(count LANES_PROFILE_REVM=1)
per() { echo $(($1 / (txs * rounds))); }
echo "$workload, $txs transactions x $rounds rounds: lanes $(per "$lanes") instructions/tx, revm $(per "$revm") instructions/tx, ratio $(awk -v a="$lanes" -v b="$revm" 'BEGIN { printf "%.3f", a / b }')"
