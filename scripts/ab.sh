#!/usr/bin/env bash
# Interleaved A/B of two commits on the execution and banking benches: the
# method behind README's issue-31 figures (hand-written structures against
# crates). Builds both commits' release bench binaries (the base in a git
# worktree under target/ab/, sharing this checkout's target directory), then
# runs them round by round, alternating which goes first:
#   - the execution bench's profile mode per workload: the 1-thread batch
#     path, the entry path on THREADS threads and revm, 21 rounds each;
#   - the whole banking bench (skip it with BANKING=0).
# It prints each metric's medians and the median over rounds of the paired
# ratio new/base (positive = slower for times, faster for tx/s).
#
#   scripts/ab.sh BASE [NEW] [ROUNDS]
#
# Defaults: NEW is the working tree's HEAD, ROUNDS 5, THREADS 2. A round with
# the banking bench takes about three minutes on two cores; the builds take
# about five minutes each. Keep the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."

base="${1:?usage: scripts/ab.sh BASE [NEW] [ROUNDS]}"
new="${2:-HEAD}"
rounds="${3:-5}"
threads="${THREADS:-2}"
banking="${BANKING:-1}"
root=$(pwd)
out="$root/target/ab"
mkdir -p "$out"

# build REV LABEL: the release bench binaries of REV, copied to $out/LABEL.
# Binaries already built from the same commit (named in $out/LABEL.rev) are
# kept. Both trees share the target directory, where a workspace crate's
# output has the same name whichever tree built it, and cargo judges it
# fresh by the sources of the tree that built it: the workspace's own
# crates are cleaned from the bench profile first, so each tree builds them
# from its own sources (touching the sources was not enough: the second
# tree got the first one's binaries, byte for byte).
build() {
    local rev=$1 label=$2 tree="$out/tree-$2" commit
    commit=$(git rev-parse "$rev^{commit}")
    rm -rf "$tree"
    git worktree remove --force "$tree" 2>/dev/null || true
    git worktree add --detach "$tree" "$commit" >/dev/null
    if [ "$(cat "$out/$label.rev" 2>/dev/null)" = "$commit" ] &&
        [ -x "$out/$label/execution" ] && [ -x "$out/$label/banking" ]; then
        return 0
    fi
    rm -rf "${out:?}/$label" "$out/$label.rev"
    (cd "$tree" && CARGO_TARGET_DIR="$root/target" cargo clean --profile bench \
        $(cargo metadata --no-deps --format-version 1 | jq -r '.packages[].name | "-p " + .') \
        2>>"$out/$label.build.log")
    mkdir -p "$out/$label"
    # Twice at most: the first build of a tree right after the other tree's
    # has failed to compile against the other tree's build of a crate it
    # depends on (seen with lanes-runtime), and the second then succeeded.
    for _ in 1 2; do
        (cd "$tree" && CARGO_TARGET_DIR="$root/target" cargo bench --bench execution --bench banking \
            --no-run --message-format=json 2>"$out/$label.build.log") |
            jq -r 'select(.executable != null and .target.kind[0] == "bench") | .target.name + " " + .executable' |
            while read -r name path; do cp "$path" "$out/$label/$name"; done || true
        [ -x "$out/$label/execution" ] && [ -x "$out/$label/banking" ] && break
    done
    [ -x "$out/$label/execution" ] && [ -x "$out/$label/banking" ] || {
        echo "could not build the benches of $rev: see $out/$label.build.log" >&2
        exit 1
    }
    echo "$commit" > "$out/$label.rev"
}
trap 'git worktree remove --force "$out/tree-base" 2>/dev/null; git worktree remove --force "$out/tree-new" 2>/dev/null; true' EXIT
build "$base" base
build "$new" new
if cmp -s "$out/base/banking" "$out/new/banking" && cmp -s "$out/base/execution" "$out/new/execution"; then
    echo "the benches of $base and $new are the same binaries: nothing to compare" >&2
    exit 1
fi

rm -f "$out"/run-*.txt
for i in $(seq "$rounds"); do
    if [ $((i % 2)) = 1 ]; then order="base new"; else order="new base"; fi
    for label in $order; do
        cd "$out/tree-$label"
        for w in transfers erc20; do
            LANES_PROFILE_ONLY=$w LANES_PROFILE_ALL=1 LANES_PROFILE_THREADS="$threads" LANES_PROFILE_ROUNDS=21 \
                "$out/$label/execution" --bench >"$out/run-$label-exec-$w-$i.txt" 2>&1
        done
        if [ "$banking" = 1 ]; then
            "$out/$label/banking" --bench >"$out/run-$label-bank-$i.txt" 2>&1
        fi
        echo "round $i: $label done" >&2
    done
done
cd "$root"

python3 - "$out" "$rounds" "$threads" <<'EOF'
import re, statistics as st, sys
out, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def exec_(label, w, i):
    try: s = open(f"{out}/run-{label}-exec-{w}-{i}.txt").read()
    except FileNotFoundError: return {}
    m = re.search(r"batches ([\d.]+)ms entry ([\d.]+)ms revm ([\d.]+)ms ratio ([\d.]+)", s)
    return {"batch ms": float(m[1]), f"entry {threads}t ms": float(m[2]), "batch/revm": float(m[4])} if m else {}
def bank(label, i):
    try: s = open(f"{out}/run-{label}-bank-{i}.txt").read()
    except FileNotFoundError: return {}
    res, w = {}, None
    for line in s.splitlines():
        m = re.match(r"^(transfers|zipf|erc20|amm)\s+\d+ \|\s+(\d+)\s+(\d+) \|", line)
        if m:
            w = m[1]
            res[f"bank {w} pipe 1w tx/s"], res[f"bank {w} pipe 2w tx/s"] = int(m[2]), int(m[3])
        m = re.search(r"execution ([\d.]+)ms / ([\d.]+)ms / ([\d.]+)ms", line)
        if m and w:
            res[f"bank {w} exec 1w ms"], res[f"bank {w} exec 2w ms"] = float(m[1]), float(m[2])
    return res
def metrics(label, i):
    r = {}
    for w in ["transfers", "erc20"]:
        r.update({f"exec {w} {k}": v for k, v in exec_(label, w, i).items()})
    r.update(bank(label, i))
    return r
runs = {label: [metrics(label, i) for i in range(1, rounds + 1)] for label in ["base", "new"]}
names = [n for n in runs["base"][0] if all(n in r for r in runs["base"] + runs["new"])]
print(f"{'metric':32} {'base':>10} {'new':>10}   new/base (median of {rounds} paired rounds)")
for n in names:
    b = [r[n] for r in runs["base"]]
    v = [r[n] for r in runs["new"]]
    ratio = st.median(x / y for x, y in zip(v, b))
    print(f"{n:32} {st.median(b):>10.2f} {st.median(v):>10.2f}   {(ratio - 1) * 100:+.1f}%")
EOF
