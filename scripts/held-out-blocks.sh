#!/usr/bin/env bash
# The held-out mainnet blocks: the blocks of pevm's own set (risechain/pevm,
# MIT) at commit 8969f2f that ../shared/fixtures/mainnet-blocks does not
# hold, extracted from a local clone of pevm into OUT in the fixtures'
# format (block.json, pre_state.json with code inline, block_hashes.json),
# for `FIXTURES=OUT scripts/mainnet-ab.sh` and `scripts/pevm-compare.sh`:
# blocks the engine was not tuned on. Nothing is copied into the project.
# A block whose pre_state.json the clone lacks (a partial clone leaves out
# large files) is skipped and named.
#
#   scripts/held-out-blocks.sh PEVM_CLONE OUT
set -euo pipefail
cd "$(dirname "$0")/.."
clone="${1:?usage: scripts/held-out-blocks.sh PEVM_CLONE OUT}"
out="${2:?usage: scripts/held-out-blocks.sh PEVM_CLONE OUT}"
commit=8969f2f
fixtures=../shared/fixtures/mainnet-blocks
git -C "$clone" cat-file -e "$commit" 2>/dev/null \
  || { echo "$clone has no commit $commit (a clone of github.com/risechain/pevm)"; exit 1; }
mkdir -p "$out"
kept=0
for b in $(git -C "$clone" ls-tree --name-only "$commit" blocks/ | sed 's|blocks/||'); do
  [ -d "$fixtures/$b" ] && continue
  files=$(git -C "$clone" ls-tree --name-only "$commit" "blocks/$b/")
  ok=1
  for f in $files; do
    git -C "$clone" cat-file -e "$commit:$f" 2>/dev/null || { ok=0; break; }
  done
  [ "$ok" = 1 ] || { echo "skipped $b: the clone lacks one of its files"; continue; }
  mkdir -p "$out/$b"
  for f in $files; do git -C "$clone" show "$commit:$f" > "$out/$b/$(basename "$f")"; done
  kept=$((kept + 1))
done
echo "$kept held-out blocks in $out"
