#!/usr/bin/env bash
# Compiles every contracts/*.sol into contracts/artifacts/<Name>.json.
# Installs solc (solcjs, the npm package) into contracts/.solc on first use.
# Re-runnable and deterministic: running it twice gives identical artifacts.
set -euo pipefail

SOLC_VERSION="0.8.37"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="$HERE/.solc"

installed_version() {
  node -e "try { process.stdout.write(require('$CACHE/node_modules/solc/package.json').version) } catch (e) {}"
}

if [[ "$(installed_version)" != "$SOLC_VERSION" ]]; then
  echo "installing solc@$SOLC_VERSION into $CACHE" >&2
  rm -rf "$CACHE"
  mkdir -p "$CACHE"
  # A private package.json keeps npm from walking up into the repository.
  printf '{"name":"lanes-solc-cache","private":true}\n' > "$CACHE/package.json"
  npm install --prefix "$CACHE" --no-audit --no-fund --no-save --ignore-scripts \
    "solc@$SOLC_VERSION" >&2
  if [[ "$(installed_version)" != "$SOLC_VERSION" ]]; then
    echo "error: solc@$SOLC_VERSION did not install into $CACHE" >&2
    exit 1
  fi
fi

SOLC_MODULE="$CACHE/node_modules/solc" SOLC_VERSION="$SOLC_VERSION" \
  node "$HERE/compile.mjs"
