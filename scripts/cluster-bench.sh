#!/usr/bin/env bash
# What one lanes node does alone against what a 4-validator chain does that
# agrees on every block through Malachite consensus: the same lanes-loadgen
# workload, from the same loadgen genesis, with the same pacing, first
# against a single node mining on a 1 s interval (--block-time 1s), then
# against validator-0 of a 4-validator loopback testnet (`lanes-validator
# testnet --genesis`, a block per ~1 s). Prints included tx/s and the
# send-to-inclusion latency (single node) or send-to-decided latency
# (cluster: a node serves a block's receipts only once it is decided), p50
# and p99, as lanes-loadgen reports them, and checks that the four
# validators report the same block hash at a common height.
#
#   scripts/cluster-bench.sh [WORKLOAD FLAGS...]
#
# WORKLOAD FLAGS go to both `lanes-loadgen genesis` and `lanes-loadgen run`
# (default: --workload transfer --txs 20000 --accounts 2000). PACING sets the
# pacing of both runs (default: --closed-loop 4000). SINGLE_PORT is the single
# node's JSON-RPC port (default 18545); BASE_PORT the testnet's base port
# (default 26600: validator i serves JSON-RPC on BASE_PORT+2i and
# peer-to-peer on BASE_PORT+2i+1). RUN_TIMEOUT bounds each loadgen run
# (default 600 s), START_TIMEOUT each wait for nodes (default 60 s).
# SINGLE=0 skips the single node (the cluster's figures only); BIN_DIR runs
# the lanes-validator and lanes-loadgen found there instead of building
# target/release (an older build, for a before/after figure).
#
# TESTNET_ARGS adds `lanes-validator testnet` flags (e.g. --block-gather
# 150ms). KEEP_LOGS=DIR copies the nodes' logs there before they are removed.
#
# After the table it prints where a height's time went on the validators
# (medians over every decided height of all four, from their logs): the
# proposal ready (proposer: waiting for a transaction, building; the others:
# the proposer's time and transfer, then verifying), the votes until the
# decision, and committing.
#
# Read the 4-validator figure with care on a small machine: on a 2-core
# machine the four validators (the single node is stopped by then) and the
# loadgen share those 2 cores, and every validator recovers the sender of
# every transaction (the proposer when it builds, the others when they
# re-execute the proposal to verify it before voting), so the 4-validator
# figure is bounded by CPU, not by consensus. The ratio says what four
# processes on shared cores cost, not what consensus costs on four machines.
set -euo pipefail
cd "$(dirname "$0")/.."

workload=("$@")
[ ${#workload[@]} -gt 0 ] || workload=(--workload transfer --txs 20000 --accounts 2000)
read -r -a pacing <<< "${PACING:---closed-loop 4000}"
single_port=${SINGLE_PORT:-18545}
base_port=${BASE_PORT:-26600}
run_timeout=${RUN_TIMEOUT:-600}
start_timeout=${START_TIMEOUT:-60}
validators=4
single=${SINGLE:-1}
bin=${BIN_DIR:-target/release}

source scripts/lib.sh
need curl jq

# On any exit: on failure, the tail of every log; then every node stopped
# (SIGTERM, SIGKILL after 15 s) before lib.sh's cleanup removes $tmp.
started=()
stop_all() {
    local pid
    for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 150); do
        local alive=0
        for pid in "${started[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
    started=()
}
on_exit() {
    local status=$1
    if [ "$status" != 0 ]; then
        echo "cluster-bench: failed (status $status); logs:" >&2
        local log
        for log in "$tmp"/*.log; do
            [ -f "$log" ] || continue
            echo "==== ${log#"$tmp"/} (last 40 lines) ====" >&2
            tail -n 40 "$log" >&2
        done
    fi
    stop_all
    if [ -n "${KEEP_LOGS:-}" ]; then
        mkdir -p "$KEEP_LOGS" && cp "$tmp"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
    fi
    cleanup
}
trap 'on_exit $?' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
    echo "cluster-bench: $*" >&2
    exit 1
}

# Starts a node with the arguments given, its output in $tmp/$1.log.
start() {
    local name=$1
    shift
    "$bin/lanes-validator" "$@" > "$tmp/$name.log" 2>&1 &
    started+=($!)
}

# The head block number of the node on port $1, in decimal (fails if it
# does not answer).
head_of() {
    local hex
    hex=$(rpc "$1" eth_blockNumber | jq -r .) || return 1
    [[ $hex == 0x* ]] || return 1
    echo $((16#${hex#0x}))
}

# Waits until the node on port $1 answers eth_blockNumber with a block
# number of at least $2.
wait_head() {
    local port=$1 least=$2 deadline=$((SECONDS + start_timeout)) h
    while [ $SECONDS -lt $deadline ]; do
        for pid in "${started[@]}"; do
            kill -0 "$pid" 2>/dev/null || fail "node $pid exited while waiting for port $port"
        done
        if h=$(head_of "$port" 2>/dev/null) && [ "$h" -ge "$least" ]; then return 0; fi
        sleep 0.5
    done
    fail "the node on port $port did not reach block $least within ${start_timeout}s (head: ${h:-no answer})"
}

# Fails if something listens on 127.0.0.1:$1 already.
port_free() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
        fail "port $1 is taken (set SINGLE_PORT / BASE_PORT)"
    fi
}

# Runs the workload against the node on port $1 and writes its --json
# report to $2 (progress in $2's .log).
loadgen() {
    local port=$1 out=$2
    if ! timeout "$run_timeout" "$bin/lanes-loadgen" run "${workload[@]}" "${pacing[@]}" \
        --rpc "http://127.0.0.1:$port" --json > "$out" 2> "${out%.json}.log"; then
        fail "lanes-loadgen run against port $port failed or ran past ${run_timeout}s"
    fi
    local included submitted
    included=$(jq -r .included "$out")
    submitted=$(jq -r .submitted "$out")
    [ "$included" -gt 0 ] || fail "no transaction of $submitted sent was included (port $port): $(jq -c '{accepted, rejected, rejectedByReason, notIncluded}' "$out")"
    if [ "$(jq -r .notIncluded "$out")" != 0 ] || [ "$(jq -r .rejected "$out")" != 0 ]; then
        echo "cluster-bench: port $port: $(jq -c '{submitted, included, rejected, notIncluded, rejectedByReason}' "$out")" >&2
    fi
}

[ -n "${BIN_DIR:-}" ] || cargo build --release --bins >&2

port_free "$single_port"
for i in $(seq 0 $((2 * validators - 1))); do port_free $((base_port + i)); done

"$bin/lanes-loadgen" genesis "${workload[@]}" --out "$tmp/genesis.json" 2> "$tmp/genesis.log"

# (1) One node, interval mining every second.
if [ "$single" != 0 ]; then
    echo "cluster-bench: single node on port $single_port" >&2
    start single --genesis "$tmp/genesis.json" --data-dir "$tmp/single" \
        --rpc-addr "127.0.0.1:$single_port" --block-time 1s
    wait_head "$single_port" 0
    loadgen "$single_port" "$tmp/loadgen-single.json"
    stop_all
fi

# (2) Four validators from the same genesis.
echo "cluster-bench: $validators validators from port $base_port" >&2
"$bin/lanes-validator" testnet --validators "$validators" --replicas 0 \
    --out "$tmp/testnet" --base-port "$base_port" --block-time 1s \
    --genesis "$tmp/genesis.json" ${TESTNET_ARGS:-} > "$tmp/testnet.log" 2>&1
names=()
ports=()
while IFS=$'\t' read -r name config url; do
    start "$name" --config "$tmp/testnet/$config"
    names+=("$name")
    ports+=("${url##*:}")
done < <(jq -r '.nodes[] | [.name, .config, .rpc] | @tsv' "$tmp/testnet/nodes.json")
[ ${#names[@]} = "$validators" ] || fail "nodes.json lists ${#names[@]} nodes, not $validators"
for port in "${ports[@]}"; do wait_head "$port" 2; done
loadgen "${ports[0]}" "$tmp/loadgen-cluster.json"

# Every validator reports the same block at the lowest head.
heads=()
for port in "${ports[@]}"; do
    h=$(head_of "$port") || fail "the node on port $port no longer answers"
    heads+=("$h")
done
low=$(printf '%s\n' "${heads[@]}" | sort -n | head -1)
hashes=()
for port in "${ports[@]}"; do
    hashes+=("$(rpc "$port" eth_getBlockByNumber "[\"$(printf '0x%x' "$low")\",false]" | jq -r .hash)")
done
for i in "${!ports[@]}"; do
    echo "cluster-bench: ${names[$i]} head ${heads[$i]}, block $low ${hashes[$i]}" >&2
done
[ "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" = 1 ] && [ "${hashes[0]}" != null ] \
    || fail "the validators disagree on block $low: ${hashes[*]}"
stop_all

# Where a height's time went: medians of the fields each validator logs as
# it commits a decided height (none from a build that does not log them).
median_of() {
    grep -ho "decided and committed.*" "${names[@]/#/$tmp/}" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' \
        | grep -o " $1=[0-9]*" | cut -d= -f2 | sort -n \
        | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)], NR }'
}
breakdown() {
    local f m out=""
    for f in decided proposal wait build verify votes commit txs; do
        local key=${f}_ms
        [ "$f" = txs ] && key=txs
        m=$(median_of "$key")
        [ -n "$m" ] || return 0
        out+=" $f ${m% *}"
        count=${m#* }
    done
    echo "cluster-bench: per height, median of $count (height x validator) ms:$out"
}
names=("${names[@]/%/.log}")

# The table, and the summary (its p50 and p99 are the 4 validators').
field() { jq -r "$2" "$tmp/loadgen-$1.json"; }
row() { printf '%-14s | %13.0f | %14.0f | %14.0f\n' "$1" "$(field "$2" .includedPerSecond)" \
    "$(field "$2" .latencyMs.p50)" "$(field "$2" .latencyMs.p99)"; }
echo
echo "workload: ${workload[*]}; pacing: ${pacing[*]}"
printf '%-14s | %13s | %14s | %14s\n' setup "included tx/s" "latency p50 ms" "latency p99 ms"
[ "$single" = 0 ] || row "single node" single
row "$validators validators" cluster
y=$(field cluster .includedPerSecond)
if [ "$single" = 0 ]; then
    printf 'cluster-bench: %d validators %.0f tx/s, p50 %.0f ms, p99 %.0f ms\n' \
        "$validators" "$y" "$(field cluster .latencyMs.p50)" "$(field cluster .latencyMs.p99)"
else
    x=$(field single .includedPerSecond)
    printf 'cluster-bench: single %.0f tx/s, %d validators %.0f tx/s (ratio %.2f), p50 %.0f ms, p99 %.0f ms\n' \
        "$x" "$validators" "$y" "$(jq -n "$y / $x")" \
        "$(field cluster .latencyMs.p50)" "$(field cluster .latencyMs.p99)"
fi
breakdown
