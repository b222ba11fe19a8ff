#!/usr/bin/env bash
# The long, mostly idle e2e scripts (tests/e2e/*.bg.sh: they wait minutes of
# real time for a daemon's rotation or a rate limiter, using little CPU), run
# beside the rest of `make test` rather than in its sequence:
#   tests/bg.sh start BINDIR   starts each one in the background (plain build)
#   tests/bg.sh wait           waits for each (a bounded poll on its exit-code
#                              file), prints its output and writes
#                              build/bg/summary ("PASSED FAILED")
# `make test` starts them before the plain flavour and waits after the
# sanitizer flavour, so they overlap both; `make test-plain` alone runs them
# itself through tests/run.sh.
set -u
cd "$(dirname "$0")/.."
dir=build/bg
BG_TIMEOUT=900 # seconds any one script may take

case "${1:-}" in
start)
	bindir=$2
	rm -rf "$dir" && mkdir -p "$dir"
	for t in tests/e2e/*.bg.sh; do
		[ -f "$t" ] || continue
		name=$(basename "$t" .sh)
		echo "== [bg] e2e $name.sh (started in the background)"
		( export BIN="$PWD/$bindir" FLAVOUR=plain; t0=$SECONDS
		  timeout "$BG_TIMEOUT" bash "$t" > "$dir/$name.log" 2>&1; rc=$?
		  echo "   ($name.sh: $((SECONDS - t0)) s)" >> "$dir/$name.log"
		  echo "$rc" > "$dir/$name.rc.tmp" && mv "$dir/$name.rc.tmp" "$dir/$name.rc" ) \
			< /dev/null > /dev/null 2>&1 &
		echo "$name" >> "$dir/started"
	done
	;;
wait)
	passed=0 failed=0 failures=()
	[ -f "$dir/started" ] || { echo "0 0" > "$dir/summary"; exit 0; }
	. tests/lib/poll.sh
	while read -r name; do
		echo "== [bg] e2e $name.sh (waiting for its result)"
		until_ok $((BG_TIMEOUT + 60)) test -f "$dir/$name.rc" || echo "bg: $name.sh gave no result"
		cat "$dir/$name.log" 2>/dev/null
		if [ "$(cat "$dir/$name.rc" 2>/dev/null)" = 0 ]; then passed=$((passed+1));
		else failed=$((failed+1)); failures+=("e2e $name.sh"); fi
	done < "$dir/started"
	echo "$passed $failed" > "$dir/summary"
	echo "bg: $passed passed, $failed failed"
	if [ "$failed" -gt 0 ]; then printf '  failed: %s\n' "${failures[@]}"; exit 1; fi
	;;
*)
	echo "usage: tests/bg.sh start BINDIR | wait" >&2
	exit 2
	;;
esac
