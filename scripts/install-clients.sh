#!/usr/bin/env bash
# Installs the real Ethereum clients the end-to-end tests drive (web3.py and
# eth-account from PyPI into target/clients/python, ethers v6, viem and
# puppeteer-core (which drives Chromium in the explorer's browser test) from
# npm into target/clients/node, hardhat 2 and hardhat-network-helpers 1 from npm into
# target/clients/hardhat, anvil 1.7.1 from npm into target/clients/anvil, to
# compare answers with, and Debian's Chromium for the headless checks of
# lanes-loadgen's HTML report and the explorer page), where the tests look.
# `cargo test` skips the client test when they are missing; .ci/run installs
# them and sets LANES_REQUIRE_CLIENTS=1 so the test cannot be skipped there.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=target/clients/python
if [ -d "$dest/web3" ] && [ -d "$dest/eth_account" ]; then
    echo "web3.py already installed in $dest"
else
    mkdir -p "$dest"
    python3 -m pip install --quiet --disable-pip-version-check --target "$dest" \
        "web3==8.0.0" "eth-account==0.14.0"
    echo "installed web3.py into $dest"
fi
node_dest=target/clients/node
if [ -d "$node_dest/node_modules/ethers" ] && [ -d "$node_dest/node_modules/viem" ] \
    && [ -d "$node_dest/node_modules/puppeteer-core" ]; then
    echo "ethers, viem and puppeteer-core already installed in $node_dest"
else
    mkdir -p "$node_dest"
    # A private package.json keeps npm from walking up into the repository.
    printf '{"name":"lanes-node-clients","private":true}\n' > "$node_dest/package.json"
    npm install --prefix "$node_dest" --no-audit --no-fund --silent "ethers@6.17.0" "viem@2.57.20" \
        "puppeteer-core@25.16.0"
    echo "installed ethers, viem and puppeteer-core into $node_dest"
fi
hardhat_dest=target/clients/hardhat
if [ -d "$hardhat_dest/node_modules/@nomicfoundation/hardhat-network-helpers" ]; then
    echo "hardhat and hardhat-network-helpers already installed in $hardhat_dest"
else
    mkdir -p "$hardhat_dest"
    printf '{"name":"lanes-hardhat-clients","private":true}\n' > "$hardhat_dest/package.json"
    npm install --prefix "$hardhat_dest" --no-audit --no-fund --silent \
        "hardhat@2.29.1" "@nomicfoundation/hardhat-network-helpers@1.1.2"
    echo "installed hardhat and hardhat-network-helpers into $hardhat_dest"
fi
anvil_dest=target/clients/anvil
if [ -x "$anvil_dest/node_modules/.bin/anvil" ] && [ -x "$anvil_dest/node_modules/.bin/cast" ]; then
    echo "anvil and cast already installed in $anvil_dest"
else
    mkdir -p "$anvil_dest"
    printf '{"name":"lanes-anvil","private":true}\n' > "$anvil_dest/package.json"
    npm install --prefix "$anvil_dest" --no-audit --no-fund --silent \
        "@foundry-rs/anvil@1.7.1" "@foundry-rs/cast@1.7.1"
    echo "installed anvil and cast into $anvil_dest"
fi
if command -v chromium > /dev/null; then
    echo "chromium already installed: $(command -v chromium)"
elif command -v apt-get > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends --quiet chromium > /dev/null \
        || { apt-get update --quiet > /dev/null && apt-get install -y --no-install-recommends --quiet chromium > /dev/null; }
    echo "installed chromium: $(command -v chromium)"
else
    echo "chromium is not installed and there is no apt-get: install Debian's chromium (or set LANES_CHROMIUM)" >&2
fi
