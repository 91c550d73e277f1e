#!/usr/bin/env bash
# The network-fault run (issue 60): four validators and a replica in network
# namespaces (ip netns, so as root), a steady signed load, then latency,
# loss, a validator cut off, a 2-2 split and proposer link cuts, injected by
# a user-space TCP proxy on the consensus links (this kernel has no netem).
# Prints the table docs/figures.md keeps and exits 1 if an acknowledged
# transaction was lost, a height got two blocks, or the nodes disagree at
# the end. Needs scripts/install-clients.sh's eth-account (signing).
# Environment: RATE (tx/s, 10), PHASE_SECONDS (20), CUT_SECONDS (30),
# NETFAULTS_DIR (/tmp/lanes-netfaults: configs and each node's log).
# --short (what .ci/run runs): the debug build cargo test made, 5 s phases
# and 10 s cuts; the same checks, figures not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--short" ]; then
    export LANES_BIN="${LANES_BIN:-target/debug/lanes-validator}" PHASE_SECONDS=5 CUT_SECONDS=10
    cargo build --quiet --bin lanes-validator
else
    cargo build --release --quiet --bin lanes-validator
fi
exec python3 scripts/netfaults.py
