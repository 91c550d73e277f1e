#!/usr/bin/env bash
# Import time per block as the state grows 10x (issue 53): the import_cost
# bench (benches/import_cost.rs) run ROUNDS times (default 3). Prints each
# run, then per state size the median over runs of each column: import per
# block, its state root (the kept trie), the whole-state root (how the
# importer computed it before the trie was kept), and the larger state's
# figures over the smaller's.
#
#   scripts/import-cost.sh            (ACCOUNTS=50000 BLOCKS=20 TXS=200 ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo bench --bench import_cost --no-run >&2
for _ in $(seq 1 "$rounds"); do
    cargo bench -q --bench import_cost 2>/dev/null | tee -a "$out"
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+) \(([\d.]+)\)", line)
    if m:
        rows.setdefault(int(m[1]), []).append([float(x) for x in m.groups()[1:]])
sizes = sorted(rows)
med = {n: [statistics.median(col) for col in zip(*rows[n])] for n in sizes}
print(f"medians of {len(rows[sizes[0]])} runs (ms per block)")
print(f"{'accounts':>10}  {'import':>8}  {'state root':>10}  {'whole-state root':>16}  {'first block (root)':>18}")
for n in sizes:
    i, r, w, f, fr = med[n]
    print(f"{n:>10}  {i:>8.2f}  {r:>10.3f}  {w:>16.1f}  {f:>9.1f} ({fr:.1f})")
(small, large) = (med[sizes[0]], med[sizes[-1]])
print(f"state {sizes[-1] // sizes[0]}x: import per block {large[0] / small[0]:.2f}x, its state root "
      f"{large[1] / small[1]:.2f}x; the whole-state root {large[2] / small[2]:.2f}x")
PY
