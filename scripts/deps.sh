#!/usr/bin/env bash
# Installs what the build and the tests need, only when it is missing.
# Debian packages through apt-get (we run as root on CI and on a fresh Debian 12);
# the npm test tools from the lock file under tests/ once it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config libyaml-dev libcurl4-openssl-dev libcjson-dev
      libssl-dev libcmocka-dev libmicrohttpd-dev libsqlite3-dev python3 time curl
      prometheus etcd-server man-db groff-base zsh
      clang libclang-rt-14-dev) # libFuzzer (libclang_rt.fuzzer) for tests/fuzz
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -f tests/package-lock.json ] && [ -z "${CFSTORAGE_SKIP_NPM:-}" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "deps: npm is missing; install nodejs (>= 20) and npm" >&2
    exit 1
  fi
  if [ ! -f tests/node_modules/.package-lock.json ] ||
     ! cmp -s tests/package-lock.json tests/.installed-lock 2>/dev/null; then
    echo "deps: installing pinned npm test tools (tests/package-lock.json)"
    (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp tests/package-lock.json tests/.installed-lock
  fi
fi
