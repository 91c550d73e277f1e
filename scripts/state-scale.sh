#!/usr/bin/env bash
# The accounts database at a size (issue 61's table): for each size, fills
# a database (accounts_db/examples/scale.rs: 1 account : 4 storage slots,
# random keys, commits of 10,000 changes, a reader beside them), then opens
# it after a clean stop and after a kill -9 during commits, reading with the
# page cache dropped first (as root; otherwise warm, and it says so).
# Prints one markdown row per size: fill rate, slowest commit, a reader's
# worst wait (with how much of it went waiting for a core, the longest a
# read was blocked, asleep, and the longest one lost time without being
# switched out: the host's steal of the virtual CPU, or interrupts), commits/s at the end (1,000 changes each), index and
# disk bytes per key, open times (and the log replayed after the index
# checkpoint), resident memory (anonymous / file-backed) and point reads
# after the opens, cold and hot. Then, for sizes up to DEAD_MAX_KEYS
# (default 10,000,000: it doubles the disk), a second table: every key
# overwritten once and the database left to compact in the background
# under the default config, commits and a reader going on.
# Usage: scripts/state-scale.sh [KEYS ...] (default 1000000 10000000);
# STATE_SCALE_DIR (default target/state-scale) holds the databases: about
# 130 bytes a key of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
root="${STATE_SCALE_DIR:-target/state-scale}"
cargo build --release --quiet --example scale -p lanes-accounts-db
bin=target/release/examples/scale
drop_caches() {
    sync
    if echo 3 > /proc/sys/vm/drop_caches 2> /dev/null; then echo "cold"; else echo "warm"; fi
}
field() { grep "^$1:" | head -1 | cut -d' ' -f2-; }
echo "| keys | fill keys/s | slowest commit ms | reader worst wait ms (of it waiting for a core; longest blocked; longest stolen) | commits/s at the end | index B/key | disk B/key | open s (clean / kill -9) | replayed MiB (clean / kill -9) | RSS anon / file GiB after open | reads µs p50/p99/p999 after open | hot reads µs p50/p99/p999 |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
dead_rows=()
for keys in "${sizes[@]}"; do
    dir="$root/db-$keys"
    rm -rf "$dir"
    # The removal's blocks are freed (and, on a disk mounted with
    # `discard`, trimmed) when the journal commits: let that happen here,
    # not in the fill's first syncs.
    sync
    fill=$("$bin" fill "$dir" "$keys")
    disk=$(du -sb --exclude="index.ckpt*" "$dir" | cut -f1)
    cache=$(drop_caches)
    clean=$("$bin" open "$dir" "$keys")
    "$bin" update "$dir" "$keys" 2> /dev/null & pid=$!
    sleep 5
    kill -9 "$pid"; wait "$pid" 2> /dev/null || true
    drop_caches > /dev/null
    killed=$("$bin" open "$dir" "$keys")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s | %s (%s) | %s |\n' \
        "$keys" "$(echo "$fill" | field fill_keys_per_s)" "$(echo "$fill" | field slowest_commit_ms)" \
        "$(echo "$fill" | field reader_worst_wait_ms) ($(echo "$fill" | field reader_worst_wait_queued_ms); $(echo "$fill" | field reader_worst_blocked_ms); $(echo "$fill" | field reader_worst_stolen_ms))" \
        "$(echo "$fill" | field commits_per_s_1000_changes)" \
        "$(echo "$fill" | field index_bytes_per_key)" \
        "$((disk / keys))" "$(echo "$clean" | field open_s)" "$(echo "$killed" | field open_s)" \
        "$(echo "$clean" | field replayed_mib)" "$(echo "$killed" | field replayed_mib)" \
        "$(echo "$clean" | field rss_anon_gib)" "$(echo "$clean" | field rss_file_gib)" \
        "$(echo "$clean" | field read_us_p50_p99_p999)" "$cache" "$(echo "$clean" | field hot_read_us_p50_p99_p999)"
    if [ "$keys" -le "${DEAD_MAX_KEYS:-10000000}" ]; then
        dead=$("$bin" dead "$dir" "$keys")
        dead_rows+=("$(printf '| %s | %s | %s%% | %s | %s%% | %s | %s | %s |' "$keys" \
            "$(echo "$dead" | field dead_disk_before_gib)" "$(echo "$dead" | field dead_live_before_pct)" \
            "$(echo "$dead" | field dead_disk_after_gib)" "$(echo "$dead" | field dead_reclaimed_pct)" \
            "$(echo "$dead" | field dead_compaction_s)" "$(echo "$dead" | field dead_slowest_commit_ms)" \
            "$(echo "$dead" | field dead_reader_worst_wait_ms) ($(echo "$dead" | field dead_reader_worst_wait_queued_ms); $(echo "$dead" | field dead_reader_worst_blocked_ms); $(echo "$dead" | field dead_reader_worst_stolen_ms))")")
    fi
    rm -rf "$dir"
done
if [ ${#dead_rows[@]} -gt 0 ]; then
    echo
    echo "| keys | disk GiB, every key overwritten | live | disk GiB after background compaction | reclaimed | took s | slowest commit ms meanwhile | reader worst wait ms (waiting for a core; longest blocked; longest stolen) |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${dead_rows[@]}"
fi
