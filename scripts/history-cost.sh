#!/usr/bin/env bash
# What keeping history costs block commits: accounts_db's history bench
# (accounts_db/benches/history.rs) built twice, on this tree and on BASE, the
# code before history (built with --cfg lanes_baseline, which leaves out the
# history reads), run alternately ROUNDS times (default 5). Prints each run,
# then the median commit rate of each and their ratio, and this tree's read
# figures (read at the head against 1,000 blocks back) from its last run.
#
#   scripts/history-cost.sh            (BASE=53c164e, ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/.."

base=${BASE:-53c164e}
rounds=${ROUNDS:-5}
source scripts/lib.sh

git worktree add --detach "$tmp/base" "$base" >&2
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; cleanup' EXIT
mkdir -p "$tmp/base/accounts_db/benches"
cp accounts_db/benches/history.rs "$tmp/base/accounts_db/benches/history.rs"
printf '\n[[bench]]\nname = "history"\nharness = false\n' >> "$tmp/base/accounts_db/Cargo.toml"
# The base's build keeps its own target folder between runs of this script.
base_target=$PWD/target/history-baseline
cargo bench -p lanes-accounts-db --bench history --no-run >&2
RUSTFLAGS="--cfg lanes_baseline" CARGO_TARGET_DIR=$base_target \
    cargo bench --manifest-path "$tmp/base/Cargo.toml" -p lanes-accounts-db --bench history --no-run >&2

for round in $(seq 1 "$rounds"); do
    LANES_BENCH_REPS=1 RUSTFLAGS="--cfg lanes_baseline" CARGO_TARGET_DIR=$base_target \
        cargo bench -q --manifest-path "$tmp/base/Cargo.toml" -p lanes-accounts-db --bench history \
        2>/dev/null | tee -a "$tmp/base.out"
    LANES_BENCH_REPS=1 cargo bench -q -p lanes-accounts-db --bench history 2>/dev/null \
        | tee -a "$tmp/history.out"
done

python3 - "$tmp/base.out" "$tmp/history.out" <<'PY'
import re, statistics, sys
def rates(path):
    return [float(m) for m in re.findall(r"commit (\d+) blocks/s", open(path).read())]
base, hist = rates(sys.argv[1]), rates(sys.argv[2])
b, h = statistics.median(base), statistics.median(hist)
print(f"commit, median of {len(base)}: before history {b:.0f} blocks/s, with history {h:.0f} blocks/s: "
      f"{h / b:.3f} of before ({(1 - h / b) * 100:+.1f}% cost)")
PY
