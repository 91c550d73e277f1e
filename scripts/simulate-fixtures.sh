#!/usr/bin/env bash
# execution-apis' eth_simulateV1 fixtures against lanes, as hive's rpc-compat
# simulator runs them: the fixtures' chain (tests/genesis.json, tests/chain.rlp)
# imported with `lanes-validator import`, served, and every
# tests/eth_simulateV1/*.io request answered exactly as the file says (error
# messages aside). The fixtures are not part of lanes: bring a checkout of
# github.com/ethereum/execution-apis.
#
#   scripts/simulate-fixtures.sh EXECUTION_APIS_DIR [-v] [NAME_FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
apis=${1:?usage: scripts/simulate-fixtures.sh EXECUTION_APIS_DIR [-v] [NAME_FILTER]}
shift
source scripts/lib.sh
cargo build --release --bin lanes-validator >&2
target/release/lanes-validator import --genesis "$apis/tests/genesis.json" \
    --data-dir "$tmp/hive" "$apis/tests/chain.rlp" >&2
port=$(free_port)
target/release/lanes-validator --data-dir "$tmp/hive" --rpc-addr "127.0.0.1:$port" \
    > "$tmp/node.log" 2>&1 &
node_pid=$!
wait_for "$port"
python3 scripts/simulate_fixtures.py "http://127.0.0.1:$port" "$apis/tests/eth_simulateV1" "$@"
