#!/usr/bin/env bash
# The hostile-API suite: a loopback server (tests/lib/hostile_api.py) answers
# cfstorage's first requests with malformed JSON, huge, endless and
# value-bomb bodies, an endless header stream, a wrong content type, odd
# `errors` arrays, cursor cycles (A,B,A), fresh cursors forever, a cursor of
# 100 kB, result_info that lies, a huge Retry-After (in seconds and as a
# date), 429 forever, slowloris headers, a 1-byte-per-2-s body and silence.
# For each case `cfstorage plan` and `cfstorage apply` (each on its own copy
# of a state file written by a real apply against cfemu) must end in under
# MAX_MS with a peak RSS under MAX_KB (/usr/bin/time -f %M), exit 1 with ONE
# line that says what went wrong, send no write, and leave the state file
# byte for byte unchanged (cmp).
#
# The three fresh-cursor cases reach the listing bounds lowered through
# CFSTORAGE_TEST_LIST_BOUNDS (tests only: the real ones, 1,000,000 buckets or
# keys and 256 MiB, take minutes and hundreds of megabytes by design); every
# other case meets the real bounds. The three slow cases (10 s of stall,
# retried once) run in the background while the others run.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh

MAX_MS=30000   # the issue's bound on one run
MAX_KB=65536   # ... and on its peak RSS (64 MB)
TEST_BOUNDS=300,10000,4194304 # pages, items, bytes for the fresh-cursor cases
[ -x /usr/bin/time ] || fail "/usr/bin/time is needed (Debian package 'time')"

mkdir -p "$tmp/m"
cat > "$tmp/m/all.yaml" <<'EOF'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata:
  name: hostile-bucket
spec:
  deletionPolicy: Retain
---
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata:
  name: hostile-ns
spec:
  entries:
    - key: greeting
      value: hello
---
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata:
  name: hostile-secret
spec:
  generate:
    bytes: 32
    encoding: hex
  targets:
    - secretsStore:
        store: default
        name: HOSTILE_SECRET
        scopes: [workers]
EOF

# The pre-existing state: what one real apply records.
emu_start
cfs apply --state "$tmp/state.json" -f "$tmp/m"
expect_rc 0 "apply against cfemu"
emu_stop
NS_ID=$(python3 -c 'import json,sys
print([r["id"] for r in json.load(open(sys.argv[1]))["resources"] if r["kind"] == "KVNamespace"][0])' \
	"$tmp/state.json") || fail "no namespace id in the state"
cp "$tmp/state.json" "$tmp/state.orig"

# run_case CASE [ENV=VALUE...]: starts the server for CASE and runs plan and
# apply against it at once, each on its own copy of the state; leaves
# "rc ms rss" in $tmp/c/CASE/{plan,apply}.res for check_case.
run_case() {
	local case=$1 d="$tmp/c/$1" port= spid cmd pids=
	shift
	mkdir -p "$d"
	: > "$d/srv.out"
	python3 tests/lib/hostile_api.py "$case" "$NS_ID" > "$d/srv.out" 2> "$d/srv.err" &
	spid=$!
	for _ in $(seq 1 500); do # bounded poll for the "listening on" line
		port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$d/srv.out")
		[ -n "$port" ] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.01
	done
	if [ -z "$port" ]; then
		echo "server did not start: $(head -3 "$d/srv.err")" > "$d/srv.fail"
		kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
		return
	fi
	for cmd in plan apply; do
		mkdir -p "$d/$cmd"
		cp "$tmp/state.orig" "$d/$cmd/state.json"
		(
			s=$(date +%s%N)
			rc=0
			env "$@" CLOUDFLARE_API_BASE_URL="http://127.0.0.1:$port/client/v4" \
				/usr/bin/time -f %M -o "$d/$cmd/rss" \
				"$BIN/cfstorage" "$cmd" --state "$d/$cmd/state.json" -f "$tmp/m" \
				> "$d/$cmd/out" 2>&1 || rc=$?
			e=$(date +%s%N)
			echo "$rc $(( (e - s) / 1000000 )) $(tail -n 1 "$d/$cmd/rss")" > "$d/$cmd.res"
		) &
		pids="$pids $!"
	done
	wait $pids
	kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
}

# check_case CASE REGEX: both runs met every bound and said REGEX in one line.
check_case() {
	local case=$1 want=$2 d="$tmp/c/$1" cmd rc ms rss
	[ -f "$d/srv.fail" ] && fail "$case: $(cat "$d/srv.fail")"
	if grep -q '^WRITE' "$d/srv.err"; then fail "$case: a write was sent: $(grep -m1 '^WRITE' "$d/srv.err")"; fi; ok
	for cmd in plan apply; do
		[ -f "$d/$cmd.res" ] || fail "$case $cmd: no result"
		read -r rc ms rss < "$d/$cmd.res"
		cp "$d/$cmd/out" "$tmp/cfs.out" # for fail()'s context
		[ "$rc" = 1 ] || fail "$case $cmd: exit $rc, want 1"; ok
		[ "$ms" -lt "$MAX_MS" ] || fail "$case $cmd: took $ms ms (bound $MAX_MS)"; ok
		[ "$rss" -lt "$MAX_KB" ] || fail "$case $cmd: peak RSS $rss kB (bound $MAX_KB)"; ok
		[ "$(wc -l < "$d/$cmd/out")" = 1 ] || fail "$case $cmd: $(wc -l < "$d/$cmd/out") lines of output, want one"; ok
		grep -q '^cfstorage: ' "$d/$cmd/out" || fail "$case $cmd: not an error line"; ok
		grep -qE -- "$want" "$d/$cmd/out" || fail "$case $cmd: output lacks /$want/"; ok
		cmp -s "$tmp/state.orig" "$d/$cmd/state.json" || fail "$case $cmd: the state file changed"; ok
		printf '%-20s %-5s exit %s %6d ms %6d kB  %s\n' "$case" "$cmd" "$rc" "$ms" "$rss" \
			"$(cut -c1-120 "$d/$cmd/out")"
	done
}

# The control: answered honestly, the same server lets plan through.
mkdir -p "$tmp/c/friendly"
python3 tests/lib/hostile_api.py friendly "$NS_ID" > "$tmp/c/friendly/srv.out" 2>&1 &
fpid=$!
until_ok 10 grep -q '^listening on' "$tmp/c/friendly/srv.out" || fail "friendly server did not start"
FPORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$tmp/c/friendly/srv.out")
cp "$tmp/state.orig" "$tmp/c/friendly/state.json"
CLOUDFLARE_API_BASE_URL="http://127.0.0.1:$FPORT/client/v4" cfs plan --state "$tmp/c/friendly/state.json" -f "$tmp/m"
kill "$fpid"; wait "$fpid" 2>/dev/null
[ "$rc" = 0 ] || [ "$rc" = 2 ] || fail "plan against the friendly server: exit $rc"; ok
expect_out '^Plan: ' "plan against the friendly server"

# The slow cases, in the background while the rest run.
slow_cases="slowloris trickle_body silent"
for c in $slow_cases; do run_case "$c" & done

fast_cases="malformed_json wrong_content_type huge_body endless_body header_flood json_bomb
	errors_not_array errors_no_code errors_10000 success_false cursor_cycle cursor_cycle_keys
	long_cursor lying_namespaces lying_secrets retry_after_huge retry_after_date
	throttled_forever"
for c in $fast_cases; do run_case "$c"; done
for c in fresh_cursors fresh_cursors_big fresh_cursors_keys; do
	run_case "$c" CFSTORAGE_TEST_LIST_BOUNDS="$TEST_BOUNDS"
done
wait

check_case malformed_json     "R2 buckets \(default\): the response is not JSON"
check_case wrong_content_type "the response is not JSON .*content type 'text/html"
check_case huge_body          "response larger than [0-9]+ bytes"
check_case endless_body       "response larger than [0-9]+ bytes"
check_case header_flood       "response headers larger than [0-9]+ bytes"
check_case json_bomb          "the response holds more than [0-9]+ JSON values"
check_case errors_not_array   "HTTP 400$"
check_case errors_no_code     "HTTP 400$"
check_case errors_10000       "HTTP 400, code 10000: error number 0"
check_case success_false      "no result.buckets array in the response"
check_case cursor_cycle       "R2 buckets \(default\): page 3 gave the cursor that page 1 gave before, the listing loops"
check_case cursor_cycle_keys  "keys of KV namespace 'hostile-ns': page 3 gave the cursor that page 1 gave before"
check_case long_cursor        "a cursor of 100000 bytes, over the limit of 2048"
check_case lying_namespaces   "listing KV namespaces: more than 100 pages, the limit of one listing"
check_case lying_secrets      "secrets of Secrets Store '[0-9a-f]+': more than 100 pages"
check_case retry_after_huge   "HTTP 429.*Retry-After 999999 s is longer than the 300 s cfstorage waits"
check_case retry_after_date   "HTTP 429.*Retry-After [0-9]+ s is longer than the 300 s"
check_case throttled_forever  "HTTP 429; gave up after 31 attempts"
check_case fresh_cursors      "R2 buckets \(default\): more than 10000 items, the limit of one listing"
check_case fresh_cursors_big  "R2 buckets \(default\): more than 4194304 bytes of responses"
check_case fresh_cursors_keys "keys of KV namespace 'hostile-ns': more than 300 pages"
for c in $slow_cases; do
	check_case "$c" "too slow.*gave up after 2 attempts"
done

echo "hostile_api: $checks passed, 0 failed"
