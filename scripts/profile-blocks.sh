#!/usr/bin/env bash
# Where lanes' time per transaction goes beside revm's, on real mainnet
# blocks: `lanes-validator execute-block` run under `perf record` (software
# clock, DWARF call stacks) on blocks of ../shared/fixtures/mainnet-blocks,
# then every sample sorted by side (lanes run in order, lanes from the
# block's access list, plain revm, the rest: loading, checks) and, within a
# side, by the mechanism it was in: the first frame from the leaf up that
# names one (an allocation or a copy counts for whoever called it).
#
# Usage: scripts/profile-blocks.sh [WORKERS] [RUNS]   (default 1 worker, 20 runs)
#   ARGS="…" (more execute-block options; default --no-access-list: the run
#   from the block's access list is the same engine, and its samples would
#   count as lanes' too)
#   BIN=path/to/lanes-validator  FIXTURES=folder  BLOCKS="n n …" (default: the
#   twelve busiest fixture blocks)  OUT=folder (perf.data and the table)
#   REPORT_ONLY=1 OUT=folder: the table again from a recorded perf.data
# Resolving inlined frames takes perf a few minutes.
# Needs perf (Debian's linux-perf); `perf stat` need not work: it samples the
# software clock.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS="${1:-1}"
RUNS="${2:-20}"
ARGS="${ARGS---no-access-list}"
BIN="${BIN:-target/release/lanes-validator}"
FIXTURES="${FIXTURES:-../shared/fixtures/mainnet-blocks}"
OUT="${OUT:-$(mktemp -d)}"
BLOCKS="${BLOCKS:-5526571 8038679 10760440 11743952 12047794 13217637 14029313 15274915 16257471 18426253 18988207 19929064}"
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)"; exit 1; }
[ -x "$BIN" ] || cargo build --release --bin lanes-validator
[ -d "$FIXTURES" ] || { echo "$FIXTURES is absent: it holds the mainnet blocks (../shared beside the checkout)"; exit 1; }
mkdir -p "$OUT"
BIN=$(realpath "$BIN")
[ -n "${REPORT_ONLY:-}" ] || perf record -q -F 2000 -e cpu-clock --call-graph dwarf,16384 -o "$OUT/perf.data" -- \
  sh -c "for b in $BLOCKS; do '$BIN' execute-block '$FIXTURES'/\$b --workers $WORKERS --runs $RUNS $ARGS > /dev/null; done" 2>/dev/null
perf report -i "$OUT/perf.data" --stdio --no-children --sort sym -g folded,0,caller,count --percent-limit 0 2>/dev/null | python3 -c '
import re, sys
from collections import Counter
# The side a sample belongs to: the first of these its stack holds.
SIDES = [
    ("revm: untimed (pre-state into CacheDB, code analysed; blooms of the receipts)", r"baseline::cache_db|Bloom::accrue_log"),
    ("revm", r"execute_block::baseline::baseline\b"),
    ("lanes, in order", r"Bank>::execute_ordered|ordered::(engine|commit|finish)::"),
]
# Mechanisms, matched from the leaf up (inlined frames included);
# allocation, copies and hashing count for their caller.
KINDS = [
    ("state reads (accounts_db index, records)", r"lanes_accounts_db::"),
    ("bank write cache (filter, shards)", r"BankState|lanes_runtime::table::|Shard"),
    ("view: checks, read log, recording", r"StateView|permits|ReadLog|view::.*check"),
    ("sets: normalising, marks", r"AccessSet>::(new|unbounded)|locks::marks|touched_set|set_of|AccessSet::new"),
    ("access-list record", r"keep_accesses|TxAccesses|note_read"),
    ("versions (multi-version memory, its reads)", r"lanes_runtime::mv::|EngineReads"),
    ("validation and commit", r"Engine<E>>?::(validate|changed|abort)|ordered::commit::|credit_coinbase"),
    ("adapter: revm diff to writes, receipt", r"apply_diff|executor::outcome|receipt_data|stored_header|fill_tx_env|refill|header_to_info"),
    ("EVM: code cache, analysis", r"code_by_hash|analyze_legacy|SharedCode|CodeCache|LruMap"),
    ("EVM: revm", r"revm|run_exec_loop|run_plain|FeeCapture|ViewDb|EthFrame|Interpreter|transact|EvmExecutor as lanes_runtime::executor::Executor>::execute"),
    ("schedule, hand-offs, threads", r"ordered::(engine|schedule)|parking_lot|Condvar|futex|std::thread|pthread|clone3|schedule"),
    ("block record (entries, receipts)", r"record_in_order|BlockRecord|record_entry|EntryKeys"),
]
GENERIC = r"malloc|free|realloc|memmove|memcpy|memset|__mem|_int_|keccak|hash|Hash|alloc::|core::ptr|drop_in_place|\(inlined\)$"
sides, kinds = Counter(), {s: Counter() for s, _ in SIDES}
for line in sys.stdin:
    m = re.match(r"^\s*(\d+) (.*)$", line)
    if not m: continue
    n, stack = int(m.group(1)), m.group(2).split(";")
    side = next((s for s, p in SIDES if any(re.search(p, f) for f in stack)), "other (loading, checks, setup)")
    sides[side] += n
    if side not in kinds: continue
    kind = None
    for f in reversed(stack):
        hit = next((k for k, p in KINDS if re.search(p, f)), None)
        if hit: kind = hit; break
    if kind is None:
        kind = "allocation, copies (no caller named)" if re.search(GENERIC, stack[-1]) else "other"
    kinds[side][kind] += n
total = sum(sides.values())
print(f"samples: {total} (software clock, 2000 Hz)\n")
print("| side | share of samples |\n|---|---|")
for s, n in sides.most_common():
    print(f"| {s} | {100*n/total:.1f}% |")
revm = sides["revm"]
for s, _ in SIDES:
    n = sides[s]
    if not n: continue
    print(f"\n{s}: {n} samples" + (f" ({n/revm:.2f}x revm'"'"'s)" if revm and s != "revm" else ""))
    print("\n| mechanism | share of the side | x revm'"'"'s whole time |\n|---|---|---|")
    for k, c in kinds[s].most_common():
        print(f"| {k} | {100*c/n:.1f}% | {c/max(revm,1):.2f} |")
' | tee "$OUT/profile.md"
echo "perf data and table: $OUT"
