#!/usr/bin/env bash
# All tests: the Rust workspace (program, keeper, integration and property tests on the
# in-process bank; the RPC tests on the embedded validator), then the TypeScript client on the
# account bytes those tests wrote, the web viewer in headless Chromium, and the TypeScript
# client and live viewer against the embedded validator over JSON-RPC.
#
# A build cache outside the checkout: set CARGO_TARGET_DIR (for example
# CARGO_TARGET_DIR=~/.cache/adl-engine/target); every step finds its files there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
# Cargo's real build directory (CARGO_TARGET_DIR, build.target-dir, or target/): the npm
# steps read the golden files and binaries the Rust tests leave there.
ADL_TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --offline \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
export ADL_TARGET_DIR
echo "build directory: $ADL_TARGET_DIR"
cargo test --workspace
cd app
npm ci --no-audit --no-fund
npm run gen:check
npx tsc -p tsconfig.json
npm run build
npm test
npm run e2e
npm run rpc
