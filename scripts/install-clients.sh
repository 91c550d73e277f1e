#!/usr/bin/env bash
# Installs the real Ethereum clients the end-to-end tests drive (web3.py and
# eth-account from PyPI) into target/clients/python, where the tests look.
# `cargo test` skips the client test when they are missing; .ci/run installs
# them and sets LANES_REQUIRE_CLIENTS=1 so the test cannot be skipped there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/clients/python
if [ -d "$dest/web3" ] && [ -d "$dest/eth_account" ]; then
    echo "clients already installed in $dest"
    exit 0
fi
mkdir -p "$dest"
python3 -m pip install --quiet --disable-pip-version-check --target "$dest" \
    "web3==8.0.0" "eth-account==0.14.0"
echo "installed web3.py into $dest"
