#!/usr/bin/env bash
# How long the explorer takes to draw a block of 1,000 transactions in
# headless Chromium, and how big its page is: runs the browser test
# (tests/it/explorer.rs, which draws the block three times) ROUNDS times
# (default 3) and prints each round's draws and their median.
# Needs scripts/install-clients.sh's puppeteer-core and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
cargo build --release --quiet --bin lanes-validator
for _ in $(seq "$rounds"); do
    cargo test --release --quiet --test it -- explorer::test_the_explorer_draws --nocapture 2>&1 \
        | grep '^draw ms' || { echo "the browser test failed" >&2; exit 1; }
done
bytes=$(cat node/src/explorer/page/*.html node/src/explorer/page/*.css node/src/explorer/page/*.js | wc -c)
echo "page: $bytes bytes (html, css and js, inlined into one)"
