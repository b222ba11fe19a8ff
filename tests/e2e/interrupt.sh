#!/usr/bin/env bash
# Ctrl-C during an apply: SIGINT once the apply is under way (20 buckets, 300 ms
# of latency on every call): exit 130, the printed summary matches the account and
# the state, and a second apply completes the rest with no duplicate. SIGTERM
# exits 143; a second SIGINT exits at once, the state still readable.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start --latency-ms 300
for i in $(seq -w 1 20); do
	printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: int-%s}\nspec: {}\n' "$i"
done > "$tmp/m.yaml"
st=(--state "$tmp/state.json")
buckets() { api GET '/r2/buckets?per_page=1000' >/dev/null; python3 -c "
import json; b=[x['name'] for x in json.load(open('$tmp/body'))['result']['buckets'] if x['name'].startswith('int-')]
assert len(b)==len(set(b)), 'duplicate'; print(len(b))"; }
owned() { python3 -c "import json; print(len([r for r in json.load(open('$tmp/state.json'))['resources'] if not r.get('pending')]))"; }
# interrupt DELAY-WRITES SIGNAL: starts an apply, signals it after N writes
interrupt() {
	local w0; w0=$(emu_stat writes)
	"$BIN/cfstorage" apply "${st[@]}" -f "$tmp/m.yaml" >"$tmp/cfs.out" 2>&1 &
	local pid=$!
	started() { [ "$(emu_stat writes)" -ge $((w0 + $1)) ]; }
	until_ok 20 started "$1" || fail "the apply made no writes"
	kill -"$2" "$pid"
	rc=0; wait "$pid" || rc=$?
}
interrupt 3 INT
expect_rc 130 "first SIGINT"
expect_out '^cfstorage: interrupted: [0-9]+ actions? done' "what was done is said"
done_n=$(sed -n 's/^Apply: \([0-9]*\) created.*/\1/p' "$tmp/cfs.out")
[ -n "$done_n" ] && [ "$done_n" -lt 20 ] || fail "the summary says '$done_n' created"; ok
[ "$(buckets)" = "$done_n" ] || fail "account holds $(buckets) buckets, the summary says $done_n"; ok
[ "$(owned)" = "$done_n" ] || fail "the state records $(owned), the summary says $done_n"; ok
cfs apply "${st[@]}" -f "$tmp/m.yaml"
expect_rc 0 "second apply completes the rest"
[ "$(buckets)" = 20 ] && [ "$(owned)" = 20 ] || fail "not 20 buckets after the second apply"; ok
# SIGTERM exits 143; two SIGINTs exit at once
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: int-term-%s}\nspec: {}\n' $(seq 1 40) >> "$tmp/m.yaml"
interrupt 2 TERM
expect_rc 143 "SIGTERM"
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: int-twice-%s}\nspec: {}\n' $(seq 1 40) >> "$tmp/m.yaml"
w0=$(emu_stat writes)
"$BIN/cfstorage" apply "${st[@]}" -f "$tmp/m.yaml" >"$tmp/cfs.out" 2>&1 &
pid=$!
started() { [ "$(emu_stat writes)" -ge $((w0 + 2)) ]; }
until_ok 20 started || fail "no writes"
kill -INT "$pid"; kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
expect_rc 130 "second SIGINT exits at once"
python3 -c "import json; json.load(open('$tmp/state.json'))" || fail "state unreadable after two SIGINTs"; ok
cfs apply "${st[@]}" -f "$tmp/m.yaml"
expect_rc 0 "converges after the double interrupt"
cfs plan "${st[@]}" -f "$tmp/m.yaml"
expect_rc 0 "clean"
emu_stop
echo "interrupt: $checks passed, 0 failed"
