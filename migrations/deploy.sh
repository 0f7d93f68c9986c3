#!/usr/bin/env bash
# Deploys adl-engine and bootstraps an exchange (collateral mint, exchange, insurance fund,
# oracle, markets with their large accounts) on localnet or devnet.
#
#   migrations/deploy.sh localnet                 # solana-test-validator on this machine
#   migrations/deploy.sh devnet --capacity 4096   # extra flags go to `adl-keeper bootstrap`
#
#   ADL_SKIP_DEPLOY=1 migrations/deploy.sh localnet   # the program is already there
#                                                      # (adl-localnet registers it natively)
#
# Needs the Solana CLI, Anchor CLI 1.2.2 and cargo (not the first two with ADL_SKIP_DEPLOY=1).
# ADL_KEEPER_BIN names a built adl-keeper binary to use instead of `cargo run`. The admin keypair is
# $ADL_KEYPAIR (default ~/.config/solana/id.json); on devnet it needs SOL for rent (a book of
# 4,096 positions is ~426 KB; 100,000 positions ~10.4 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
cluster="${1:-localnet}"
shift || true
keypair="${ADL_KEYPAIR:-$HOME/.config/solana/id.json}"
case "$cluster" in
  localnet) url="${ADL_RPC_URL:-http://127.0.0.1:8899}" ;;
  devnet) url="${ADL_RPC_URL:-$(solana config get --url devnet json_rpc_url 2>/dev/null | awk '{print $NF}')}" ;;
  *) echo "usage: $0 [localnet|devnet] [bootstrap flags]" >&2; exit 2 ;;
esac
if [ "${ADL_SKIP_DEPLOY:-0}" = 1 ]; then
  echo "deploy skipped (ADL_SKIP_DEPLOY=1): adl-engine is expected at $url already"
else
  mkdir -p target/deploy
  [ -f target/deploy/adl_engine-keypair.json ] || cp keys/adl_engine-keypair.json target/deploy/
  anchor build
  anchor deploy --provider.cluster "$cluster" --provider.wallet "$keypair"
fi
if [ -n "${ADL_KEEPER_BIN:-}" ]; then
  "$ADL_KEEPER_BIN" bootstrap --rpc-url "$url" --keypair "$keypair" "$@"
else
  cargo run -p adl-keeper --release -- bootstrap --rpc-url "$url" --keypair "$keypair" "$@"
fi
