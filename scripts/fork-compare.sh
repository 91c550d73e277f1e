#!/usr/bin/env bash
# lanes-validator --dev --fork-url against anvil --fork-url, both forking one
# anvil upstream on loopback that tests/clients/fork.py builds (tokens, a
# pair, a contract wallet): each runs the same forked-chain test script
# through a counting proxy, then reads TOUCHES accounts never read before,
# twice each. Prints each run (interleaved) and the medians: upstream HTTP
# requests and JSON-RPC calls, state calls asked twice, the script's time,
# and first-touch / cached latency of eth_getBalance and of a token balance.
#
#   RUNS=3 TOUCHES=50 scripts/fork-compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_anvil
[ -d target/clients/python/web3 ] || scripts/install-clients.sh >&2
cargo build --release --bins >&2
python3 scripts/fork_compare.py "$PWD" "$PWD/$anvil" "${RUNS:-3}" "${TOUCHES:-50}"
