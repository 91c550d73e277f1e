#!/usr/bin/env bash
# How lanes' ordered executor scales on real mainnet blocks, measured, beside
# what OrderedReport::simulate predicts: every block of FIXTURES run by
# `lanes-validator execute-block` at each worker count of WORKERS, each
# against plain sequential revm in the same process. Prints, per worker
# count, all blocks' time over revm's and the mean per-block speedup, for
# sets found by running (run) and from the block's access list (declared),
# and the simulation made from the 1-worker run for the same count, so the
# model is checked against a machine with that many cores.
#
#   scripts/mainnet-scaling.sh [RUNS]   (default 3: medians of 3 runs each)
#   BIN=path/to/lanes-validator  FIXTURES=folder  OUT=folder
#   WORKERS="1 2 4 8 16" (1 must be among them: the simulation starts there)
#   REPORT_ONLY=1 OUT=folder: print the table again from a run's raw results
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
BIN="${BIN:-target/release/lanes-validator}"
FIXTURES="${FIXTURES:-../shared/fixtures/mainnet-blocks}"
WORKERS="${WORKERS:-1 2 4 8 16}"
OUT="${OUT:-$(mktemp -d)}"
[ -x "$BIN" ] || cargo build --release --bin lanes-validator
[ -d "$FIXTURES" ] || { echo "$FIXTURES is absent: it holds the mainnet blocks (../shared beside the checkout)"; exit 1; }
mkdir -p "$OUT"
blocks=$(ls "$FIXTURES" | grep -E '^[0-9]+$' | sort -n)
failed=0
if [ -z "${REPORT_ONLY:-}" ]; then
  for w in $WORKERS; do
    : > "$OUT/run-$w.jsonl"
    for b in $blocks; do
      "$BIN" execute-block "$FIXTURES/$b" --workers "$w" --runs "$RUNS" --json >> "$OUT/run-$w.jsonl" || failed=1
    done
  done
fi
python3 - "$OUT" "$WORKERS" "$(nproc)" <<'EOF'
import json, statistics, sys
out, workers, cores = sys.argv[1], [int(w) for w in sys.argv[2].split()], sys.argv[3]
runs = {w: {r["block"]: r for r in map(json.loads, open(f"{out}/run-{w}.jsonl"))} for w in workers}
one = runs[1]
busy = [b for b in one if one[b]["txs"] > 0]
bad = sorted({b for w in workers for b, r in runs[w].items() if not r["ok"]})
def sim(b, w):
    r = one[b]
    return {1: r["simulated_1_ms"], 2: r["simulated_2_ms"]}.get(w) or r["simulated_ms"].get(str(w))
def dsim(b, w):
    return one[b]["declared_simulated_ms"].get(str(w))
print(f"\n{len(busy)} blocks with transactions, {sum(one[b]['txs'] for b in busy)} transactions; this host has {cores} cores\n")
print("| workers | run: all blocks' time / revm | run: mean speedup | simulated: time / revm | simulated: mean speedup | declared: time / revm | declared: mean speedup | declared simulated: mean speedup | reruns |")
print("|---|---|---|---|---|---|---|---|---|")
for w in workers:
    d = runs[w]
    revm = sum(d[b]["revm_ms"] for b in busy)
    lanes = sum(d[b]["lanes_ms"] for b in busy)
    speed = statistics.mean(d[b]["revm_ms"] / d[b]["lanes_ms"] for b in busy)
    s = [sim(b, w) for b in busy]
    st = f"{sum(s) / sum(one[b]['revm_ms'] for b in busy):.2f}x" if all(s) else "—"
    ss = f"{statistics.mean(one[b]['revm_ms'] / max(x, 1e-9) for b, x in zip(busy, s)):.2f}x" if all(s) else "—"
    dec = [d[b].get("declared_ms") for b in busy]
    dt = f"{sum(dec) / revm:.2f}x" if all(dec) else "—"
    ds = f"{statistics.mean(d[b]['revm_ms'] / x for b, x in zip(busy, dec)):.2f}x" if all(dec) else "—"
    dd = [dsim(b, w) for b in busy]
    dds = f"{statistics.mean(one[b]['revm_ms'] / max(x, 1e-9) for b, x in zip(busy, dd)):.2f}x" if all(dd) else "—"
    print(f"| {w} | {lanes / revm:.2f}x | {speed:.2f}x | {st} | {ss} | {dt} | {ds} | {dds} | {sum(d[b]['reruns'] for b in busy)} |")
print("\ntime / revm below 1 and speedup above 1: faster than one thread of revm; simulated columns come from the 1-worker run")
if bad:
    print(f"MISMATCH in blocks {bad}")
    sys.exit(1)
EOF
echo "raw results: $OUT"
exit $failed
