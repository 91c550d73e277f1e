#!/usr/bin/env bash
# Builds pevm's side of scripts/pevm-compare.sh: copies scripts/pevm-measure
# (a small program, not part of lanes' workspace) into a clone of
# risechain/pevm as bins/lanes-measure and builds it there with pevm's own
# workspace, lock file and release profile. Prints the program's path, for
# PEVM_BIN. The published figures used pevm at 9cbd856.
#
#   scripts/pevm-measure.sh PEVM_CLONE
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
clone="${1:?usage: scripts/pevm-measure.sh PEVM_CLONE (a clone of risechain/pevm)}"
[ -f "$clone/crates/pevm/Cargo.toml" ] || { echo "$clone is not a clone of risechain/pevm"; exit 1; }
mkdir -p "$clone/bins/lanes-measure/src"
cp "$here/pevm-measure/Cargo.toml.in" "$clone/bins/lanes-measure/Cargo.toml"
cp "$here/pevm-measure/main.rs" "$clone/bins/lanes-measure/src/main.rs"
grep -q '"bins/lanes-measure"' "$clone/Cargo.toml" ||
  sed -i 's|^members = \[|members = ["bins/lanes-measure", |' "$clone/Cargo.toml"
(cd "$clone" && cargo build --release -p lanes-measure >&2)
echo "$clone/target/release/lanes-measure"
