#!/usr/bin/env bash
# Real mainnet traffic through lanes' ordered executor: every block of
# ../shared/fixtures/mainnet-blocks (42 blocks, Frontier to Cancun) run by
# `lanes-validator execute-block` at 1 and 2 workers, with predictions that
# no earlier set writes into standing as results ("reuse") and without
# ("rerun"), against plain sequential revm on the same in-memory state
# (pevm's baseline), and the speedup at 4, 8 and 16 workers simulated from
# the 1-worker run's measured per-transaction times (OrderedReport::simulate).
# Each block also runs from its access list (revm's builder's, EIP-7928) as
# declared writes, no prediction ("declared"), checked to give the list back.
#
# Usage: scripts/mainnet-blocks.sh [RUNS]   (default 5: medians of 5 runs each)
#   BIN=path/to/lanes-validator  FIXTURES=folder  OUT=folder  MODES="reuse rerun"
#   REPORT_ONLY=1 OUT=folder: print the tables again from a run's raw results
# Prints one markdown table per mode and a summary; exits 1 if a block's
# gasUsed, logsBloom or receiptsRoot differs from its header.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
BIN="${BIN:-target/release/lanes-validator}"
FIXTURES="${FIXTURES:-../shared/fixtures/mainnet-blocks}"
OUT="${OUT:-$(mktemp -d)}"
MODES="${MODES:-reuse rerun}"
[ -x "$BIN" ] || cargo build --release --bin lanes-validator
[ -d "$FIXTURES" ] || { echo "$FIXTURES is absent: it holds the mainnet blocks (../shared beside the checkout)"; exit 1; }
blocks=$(ls "$FIXTURES" | grep -E '^[0-9]+$' | sort -n)
failed=0
for mode in $MODES; do
  [ -n "${REPORT_ONLY:-}" ] && break
  flag=""
  [ "$mode" = rerun ] && flag="--rerun-predictions"
  for workers in 1 2; do
    file="$OUT/$mode-$workers.jsonl"
    : > "$file"
    for b in $blocks; do
      "$BIN" execute-block "$FIXTURES/$b" --workers "$workers" --runs "$RUNS" --json $flag >> "$file" || failed=1
    done
  done
done
python3 - "$OUT" $MODES <<'EOF'
import json, statistics, sys
out, modes = sys.argv[1], sys.argv[2:]
def load(mode, w):
    return {r["block"]: r for r in map(json.loads, open(f"{out}/{mode}-{w}.jsonl"))}
for mode in modes:
    one, two = load(mode, 1), load(mode, 2)
    print(f"\n### {mode}: predictions {'stand as results where no earlier set writes into them' if mode == 'reuse' else 'always run again under locks'}\n")
    print("| block | txs | gas | ok | stood | reruns | chain (txs / ms) | revm ms | 1w ms (x revm) | 2w ms (x revm) | sim 4w | sim 8w | sim 16w |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    r1, r2, s4, s8, s16, c1, c2 = [], [], [], [], [], [], []
    tl1 = tl2 = tr1 = tr2 = 0.0
    for b in sorted(one):
        a, c = one[b], two[b]
        tl1 += a["lanes_ms"]; tr1 += a["revm_ms"]; tl2 += c["lanes_ms"]; tr2 += c["revm_ms"]
        revm = a["revm_ms"]
        sim = {k: revm / max(v, 1e-9) for k, v in a["simulated_ms"].items()}
        if a["txs"] > 0:  # an empty block has no ratio worth averaging
            r1.append(a["lanes_ms"] / revm); r2.append(c["lanes_ms"] / c["revm_ms"])
            s4.append(sim["4"]); s8.append(sim["8"]); s16.append(sim["16"])
            c1.append(a["simulated_1_ms"] / a["lanes_ms"]); c2.append(a["simulated_2_ms"] / c["lanes_ms"])
        ok = "ok" if a["ok"] and c["ok"] else "MISMATCH " + ",".join(a["mismatches"] + c["mismatches"])
        if a["txs"] > 0:
            x1, x2 = f" ({r1[-1]:.2f})", f" ({r2[-1]:.2f})"
            s = [f"{sim[k]:.2f}x" for k in ("4", "8", "16")]
        else:
            x1 = x2 = ""
            s = ["—"] * 3
        print(f"| {b} | {a['txs']} | {a['gas']:,} | {ok} | {a['stood']} | {a['reruns']} | {a['chain_txs']} / {a['chain_ms']:.2f} | {revm:.2f} | {a['lanes_ms']:.2f}{x1} | {c['lanes_ms']:.2f}{x2} | {s[0]} | {s[1]} | {s[2]} |")
    n = len(r1)
    print(f"\n{mode}: {n} blocks with transactions; mean time per block against sequential revm: 1 worker {statistics.mean(r1):.2f}x (median {statistics.median(r1):.2f}x), 2 workers {statistics.mean(r2):.2f}x (median {statistics.median(r2):.2f}x)")
    print(f"{mode}: all blocks' time against revm's: 1 worker {tl1/tr1:.2f}x, 2 workers {tl2/tr2:.2f}x")
    print(f"{mode}: simulated mean speedup over revm: 4 workers {statistics.mean(s4):.2f}x, 8 workers {statistics.mean(s8):.2f}x (max {max(s8):.2f}x, min {min(s8):.2f}x), 16 workers {statistics.mean(s16):.2f}x")
    print(f"{mode}: simulation / measured: 1 worker median {statistics.median(c1):.2f}, 2 workers median {statistics.median(c2):.2f} (below 1: scheduling and hand-offs the model leaves out)")
    tot = lambda d, k: sum(r[k] for r in d.values())
    print(f"{mode}: {tot(one,'txs')} transactions, {tot(one,'stood')} predictions stood, {tot(one,'reruns')} reruns, {tot(one,'alone')} ran alone, {tot(one,'coinbase_readers')} read the coinbase")
one, two = load(modes[0], 1), load(modes[0], 2)
if all("predicted" in r for r in one.values()):
    p = sum(r["predicted"] for r in one.values())
    c = sum(r["prediction_covered"] for r in one.values())
    o = sum(r["over_predicted"] for r in one.values())
    cost = sum(r["misprediction_cost_ms"] for r in one.values())
    lanes = sum(r["lanes_ms"] for r in one.values())
    print(f"\npredictions (1 worker, {modes[0]}), judged by what each transaction did (its access-list record): {p} predicted, first prediction covered {c} ({100*c/max(p,1):.1f}%), over-predicted {o} ({100*o/max(p,1):.1f}%); misses cost {cost:.1f} ms of {lanes:.1f} ms ({100*cost/max(lanes,1e-9):.1f}%)")
if all(r.get("declared_ms") is not None for r in one.values()):
    print("\n### declared: each block run from its access list (EIP-7928) as declared writes, no prediction\n")
    busy = [b for b in one if one[b]["txs"] > 0]
    tot = lambda d, k: sum(d[b][k] for b in busy)
    print(f"declared: all blocks' time against revm's: 1 worker {tot(one,'declared_ms')/tot(one,'revm_ms'):.2f}x, 2 workers {tot(two,'declared_ms')/tot(two,'revm_ms'):.2f}x (predicted, same runs: {tot(one,'lanes_ms')/tot(one,'revm_ms'):.2f}x, {tot(two,'lanes_ms')/tot(two,'revm_ms'):.2f}x)")
    for n in ("4", "8", "16"):
        dec = [one[b]["revm_ms"] / max(one[b]["declared_simulated_ms"][n], 1e-9) for b in busy]
        pre = [one[b]["revm_ms"] / max(one[b]["simulated_ms"][n], 1e-9) for b in busy]
        print(f"declared: simulated {n} workers: mean speedup over revm {statistics.mean(dec):.2f}x (min {min(dec):.2f}x, max {max(dec):.2f}x); predicted {statistics.mean(pre):.2f}x")
EOF
echo "raw results: $OUT"
exit $failed
