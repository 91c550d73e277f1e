#!/usr/bin/env bash
# ethereum/legacytests' blockchain tests (ValidBlocks and InvalidBlocks of
# each fork folder) through lanes' import path, read in place from a
# checkout (never copied into the project):
#
#   git clone https://github.com/ethereum/legacytests /tmp/legacytests
#   scripts/legacytests.sh /tmp/legacytests
#
# Prints each folder's "N tests, P passed, F failed" and each failure;
# docs/ethereum-blocks.md names the known ones and why.
set -uo pipefail
cd "$(dirname "$0")/.."
root="${1:?usage: scripts/legacytests.sh PATH-TO-legacytests}"
cargo test --release --locked --test it --no-run >/dev/null 2>&1 || {
  echo "the test build failed: cargo test --release --test it --no-run" >&2
  exit 1
}
status=0
while IFS= read -r dir; do
  out=$(LANES_BLOCKCHAIN_TESTS="$dir" cargo test --release --locked --test it \
    blockchain_tests::test_a_folder -- --ignored --nocapture 2>&1)
  [ $? -eq 0 ] || status=1
  echo "${dir#"$root"/}: $(grep -E '^[0-9]+ tests, ' <<<"$out")"
  grep -E '^[A-Za-z0-9_]+/.*: (block|head|state|genesis|undecodable|panicked)' <<<"$out" | cut -c1-240 | sed 's/^/  /'
done < <(find "$root" -type d \( -name ValidBlocks -o -name InvalidBlocks \) -path '*BlockchainTests*' -not -path '*Filler*' | sort)
# An imported block's ommers as the uncle methods serve them (no test in
# ../shared has ommers).
LANES_LEGACYTESTS="$root" cargo test --release --locked --test it \
  import_chain::test_an_imported_blocks_ommers_are_served_as_geth_serves_them -- --ignored \
  >/dev/null 2>&1 && echo "uncle methods: ok" || { echo "uncle methods: FAILED"; status=1; }
exit $status
