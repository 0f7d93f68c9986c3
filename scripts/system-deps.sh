#!/usr/bin/env bash
# Debian packages the build and tests need beyond the Rust toolchain and Node.js:
# libclang-dev (bindgen for RocksDB, linked by the embedded validator in localnet/) and
# chromium (the browser tests). Installs what is missing when run as root; otherwise says
# what to install.
set -euo pipefail
missing=()
if ! ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; then
  missing+=(libclang-dev)
fi
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
