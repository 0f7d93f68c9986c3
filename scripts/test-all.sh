#!/usr/bin/env bash
# All tests: the Rust workspace (program, keeper, integration and property tests on the
# in-process bank; the RPC tests on the embedded validator), then the TypeScript client on the
# account bytes those tests wrote, the web viewer in headless Chromium, and the TypeScript
# client and live viewer against the embedded validator over JSON-RPC.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
cargo test --workspace
cd app
npm ci --no-audit --no-fund
npm run gen:check
npx tsc -p tsconfig.json
npm run build
npm test
npm run e2e
npm run rpc
