#!/usr/bin/env bash
# Wallet traffic against declared traffic: runs each lanes-loadgen workload
# against a fresh lanes-validator over loopback twice, with the same
# transactions — first each with its exact EIP-2930 access list, then with
# none (as wallets send them) — and, unless NO_ANVIL=1, the access-list-free
# run against anvil 1.7.1 with interval mining and lanes' block gas limit.
# Prints one row per workload: included tx/s of each run, the ratios
# (none / exact, lanes none / anvil none) and where lanes' sets came from.
#
#   scripts/wallet-traffic.sh [WORKLOAD...]      (default: transfer erc20 amm mixed counter)
#
# TXS (default 20000), ACCOUNTS (default 2000), POOLS (amm and mixed: 10),
# PACING (default: --closed-loop 8000), LANES_ARGS (validator flags),
# RUNS (default 1: runs per workload, interleaved; the table gives medians),
# BIN (a folder holding lanes-validator and lanes-loadgen, e.g. another
# commit's release build copied aside; default: build this tree's into
# target/release).
set -euo pipefail
cd "$(dirname "$0")/.."

workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(transfer erc20 amm mixed counter)
txs=${TXS:-20000}
accounts=${ACCOUNTS:-2000}
pools=${POOLS:-10}
runs=${RUNS:-1}
read -r -a pacing <<< "${PACING:---closed-loop 8000}"
read -r -a lanes_args <<< "${LANES_ARGS:-}"
port=${LANES_PORT:-18545}
anvil_port=${ANVIL_PORT:-18546}
source scripts/lib.sh
[ "${NO_ANVIL:-0}" = 1 ] || install_anvil

bin=${BIN:-target/release}
[ -n "${BIN:-}" ] || cargo build --release --bins >&2

# One run of workload $1 with access lists $2 against a fresh node of kind
# $3 (lanes or anvil); the report's JSON goes to $4.
run_one() {
    local w=$1 lists=$2 kind=$3 out=$4
    local flags=(--workload "$w" --txs "$txs" --accounts "$accounts" --pools "$pools")
    rm -rf "$tmp/data"
    if [ "$kind" = lanes ]; then
        "$bin/lanes-loadgen" genesis "${flags[@]}" --out "$tmp/genesis.json" > /dev/null
        "$bin/lanes-validator" --genesis "$tmp/genesis.json" --data-dir "$tmp/data" \
            --rpc-addr "127.0.0.1:$port" "${lanes_args[@]}" > "$tmp/node.log" 2>&1 &
        node_pid=$!
        wait_for "$port"
        url="http://127.0.0.1:$port"
    else
        local gas
        gas=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["gasLimit"]; print(int(g, 0) if isinstance(g, str) else int(g))' "$tmp/genesis.json")
        "$anvil" --port "$anvil_port" --silent --block-time 1 --gas-limit "$gas" > "$tmp/node.log" 2>&1 &
        node_pid=$!
        wait_for "$anvil_port"
        url="http://127.0.0.1:$anvil_port"
    fi
    "$bin/lanes-loadgen" run "${flags[@]}" --access-list "$lists" "${pacing[@]}" \
        --rpc "$url" --json > "$out"
    stop_node
}

for w in "${workloads[@]}"; do
    for r in $(seq 1 "$runs"); do
        run_one "$w" exact lanes "$tmp/$w.exact.$r.json"
        run_one "$w" none lanes "$tmp/$w.none.$r.json"
        if [ "${NO_ANVIL:-0}" != 1 ]; then
            run_one "$w" none anvil "$tmp/$w.anvil.$r.json"
        fi
    done
done

python3 - "$tmp" "$runs" "${workloads[@]}" <<'PY'
import json, statistics, sys, os
tmp, runs, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def load(w, kind, r):
    path = f"{tmp}/{w}.{kind}.{r}.json"
    if not os.path.exists(path):
        return None
    data = json.load(open(path))
    return data[0] if isinstance(data, list) else data
print(f"{'workload':9} {'exact tx/s':>11} {'none tx/s':>10} {'none/exact':>10} {'anvil tx/s':>11} {'none/anvil':>10} "
      f"{'declared':>8} {'known':>7} {'predicted':>9} {'exclusive':>9} {'mispred':>8} {'mispred%':>8} {'all in':>6}")
for w in workloads:
    rows = [(load(w, "exact", r), load(w, "none", r), load(w, "anvil", r)) for r in range(1, runs + 1)]
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    exact = med([e["includedPerSecond"] for e, _, _ in rows])
    none = med([n["includedPerSecond"] for _, n, _ in rows])
    anvil = med([a["includedPerSecond"] for _, _, a in rows if a])
    ratio = med([n["includedPerSecond"] / e["includedPerSecond"] for e, n, _ in rows])
    over = med([n["includedPerSecond"] / a["includedPerSecond"] for _, n, a in rows if a])
    sets = rows[-1][1].get("sets") or {}
    included = rows[-1][1]["included"]
    mis = sets.get("mispredicted", 0)
    all_in = all(n["included"] == n["txs"] and e["included"] == e["txs"] for e, n, _ in rows)
    if runs > 1:
        runs_text = ", ".join(f"{e['includedPerSecond']:.0f}/{n['includedPerSecond']:.0f}" for e, n, _ in rows)
        print(f"  {w} runs (exact/none tx/s): {runs_text}", file=sys.stderr)
    print(f"{w:9} {exact:11.0f} {none:10.0f} {ratio:10.2f} {anvil:11.0f} {over:10.2f} "
          f"{sets.get('declared', 0):8} {sets.get('known', 0):7} {sets.get('predicted', 0):9} "
          f"{sets.get('exclusive', 0):9} {mis:8} {100 * mis / max(included, 1):7.2f}% {'yes' if all_in else 'NO':>6}")
PY
