#!/usr/bin/env bash
# All tests: the Rust workspace (program, keeper, integration and property tests on the
# in-process bank), then the TypeScript client on the account bytes those tests wrote, then
# the web viewer in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "the browser test needs Debian's chromium: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
cd app
npm ci --no-audit --no-fund
npm run gen:check
npx tsc -p tsconfig.json
npm run build
npm test
npm run e2e
