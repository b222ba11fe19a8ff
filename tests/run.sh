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
# rotation to come round, minutes of real time): it is started in the
# background when the plain flavour starts, runs beside everything else, and
# its result is collected (and its output printed) at the end. The sanitizer
# flavour skips it: what it checks is timing, which the plain build shows.
# Prints a closing "N passed, N failed" line and exits non-zero on any failure.
set -u
flavour=$1 bindir=$2 unitdir=$3
cd "$(dirname "$0")/.."
export BIN="$PWD/$bindir" FLAVOUR="$flavour"
passed=0 failed=0 failures=()
bg_pids=() bg_names=()
mkdir -p "build/$flavour"
if [ "$flavour" = plain ]; then
  for t in tests/e2e/*.bg.sh; do
    [ -f "$t" ] || continue
    echo "== [$flavour] e2e $(basename "$t") (started in the background)"
    ( t0=$SECONDS; timeout 900 bash "$t"; rc=$?; echo "   ($(basename "$t"): $((SECONDS - t0)) s)"; exit $rc ) \
      > "build/$flavour/$(basename "$t" .sh).log" 2>&1 &
    bg_pids+=($!) bg_names+=("$(basename "$t")")
  done
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

for i in "${!bg_pids[@]}"; do
  name=${bg_names[$i]}
  echo "== [$flavour] e2e $name (background: waiting for its result)"
  if wait "${bg_pids[$i]}"; then passed=$((passed+1)); else failed=$((failed+1)); failures+=("e2e $name"); fi
  cat "build/$flavour/${name%.sh}.log"
done

echo "$passed $failed" > "build/$flavour/summary"
echo "$flavour: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
