#!/usr/bin/env bash
# Runs the fuzz targets (see README.md beside this script).
#   tests/fuzz/run.sh replay REPLAYBIN TARGET
#       feeds regressions/TARGET and the seeds corpus/TARGET to a replay
#       driver (any flavour, any compiler), skipping what known-crashes lists;
#   tests/fuzz/run.sh fuzz SECONDS [TARGET...]
#       libFuzzer (build/fuzz/bin/fuzz_TARGET) for SECONDS per target, one
#       process at a time, growing build/fuzz/corpus/TARGET from the seeds;
#   tests/fuzz/run.sh brief SECONDS [TARGET...]
#       the same on a throw-away corpus (make test).
# Prints one summary line per target and exits non-zero on any crash.
set -u
cd "$(dirname "$0")/../.."
here=tests/fuzz
mode=${1:?mode}

# known TARGET: the known-crash inputs of TARGET (paths below regressions/).
known() {
  [ -f "$here/known-crashes" ] || return 0
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$here/known-crashes" | grep -E "^$1/" || true
}

replay() {
  local bin=$1 target=$2 tmp rc files=() skipped=0 f
  tmp=$(mktemp); trap 'rm -f "$tmp"' RETURN
  for f in "$here/regressions/$target"/* "$here/corpus/$target"/*; do
    [ -f "$f" ] || continue
    if [ "${f#"$here/regressions/"}" != "$f" ] &&
       known "$target" | grep -qxF "${f#"$here/regressions/"}"; then
      skipped=$((skipped+1)); continue
    fi
    files+=("$f")
  done
  if [ ${#files[@]} -eq 0 ]; then
    echo "fuzz replay $target: no inputs"; return 1
  fi
  timeout 300 "$bin" "${files[@]}" 2>"$tmp"; rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL fuzz replay $target (exit $rc); the input that failed is the last named:"
    grep -v '^replay: ' "$tmp" | head -n 40
    grep '^replay: ' "$tmp" | tail -n 1
    return 1
  fi
  echo "fuzz replay $target: ${#files[@]} inputs passed, $skipped known crashes skipped"
}

# libfuzz SECONDS CORPUSDIR TARGET: one libFuzzer run; prints its summary.
libfuzz() {
  local secs=$1 corpus=$2 target=$3 bin=build/fuzz/bin/fuzz_$3 art log rc last
  local dict=()
  art=build/fuzz/artifacts/$target; log=build/fuzz/logs/$target.log
  mkdir -p "$corpus" "$art" build/fuzz/logs
  [ -f "$here/$target.dict" ] && dict=(-dict="$here/$target.dict")
  [ -x "$bin" ] || { echo "FAIL fuzz $target: $bin is not built (make fuzz-build needs clang)"; return 1; }
  # the first corpus directory receives new inputs; the seeds stay as they are
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "${dict[@]}" "$corpus" "$here/corpus/$target" >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's#.* corp: \([0-9]*/[0-9A-Za-z]*\).*#\1#p' <<<"$last")
  secs_run=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  echo "fuzz $target: ${execs:-?} execs in ${secs_run:-?} s, cov ${cov:-?} ft ${ft:-?}, corpus ${corp:-?}" | tee -a build/fuzz/summary.log
  if [ $rc -ne 0 ]; then
    echo "FAIL fuzz $target: exit $rc; log $log; crash input(s):"
    ls "$art"/* 2>/dev/null | sed 's/^/  /'
    grep -E 'runtime error|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer|SUMMARY|^fuzz_[a-z]*: ' "$log" | head -n 8
    echo "  (fix it, then add the input to $here/regressions/$target/)"
    return 1
  fi
}

targets() {
  if [ $# -gt 0 ]; then printf '%s\n' "$@"; return; fi
  for f in "$here"/fuzz_*.c; do t=${f##*/fuzz_}; echo "${t%.c}"; done
}

case $mode in
replay)
  replay "$2" "$3" ;;
fuzz|brief)
  secs=${2:?seconds}; shift 2; fail=0
  for t in $(targets "$@"); do
    if [ "$mode" = fuzz ]; then
      libfuzz "$secs" "build/fuzz/corpus/$t" "$t" || fail=1
    else
      tmpc=$(mktemp -d)
      libfuzz "$secs" "$tmpc" "$t" || fail=1
      rm -rf "$tmpc"
    fi
  done
  exit $fail ;;
*)
  echo "usage: tests/fuzz/run.sh replay BIN TARGET | fuzz SECONDS [TARGET...] | brief SECONDS [TARGET...]" >&2
  exit 2 ;;
esac
