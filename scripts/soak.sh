#!/usr/bin/env bash
# Soak: a lanes-validator under the mixed lanes-loadgen workload for
# SOAK_SECONDS, killed with SIGKILL at random moments every KILL_MIN to
# KILL_MAX seconds and restarted on the same data folder and port, while
# `lanes-loadgen soak` rides through the restarts (it waits for the node,
# re-reads each sender's nonce, resends what the node lost) and appends every
# receipt eth_getTransactionReceipt served to a file. Afterwards:
#
#   1. the node is killed once more and started again (--no-mining), and
#      every acknowledged receipt must be there in the same block (number and
#      hash): `lanes-loadgen verify-receipts`;
#   2. a copy of the data folder without its state (chain/) is started: the
#      node rebuilds the state from the genesis by replaying the whole ledger,
#      checking each block's state commitment, and must reach the same head
#      (number, hash, stateRoot — the state commitment) as the node;
#   3. resident memory (VmRSS from /proc/PID/status, every 2 s) of each node
#      lifetime and of the load generator: first, early (10 s in), max and
#      last are printed (with the last RssAnon: most of a node's RSS is its
#      mapped files); the check fails if the last node lifetime of at least
#      20 s, or the load generator, ends above RSS_FACTOR (default 2) times its
#      early level.
#
# A node that does not start again on its folder fails the soak at once, all
# acknowledged receipts counted lost. On a failure the logs, receipts, RSS
# samples and the data folder are kept in target/soak-<time>.
#
# The setup (contracts, funding) is pre-applied into a genesis
# (`lanes-loadgen genesis`): done once, and no kill can interrupt it.
#
#   SOAK_SECONDS=600 scripts/soak.sh
#
# RATE (tx/s, default 200), ACCOUNTS (default 500), POOLS (default 8),
# KILL_MIN / KILL_MAX (seconds, default 20 / 60), RSS_FACTOR (default 2),
# LANES_ARGS (more validator flags), SOAK_KEEP (a folder to copy the logs,
# receipts and RSS samples to). Last line:
#   soak: R restarts, N acknowledged, L lost
# Exits non-zero if L > 0, the replay disagrees, the loadgen failed or the
# RSS check fails. Needs curl, jq and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

soak_seconds=${SOAK_SECONDS:-600}
rate=${RATE:-200}
accounts=${ACCOUNTS:-500}
pools=${POOLS:-8}
kill_min=${KILL_MIN:-20}
kill_max=${KILL_MAX:-60}
rss_factor=${RSS_FACTOR:-2}
read -r -a lanes_args <<< "${LANES_ARGS:-}"
source scripts/lib.sh
need curl jq python3

cargo build --release --bin lanes-validator --bin lanes-loadgen >&2
validator=target/release/lanes-validator
loadgen=target/release/lanes-loadgen
port=$(free_port)
url="http://127.0.0.1:$port"
data="$tmp/data"
receipts="$tmp/receipts.jsonl"
rss="$tmp/rss.txt"
: > "$rss"
t0=$(date +%s)

# The head's number on port $1, in decimal ("?" when it does not answer).
block_number() {
    local n
    n=$(rpc "$1" eth_blockNumber) || { echo '?'; return; }
    n=${n//\"/}
    echo $((n))
}

say() { echo "soak: $(date -u +%H:%M:%S) +$(($(date +%s) - t0))s $*"; }

# Samples VmRSS and RssAnon (kB) of pid $1 (labelled $2) every 2 s while it
# lives: "label pid unix_seconds vmrss rssanon" lines in $rss.
sample_rss() {
    local pid=$1 label=$2 line
    while line=$(awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {print r, a}' \
        "/proc/$pid/status" 2> /dev/null) && [ -n "$line" ] && [ "$line" != " " ]; do
        echo "$label $pid $(date +%s) $line" >> "$rss"
        sleep 2
    done
}

# SIGKILL to pid $1, and waits for it (quietly: no "Killed" notice).
kill9() {
    { kill -9 "$1" && wait "$1"; } 2> /dev/null || true
}

# Waits until something listens on 127.0.0.1:$1 while pid $2 lives ($3
# seconds at most); status 1 if it exits or the time is up.
wait_up() {
    local deadline=$(($(date +%s) + $3))
    while ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; do
        kill -0 "$2" 2> /dev/null && (($(date +%s) < deadline)) || return 1
        sleep 0.1
    done
}

# Copies the logs, receipts and RSS samples (and with "data", the data
# folders) to $SOAK_KEEP, or to target/soak-<time> when something failed.
keep() {
    local to=${SOAK_KEEP:-target/soak-$(date -u +%Y%m%dT%H%M%S)}
    mkdir -p "$to"
    cp "$tmp"/*.log "$tmp"/*.json "$tmp"/*.jsonl "$rss" "$to"/ 2> /dev/null || true
    if [ "${1:-}" = data ]; then cp -a "$data" "$to"/ 2> /dev/null || true; fi
    say "logs, receipts and RSS samples kept in $to"
}

# Distinct transactions in the receipts file.
acknowledged() {
    { jq -r .hash "$receipts" 2> /dev/null || true; } | sort -u | wc -l
}

# A node that does not start again: nothing acknowledged can be checked, so
# it all counts as lost.
node_did_not_start() {
    say "FAIL: the node (pid $1) did not start on its data folder; its log ends:"
    tail -20 "$tmp/node-$port.log" | sed 's/^/  node: /'
    kill "$loadgen_pid" 2> /dev/null || true
    keep data
    local n
    n=$(acknowledged)
    echo "soak: $restarts restarts, $n acknowledged, $n lost"
    exit 1
}

# Starts a node on data folder $1 and port $2 with more flags after; its pid
# in $started.
start_node() {
    local dir=$1 p=$2
    shift 2
    "$validator" --data-dir "$dir" --rpc-addr "127.0.0.1:$p" "$@" >> "$tmp/node-$p.log" 2>&1 &
    started=$!
}

"$loadgen" genesis --workload mixed --accounts "$accounts" --pools "$pools" \
    --out "$tmp/genesis.json" 2> /dev/null
restarts=0
loadgen_pid=
node_flags=(--genesis "$tmp/genesis.json" "${lanes_args[@]}")
start_node "$data" "$port" "${node_flags[@]}"
node_pid=$started
wait_up "$port" "$node_pid" 60 || node_did_not_start "$node_pid"
sample_rss "$node_pid" node &
pids+=($!)
say "node up (pid $node_pid) on $url; mixed workload, $accounts accounts, $rate tx/s for ${soak_seconds}s"

"$loadgen" soak --workload mixed --accounts "$accounts" --pools "$pools" --rpc "$url" \
    --rate "$rate" --receipts-out "$receipts" --json > "$tmp/soak.json" 2> "$tmp/loadgen.log" &
loadgen_pid=$!
pids+=("$loadgen_pid")
sample_rss "$loadgen_pid" loadgen &
pids+=($!)

loadgen_alive() {
    kill -0 "$loadgen_pid" 2> /dev/null && return 0
    say "FAIL: the load generator exited early; its log ends:"
    tail -20 "$tmp/loadgen.log" | sed 's/^/  loadgen: /'
    return 1
}

end=$((t0 + soak_seconds))
while :; do
    delay_ms=$((kill_min * 1000 + ((RANDOM << 15) | RANDOM) % ((kill_max - kill_min) * 1000 + 1)))
    if (($(date +%s) * 1000 + delay_ms >= end * 1000)); then
        break
    fi
    sleep "$((delay_ms / 1000)).$(printf %03d $((delay_ms % 1000)))"
    loadgen_alive || break
    head=$(block_number "$port")
    kill9 "$node_pid"
    say "kill -9 node (pid $node_pid) near head $head ($(wc -l < "$receipts") receipts acknowledged so far)"
    # Back at once, or after up to 2 s (the load generator then meets a
    # refused connection rather than a reopened one).
    sleep "$((RANDOM % 3)).$(printf %03d $((RANDOM % 1000)))"
    start_node "$data" "$port" "${node_flags[@]}"
    node_pid=$started
    restarts=$((restarts + 1))
    wait_up "$port" "$node_pid" 300 || node_did_not_start "$node_pid"
    sample_rss "$node_pid" node &
    pids+=($!)
    say "restart $restarts: node up again (pid $node_pid) at head $(block_number "$port")"
done
loadgen_rc=0
if loadgen_alive; then
    sleep $((end - $(date +%s) > 0 ? end - $(date +%s) : 0))
fi
if kill -0 "$loadgen_pid" 2> /dev/null; then
    say "time is up: stopping the load generator"
    kill -TERM "$loadgen_pid"
fi
wait "$loadgen_pid" || loadgen_rc=$?
grep '^soak:' "$tmp/loadgen.log" | tail -3 | sed 's/^/  loadgen: /'
jq -c '{sent, resent, acknowledged, failed, refused, refusedByReason, reconnects, downSeconds,
        resyncs, nonceRegressions, unreceipted, callErrors, unacknowledged, acknowledgedPerSecond,
        error}' \
    "$tmp/soak.json" | sed 's/^/  loadgen report: /' || loadgen_rc=1

# A last unclean stop, then the node again on its folder, and a copy without
# the state, rebuilt by replaying the ledger from the genesis. Neither mines.
kill9 "$node_pid"
say "kill -9 node (pid $node_pid); copying the data folder and removing the copy's state"
cp -a "$data" "$tmp/replay"
rm -rf "$tmp/replay/chain"
start_node "$data" "$port" --no-mining
node_pid=$started
replay_port=$(free_port)
replay_started=$(date +%s)
start_node "$tmp/replay" "$replay_port" --no-mining
replay_pid=$started
pids+=("$replay_pid")
wait_up "$port" "$node_pid" 300 || node_did_not_start "$node_pid"
replay_ok=1
if wait_up "$replay_port" "$replay_pid" 1800; then
    replayed=$(grep -c 'replaying a block' "$tmp/node-$replay_port.log" || true)
    say "replay node up on port $replay_port: $replayed blocks replayed from the genesis in $(($(date +%s) - replay_started))s"
else
    replay_ok=0
    say "FAIL: the replay from the genesis did not come up; its log ends:"
    tail -20 "$tmp/node-$replay_port.log" | sed 's/^/  replay: /'
fi

"$loadgen" verify-receipts --receipts "$receipts" --rpc "$url" --json > "$tmp/verify.json" || true
verified=("$tmp/verify.json")
if [ "$replay_ok" = 1 ]; then
    "$loadgen" verify-receipts --receipts "$receipts" --rpc "http://127.0.0.1:$replay_port" \
        --json > "$tmp/verify-replay.json" || true
    verified+=("$tmp/verify-replay.json")
fi
acknowledged=$(acknowledged)
# Lost: the most any node lost; a check that gave no answer loses them all.
lost=$(jq -s --argjson n "$acknowledged" 'if length == 0 then $n else map(.lost) | max end' \
    "${verified[@]}" 2> /dev/null || echo "$acknowledged")
for f in "${verified[@]}"; do
    [ -s "$f" ] || { say "FAIL: verify-receipts gave no answer ($(basename "$f"))"; lost=$acknowledged; }
done
say "receipts: $(jq -c '{acknowledged, blocks, highestBlock, gone, moved, unreadableLines}' "$tmp/verify.json" 2> /dev/null || echo 'verify-receipts failed')"
if [ "$lost" != 0 ]; then
    jq -c '.examples[]' "${verified[@]}" 2> /dev/null | head -20 | sed 's/^/  lost: /' || true
fi

if [ "$replay_ok" = 1 ]; then
    head_of() { rpc "$1" eth_getBlockByNumber '["latest", false]' | jq -c '{number, hash, stateRoot}'; }
    node_head=$(head_of "$port" || true)
    replay_head=$(head_of "$replay_port" || true)
    say "node head:   $node_head"
    say "replay head: $replay_head"
    [ -n "$node_head" ] && [ "$node_head" = "$replay_head" ] && [ "$replayed" -gt 0 ] || replay_ok=0
fi

# Resident memory per lifetime, and the growth check.
rss_ok=1
python3 - "$rss" "$loadgen_pid" "$rss_factor" <<'PY' || rss_ok=0
import sys
from collections import OrderedDict
path, loadgen, factor = sys.argv[1], sys.argv[2], float(sys.argv[3])
lives = OrderedDict()
for line in open(path):
    label, pid, t, rss, anon = (line.split() + ["0"])[:5]
    lives.setdefault((label, pid), []).append((int(t), int(rss), int(anon or 0)))
mb = lambda kb: kb / 1024
def early(s):
    return next((r for t, r, _ in s if t - s[0][0] >= 10), s[-1][1])
print(f"  {'process':8} {'pid':>8} {'secs':>5} {'first MB':>9} {'early MB':>9} {'max MB':>8} {'last MB':>8} {'anon last MB':>12}")
for (label, pid), s in lives.items():
    rss = [r for _, r, _ in s]
    print(f"  {label:8} {pid:>8} {s[-1][0] - s[0][0]:5} {mb(rss[0]):9.1f} {mb(early(s)):9.1f} {mb(max(rss)):8.1f} {mb(rss[-1]):8.1f} {mb(s[-1][2]):12.1f}")
nodes = [(k, s) for k, s in lives.items() if k[0] == "node"]
allrss = [r for _, s in nodes for _, r, _ in s]
if allrss:
    print(f"  node overall: first {mb(allrss[0]):.1f} MB, max {mb(max(allrss)):.1f} MB, last {mb(allrss[-1]):.1f} MB over {len(nodes)} lifetimes")
ok = True
long_lives = [(k, s) for k, s in nodes if s[-1][0] - s[0][0] >= 20]
checks = long_lives[-1:] + [(k, s) for k, s in lives.items() if k == ("loadgen", loadgen)]
for (label, pid), s in checks:
    limit = factor * early(s)
    verdict = "ok" if s[-1][1] <= limit else "GREW"
    ok &= verdict == "ok"
    print(f"  rss check {label} pid {pid}: last {mb(s[-1][1]):.1f} MB vs {factor} x early {mb(early(s)):.1f} MB: {verdict}")
sys.exit(0 if ok else 1)
PY

status=0
if [ "$loadgen_rc" != 0 ]; then say "FAIL: the load generator exited with $loadgen_rc"; status=1; fi
if [ "$lost" != 0 ]; then say "FAIL: acknowledged receipts lost"; status=1; fi
if [ "$replay_ok" != 1 ]; then say "FAIL: the replay from the genesis does not reach the node's head"; status=1; fi
if [ "$rss_ok" != 1 ]; then say "FAIL: resident memory grew past $rss_factor x its early level"; status=1; fi
if [ "$status" != 0 ]; then
    keep data
elif [ -n "${SOAK_KEEP:-}" ]; then
    keep
fi
echo "soak: $restarts restarts, $acknowledged acknowledged, $lost lost"
exit "$status"
