#!/usr/bin/env bash
# An interleaved A/B of two lanes-validator binaries on real mainnet blocks:
# every block of FIXTURES run by `execute-block` with each binary in turn (the
# order alternating per round), at 1 and 2 workers. Each run's ratio is
# lanes' time over revm's measured in the same process, so the host's drift
# cancels; a round's figure is all blocks' time over revm's. Prints, per
# binary and worker count, the median over rounds, and the median of the
# paired ratios new/base (below 1: the new binary is faster); and the same
# paired per block (each block's two runs back to back, weighted by revm's
# time), which a slow stretch of the host moves less. Where both
# binaries report the seal's time (seal_ms), each worker count is also
# compared with the seal added to lanes' time (revm's side has no seal);
# where both report each side's fastest run (lanes_min_ms, revm_min_ms),
# also by those: on a busy host other work only adds time, and a block's
# median swings by up to 2x between processes where its fastest run holds
# within a few percent.
#
#   scripts/mainnet-ab.sh BASE_BIN NEW_BIN [ROUNDS]   (default 3 rounds)
#   FIXTURES=folder (default ../shared/fixtures/mainnet-blocks)  RUNS=N
#   (runs per block and binary, medians; default 3)  WORKERS="1 2"
#   OUT=folder (the raw JSON lines)
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:?usage: scripts/mainnet-ab.sh BASE_BIN NEW_BIN [ROUNDS]}"
new="${2:?usage: scripts/mainnet-ab.sh BASE_BIN NEW_BIN [ROUNDS]}"
rounds="${3:-3}"
runs="${RUNS:-3}"
workers="${WORKERS:-1 2}"
FIXTURES="${FIXTURES:-../shared/fixtures/mainnet-blocks}"
OUT="${OUT:-$(mktemp -d)}"
[ -d "$FIXTURES" ] || { echo "$FIXTURES is absent: it holds the mainnet blocks (../shared beside the checkout)"; exit 1; }
for bin in "$base" "$new"; do [ -x "$bin" ] || { echo "$bin is not an executable"; exit 1; }; done
mkdir -p "$OUT"
blocks=$(ls "$FIXTURES" | grep -E '^[0-9]+$' | sort -n)
for round in $(seq 1 "$rounds"); do
  order=("base:$base" "new:$new")
  [ $((round % 2)) -eq 0 ] && order=("new:$new" "base:$base")
  for w in $workers; do
    for b in $blocks; do
      for pair in "${order[@]}"; do
        label=${pair%%:*}; bin=${pair#*:}
        "$bin" execute-block "$FIXTURES/$b" --workers "$w" --runs "$runs" --json \
          >> "$OUT/$label-$w-$round.jsonl"
      done
    done
  done
done
python3 - "$OUT" "$rounds" "$workers" <<'EOF'
import json, math, statistics, sys
out, rounds, workers = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def keys(fast):
    return ("lanes_min_ms", "revm_min_ms") if fast else ("lanes_ms", "revm_ms")
def ratio(label, w, r, seal=False, fast=False):
    rows = [json.loads(l) for l in open(f"{out}/{label}-{w}-{r}.jsonl")]
    lk, rk = keys(fast)
    lanes = sum(x[lk] + (x.get("seal_ms") or 0) * seal for x in rows)
    return lanes / sum(x[rk] for x in rows)
def reports(label, w, field):
    return all(field in json.loads(l) for l in open(f"{out}/{label}-{w}-1.jsonl"))
def per_block(w, fast=False):
    """new/base per block and round (each side's time over its own revm
    run, the two run back to back), weighted by revm's time: the median
    and the geometric mean. Steadier than the rounds' totals on a noisy
    host, where one slow stretch moves a whole round."""
    pairs = []
    lk, rk = keys(fast)
    for r in range(1, rounds + 1):
        rows = lambda label: {json.loads(l)["block"]: json.loads(l) for l in open(f"{out}/{label}-{w}-{r}.jsonl")}
        b, n = rows("base"), rows("new")
        for k, x in b.items():
            if k in n and x[rk] > 0 and n[k][rk] > 0 and x[lk] > 0:
                ratio = (n[k][lk] / n[k][rk]) / (x[lk] / x[rk])
                pairs.append((ratio, x[rk]))
    total = sum(wt for _, wt in pairs)
    gm = math.exp(sum(wt * math.log(x) for x, wt in pairs) / total)
    acc = 0
    for x, wt in sorted(pairs):
        acc += wt
        if acc >= total / 2:
            return x, gm
print("| workers | base: all blocks' time / revm's | new | new / base, paired median of rounds | per block, paired: weighted median (geometric mean) |")
print("|---|---|---|---|---|")
for w in workers:
    # Binaries that report the seal's time (seal_ms), or each side's
    # fastest run, are compared by those too.
    both = lambda field: reports("base", w, field) and reports("new", w, field)
    kinds = [(False, False)] + [(True, False)] * both("seal_ms") + [(False, True)] * both("lanes_min_ms")
    for seal, fast in kinds:
        b = [ratio("base", w, r, seal, fast) for r in range(1, rounds + 1)]
        n = [ratio("new", w, r, seal, fast) for r in range(1, rounds + 1)]
        paired = statistics.median(x / y for x, y in zip(n, b))
        fmt = lambda v: f"{statistics.median(v):.3f}x ({', '.join(f'{x:.3f}' for x in v)})"
        label = f"{w}, with the seal" if seal else f"{w}, fastest runs" if fast else w
        blocks = "" if seal else "{:.3f} ({:.3f})".format(*per_block(w, fast))
        print(f"| {label} | {fmt(b)} | {fmt(n)} | {paired:.3f} | {blocks} |")
EOF
echo "raw results: $OUT"
