#!/usr/bin/env bash
# lanes beside pevm (risechain/pevm, Block-STM) on the same real blocks: each
# block of FIXTURES run by `lanes-validator execute-block` and by a pevm
# measuring program at every count of THREADS, each engine's time over plain
# sequential revm's in its own process on the same pre-state (lanes against
# the revm it embeds, pevm against its own `force_sequential` run), medians of
# RUNS runs. Prints per block and in total both ratios per thread count, and
# exits 1 if either engine got a block wrong (gas used against the header).
#
#   PEVM_BIN=path scripts/pevm-compare.sh [RUNS]   (default 5)
#   BIN=path/to/lanes-validator  FIXTURES=folder  OUT=folder
#   THREADS="1 2 4 8 16" (default: 1 2, then 4 8 16 up to this host's cores;
#   with REPORT_ONLY, the counts the results hold)
#   REPORT_ONLY=1 OUT=folder: print the table again from a run's raw results
#
# pevm is a tool of measurement, as anvil is, not a dependency: it is built
# outside this project from its public repository, and this script only runs
# it. PEVM_BIN is a program taking `<block folder> <threads,comma,separated>
# <runs>` (the block folder in the fixtures' format: block.json,
# pre_state.json, block_hashes.json, each plain or .gz) and printing one JSON
# line: {"block": n, "txs": n, "revm_ms": x, "pevm_ms": {"<threads>": x},
# "ok": bool}: `scripts/pevm-measure.sh PEVM_CLONE` builds one (the program in
# scripts/pevm-measure, inside a clone of pevm with pevm's own workspace) and
# prints its path; docs/figures.md ("One Block-STM engine (issue 81)") says
# which pevm the published figures used.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
BIN="${BIN:-target/release/lanes-validator}"
FIXTURES="${FIXTURES:-../shared/fixtures/mainnet-blocks}"
OUT="${OUT:-$(mktemp -d)}"
if [ -z "${THREADS:-}" ] && [ -z "${REPORT_ONLY:-}" ]; then
  THREADS="1 2"
  for t in 4 8 16; do [ "$(nproc)" -ge "$t" ] && THREADS="$THREADS $t"; done
fi
mkdir -p "$OUT"
if [ -z "${REPORT_ONLY:-}" ]; then
  [ -n "${PEVM_BIN:-}" ] && [ -x "$PEVM_BIN" ] || { echo "PEVM_BIN must name pevm's measuring program (see this script's head)"; exit 1; }
  [ -x "$BIN" ] || cargo build --release --bin lanes-validator
  [ -d "$FIXTURES" ] || { echo "$FIXTURES is absent: it holds the mainnet blocks (../shared beside the checkout)"; exit 1; }
  blocks=$(ls "$FIXTURES" | grep -E '^[0-9]+$' | sort -n)
  : > "$OUT/lanes.jsonl"
  : > "$OUT/pevm.jsonl"
  list=$(echo $THREADS | tr ' ' ',')
  for b in $blocks; do
    for t in $THREADS; do
      "$BIN" execute-block "$FIXTURES/$b" --workers "$t" --runs "$RUNS" --json >> "$OUT/lanes.jsonl"
    done
    "$PEVM_BIN" "$FIXTURES/$b" "$list" "$RUNS" >> "$OUT/pevm.jsonl"
  done
fi
python3 - "$OUT" "${THREADS:-}" "$(nproc)" <<'EOF'
import json, statistics, sys
out, threads, cores = sys.argv[1], sys.argv[2].split(), sys.argv[3]
lanes = {}
for r in map(json.loads, open(f"{out}/lanes.jsonl")):
    lanes.setdefault(r["block"], {})[str(r["workers"])] = r
pevm = {r["block"]: r for r in map(json.loads, open(f"{out}/pevm.jsonl"))}
if not threads:  # a report of earlier results: the counts both measured
    counts = {t for r in pevm.values() for t in r["pevm_ms"]} & {t for d in lanes.values() for t in d}
    threads = sorted(counts, key=int)
blocks = sorted(b for b in lanes if b in pevm and pevm[b]["txs"] > 0)
bad = sorted({b for b in blocks if not pevm[b]["ok"]} | {b for b in blocks for r in lanes[b].values() if not r["ok"]})
head = " | ".join(f"lanes {t} | pevm {t}" for t in threads)
print(f"\n{len(blocks)} blocks with transactions, {sum(pevm[b]['txs'] for b in blocks)} transactions; this host has {cores} cores")
print("each figure: the engine's time over sequential revm's in the same process (below 1: faster than revm)\n")
print(f"| block | txs | revm ms (lanes' / pevm's) | {head} |")
print("|---|---|---|" + "---|---|" * len(threads))
for b in blocks:
    l, p = lanes[b], pevm[b]
    cells = " | ".join(f"{l[t]['lanes_ms'] / l[t]['revm_ms']:.2f} | {p['pevm_ms'][t] / p['revm_ms']:.2f}" for t in threads)
    print(f"| {b} | {p['txs']} | {l[threads[0]]['revm_ms']:.2f} / {p['revm_ms']:.2f} | {cells} |")
def total(t):
    lt = sum(lanes[b][t]["lanes_ms"] for b in blocks) / sum(lanes[b][t]["revm_ms"] for b in blocks)
    pt = sum(pevm[b]["pevm_ms"][t] for b in blocks) / sum(pevm[b]["revm_ms"] for b in blocks)
    lm = statistics.median(lanes[b][t]["lanes_ms"] / lanes[b][t]["revm_ms"] for b in blocks)
    pm = statistics.median(pevm[b]["pevm_ms"][t] / pevm[b]["revm_ms"] for b in blocks)
    return lt, pt, lm, pm
# The goals of issue 81 for lanes' all-blocks figure, and ahead of pevm.
goals = {"1": 1.10, "2": 0.75, "8": 0.40, "16": 0.33}
print("\n| threads | lanes: all blocks' time / revm's | pevm: all blocks' time / revm's | lanes: median block | pevm: median block | goal (issue 81) | blocks of 0.5 ms or more in revm above 1.10x |")
print("|---|---|---|---|---|---|---|")
for t in threads:
    lt, pt, lm, pm = total(t)
    goal = goals.get(t)
    verdict = "ahead of pevm" if lt < pt else "behind pevm"
    if goal:
        verdict = f"≤ {goal:.2f}x: {'met' if lt <= goal else 'missed'}; {verdict}"
    slow = sum(1 for b in blocks if lanes[b][t]["revm_ms"] >= 0.5 and lanes[b][t]["lanes_ms"] > 1.10 * lanes[b][t]["revm_ms"])
    big = sum(1 for b in blocks if lanes[b][t]["revm_ms"] >= 0.5)
    print(f"| {t} | {lt:.3f}x | {pt:.3f}x | {lm:.2f}x | {pm:.2f}x | {verdict} | {slow} of {big} |")
if bad:
    print(f"MISMATCH in blocks {bad}")
    sys.exit(1)
EOF
echo "raw results: $OUT"
