#!/usr/bin/env bash
# Ethereum's execution-spec tests (EEST v5.4.0, ../shared/fixtures/eest/):
# every test through lanes' import path, each refused block judged by the
# reason its expectException names. Prints "eest: P of T pass, K known to
# fail"; a new failure, or a known one that passes, fails the run.
#
#   scripts/eest.sh                 # all 13,869 tests (~2 minutes on 2 cores, release)
#   scripts/eest.sh eip7610         # those whose name contains "eip7610"
#
# CI runs a subset (tests/it/eest.rs: test_eest_subset) in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export LANES_REQUIRE_FIXTURES=1
if [ $# -gt 0 ]; then
  export LANES_BLOCKCHAIN_TEST="$1"
fi
cargo test --release --locked --test it eest::test_eest_all -- --ignored --nocapture
