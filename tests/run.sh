#!/usr/bin/env bash
# Runs every suite for one build flavour:
#   tests/run.sh FLAVOUR BINDIR UNITDIR
# 1. each cmocka binary in UNITDIR (one per module);
# 2. the manifest fixtures (tests/fixtures.sh), compared with their goldens;
# 3. the fuzz targets' regression corpora, replayed with this flavour's
#    drivers (UNITDIR/../fuzz/replay_*); and, when FUZZ_TEST_SECONDS > 0 (the
#    asan pass with clang installed), each libFuzzer target for that long;
# 4. every tests/e2e/*.sh, with BIN=BINDIR in the environment.
# A script named *.bg.sh is long and mostly idle (it waits for a daemon's
# rotation or a rate limiter, minutes of real time): tests/bg.sh runs it in
# the background with the plain build. `make test` starts those before the
# plain flavour and collects them after the sanitizer flavour (CFS_BG=outside
# tells this script so); run alone, the plain flavour starts and collects them
# itself. The sanitizer flavour never runs them: what they check is timing,
# which the plain build shows.
# Prints a closing "N passed, N failed" line and exits non-zero on any failure.
set -u
flavour=$1 bindir=$2 unitdir=$3
cd "$(dirname "$0")/.."
export BIN="$PWD/$bindir" FLAVOUR="$flavour"
passed=0 failed=0 failures=()
mkdir -p "build/$flavour"
own_bg=0
if [ "$flavour" = plain ] && [ "${CFS_BG:-}" != outside ]; then
  bash tests/bg.sh start "$bindir"
  own_bg=1
fi

for t in "$unitdir"/test_*; do
  [ -x "$t" ] || continue
  echo "== [$flavour] unit $(basename "$t")"
  if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("unit $(basename "$t")"); fi
done

echo "== [$flavour] manifest fixtures"
if bash tests/fixtures.sh "$bindir"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("fixtures"); fi

for t in "${unitdir%/tests}"/fuzz/replay_*; do
  [ -x "$t" ] || continue
  name=${t##*/replay_}
  echo "== [$flavour] fuzz regressions $name"
  if bash tests/fuzz/run.sh replay "$t" "$name"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("fuzz regressions $name"); fi
done
if [ "${FUZZ_TEST_SECONDS:-0}" -gt 0 ]; then
  for t in build/fuzz/bin/fuzz_*; do
    [ -x "$t" ] || continue
    name=${t##*/fuzz_}
    echo "== [$flavour] fuzz $name (${FUZZ_TEST_SECONDS} s)"
    if bash tests/fuzz/run.sh brief "$FUZZ_TEST_SECONDS" "$name"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("fuzz $name"); fi
  done
fi

for t in tests/e2e/*.sh; do
  [ -f "$t" ] || continue
  case "$t" in *.bg.sh) continue ;; esac
  echo "== [$flavour] e2e $(basename "$t")"
  t0=$SECONDS
  if timeout 600 bash "$t"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("e2e $(basename "$t")"); fi
  echo "   ($(basename "$t"): $((SECONDS - t0)) s)"
done

if [ "$own_bg" = 1 ]; then
  bash tests/bg.sh wait
  read -r bp bf < build/bg/summary
  passed=$((passed + bp)) failed=$((failed + bf))
  [ "$bf" = 0 ] || failures+=("background scripts (build/bg/*.log)")
fi

echo "$passed $failed" > "build/$flavour/summary"
echo "$flavour: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
