#!/usr/bin/env bash
# System packages the build and tests need beyond the Rust toolchain and Node.js.
#
# Each prerequisite is checked by what is actually used, never by a file that merely looks
# alike (libclang-cpp.so.14, shipped by llvm-14, is not the libclang.so that clang-sys loads):
#   - on Debian/Ubuntu: the package itself must be installed (dpkg's status, not a file glob);
#   - elsewhere: the exact file or command the build loads (printed, never installed).
#
#   libclang-dev   bindgen (clang-sys) for RocksDB, linked by the embedded validator (localnet/):
#                  clang-sys loads libclang.so / libclang-<N>.so and needs clang's headers
#   pkg-config     openssl-sys finds OpenSSL through it
#   libssl-dev     OpenSSL headers and libssl.so (the validator's HTTP stack)
#   zlib1g-dev     libz-sys links the system zlib
#   g++, make      RocksDB and protoc are compiled from C++ by build scripts
#   chromium       the browser tests (app/e2e, app/test-rpc)
#
# Installs what is missing when run as root (apt-get), otherwise says what to install and
# fails. `--check` only reports (exit 1 when something is missing).
set -euo pipefail
check_only=0
[ "${1:-}" = "--check" ] && check_only=1

packages=(libclang-dev pkg-config libssl-dev zlib1g-dev g++ make chromium)
missing=()

if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
  done
else
  # Not Debian: look for what is loaded. clang-sys searches LIBCLANG_PATH, then
  # `llvm-config --libdir`, for libclang.so or libclang-<N>.so (libclang-cpp is not libclang).
  libdirs=()
  [ -n "${LIBCLANG_PATH:-}" ] && libdirs+=("$LIBCLANG_PATH")
  command -v llvm-config >/dev/null 2>&1 && libdirs+=("$(llvm-config --libdir)")
  found=0
  for d in "${libdirs[@]}"; do
    compgen -G "$d/libclang.so*" >/dev/null || compgen -G "$d/libclang-[0-9]*.so*" >/dev/null || continue
    found=1
  done
  [ $found = 1 ] || missing+=("libclang (set LIBCLANG_PATH to the directory of libclang.so)")
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  pkg-config --exists openssl 2>/dev/null || missing+=("OpenSSL development files")
  command -v c++ >/dev/null 2>&1 || missing+=("a C++ compiler")
  command -v make >/dev/null 2>&1 || missing+=(make)
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
    || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing system prerequisites: ${missing[*]}" >&2
    exit 1
  fi
  exit 0
fi

[ ${#missing[@]} -eq 0 ] && exit 0
if [ $check_only = 1 ]; then
  echo "missing Debian packages: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing Debian packages: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
