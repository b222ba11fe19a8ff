#!/usr/bin/env bash
# apply at a terminal (a pseudo-terminal, tests/lib/ptyrun.py) against a slow
# API (200 ms on every call): each action's line appears as it completes (a
# failure's with its reason), the first within 2 s, with a progress line on stderr; colour on the terminal and
# none when piped, with NO_COLOR or with --no-color. A plan that deletes asks
# first: 'no' leaves the account and the state as they were, 'yes' deletes;
# --yes and a piped apply never ask.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start --latency-ms 200
export TERM=xterm
unset NO_COLOR
st=(--state "$tmp/state.json")
# manifest N...: one R2Bucket live-N (deletionPolicy Delete) for each N
manifest() {
	for i in "$@"; do
		printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: live-%s}\nspec: {deletionPolicy: Delete}\n' "$i"
	done > "$tmp/m.yaml"
}
buckets() { api GET '/r2/buckets?per_page=1000' >/dev/null; python3 -c "
import json; print(len([x for x in json.load(open('$tmp/body'))['result']['buckets'] if x['name'].startswith('live-')]))"; }
# onpty [ptyrun options] -- ARGS...: cfstorage ARGS on a terminal; what it
# wrote in $tmp/cfs.out, its exit status in $rc
onpty() { rc=0; python3 tests/lib/ptyrun.py "$tmp/cfs.out" "$@" || rc=$?; }
sgr='\x1b\[[0-9;]*m'    # a colour (the progress line's \r\x1b[K is not one)
has() { grep -qaP -- "$1" "$tmp/cfs.out" || fail "$2: output lacks /$1/"; ok; }
lacks() { if grep -qaP -- "$1" "$tmp/cfs.out"; then fail "$2: output has /$1/"; fi; ok; }

# 12 creates, two at a time: a couple of seconds of work
manifest $(seq -w 1 12)
onpty --first 'R2Bucket live-\d+: created' -- "$BIN/cfstorage" apply "${st[@]}" --parallelism 2 \
	--log-level info -f "$tmp/m.yaml"
expect_rc 0 "apply on a terminal"
first=$(cat "$tmp/cfs.out.first")
python3 -c "import sys; sys.exit(0 if '$first' != 'never' and float('$first') < 2 else 1)" \
	|| fail "the first action line came after ${first}s"; ok
has "  \x1b\[32m\+\x1b\[0m R2Bucket live-\d+: created\r" "a green + per created bucket"
[ "$(grep -acP 'R2Bucket live-\d+: created\r' "$tmp/cfs.out")" = 12 ] || fail "not 12 live lines"; ok
has '\rapplying: \d+/12 done, \d+ requests?, \d+ rate-limit waits?, \d+\.\ds\x1b\[K' "the progress line"
has '^Apply: 12 created, 0 updated, 0 deleted' "the summary"
has '\r\x1b\[Kts=\S+ level=info msg="applied"' "a log line takes the progress line's place"
lacks 's\x1b\[Kts=' "a log line never follows the progress line on its line"
[ "$(buckets)" = 12 ] || fail "account holds $(buckets) buckets"; ok

# piped: the output scripts read, no colour, no live line, no progress line
manifest $(seq -w 1 13)
cfs apply "${st[@]}" -f "$tmp/m.yaml"
expect_rc 0 "piped apply"
lacks '\x1b' "no escape at all when piped"
[ "$(head -n 1 "$tmp/cfs.out")" = "cfstorage applied these actions:" ] || fail "piped output starts with a live line"; ok
has "^  \+ R2Bucket live-13: create bucket 'live-13'$" "the report, uncoloured"

# NO_COLOR (any non-empty value) and --no-color: the lines, without colour
manifest $(seq -w 1 14)
onpty -- env NO_COLOR=1 "$BIN/cfstorage" apply "${st[@]}" -f "$tmp/m.yaml"
expect_rc 0 "NO_COLOR apply"
has '^  \+ R2Bucket live-14: created\r' "a live line"
lacks "$sgr" "NO_COLOR: no colour"
manifest $(seq -w 1 15)
onpty -- "$BIN/cfstorage" apply "${st[@]}" --no-color -f "$tmp/m.yaml"
expect_rc 0 "--no-color apply"
has '^  \+ R2Bucket live-15: created\r' "a live line"
lacks "$sgr" "--no-color: no colour"

# a Secret's line too (its job is apply's, its success told at the end)
printf -- 'apiVersion: cfstorage.dev/v1alpha1\nkind: Secret\nmetadata: {name: live-key}\nspec:\n  generate: {bytes: 16}\n  targets:\n    - secretsStore: {store: default, name: LIVE_KEY}\n' > "$tmp/s.yaml"
onpty -- "$BIN/cfstorage" apply "${st[@]}" -f "$tmp/m.yaml" -f "$tmp/s.yaml"
expect_rc 0 "a Secret on a terminal"
has '  \x1b\[32m\+\x1b\[0m Secret live-key: created\r' "the Secret's line"
val=$(curl -s "$EMU/__emu/secret-values" | python3 -c "
import json, sys; print(next(iter(json.load(sys.stdin)['secretsStore'].values()))['LIVE_KEY_V1'])")
[ -n "$val" ] || fail "no LIVE_KEY_V1 in the store"; ok
if grep -qaF -- "$val" "$tmp/cfs.out"; then fail "the Secret's value reached the terminal"; fi; ok

# a failed action: its line says why, with a bold red !
manifest $(seq -w 1 16)
curl -s -X POST "$EMU/__emu/faults" -d '{"method":"POST","route":"/accounts/{account_id}/r2/buckets","status":400,"count":1}' >/dev/null
onpty -- "$BIN/cfstorage" apply "${st[@]}" -f "$tmp/m.yaml"
expect_rc 1 "a failed create"
has "  \x1b\[1;31m!\x1b\[0m R2Bucket live-16: create failed: .*HTTP 400" "the failure's line"
curl -s -X DELETE "$EMU/__emu/faults" >/dev/null

# a plan that deletes asks on a terminal; 'no' changes nothing
manifest $(seq -w 1 12)
sum0=$(sha256sum < "$tmp/state.json"); w0=$(emu_stat writes)
onpty --answer no -- "$BIN/cfstorage" apply "${st[@]}" --prune -f "$tmp/m.yaml"
expect_rc 1 "declined"
has "R2Bucket live-15: delete bucket 'live-15'" "the question lists what goes"
has "Delete 3 resources\? Only 'yes' will be accepted: " "the question"
has "cfstorage: apply cancelled: nothing was changed" "said so"
[ "$(buckets)" = 15 ] && [ "$(emu_stat writes)" = "$w0" ] || fail "declined, yet the account changed"; ok
[ "$(sha256sum < "$tmp/state.json")" = "$sum0" ] || fail "declined, yet the state changed"; ok
onpty --answer yes -- "$BIN/cfstorage" apply "${st[@]}" --prune -f "$tmp/m.yaml"
expect_rc 0 "accepted"
has "  \x1b\[31m-\x1b\[0m R2Bucket live-13: deleted\r" "a red - per deleted bucket"
has '^Apply: 0 created, 0 updated, 3 deleted' "the summary"
[ "$(buckets)" = 12 ] || fail "account holds $(buckets) buckets after 'yes'"; ok

# --yes on a terminal, and an apply piped on a terminal, never ask (a
# question would wait until ptyrun's limit: exit 124)
manifest $(seq -w 1 13); cfs apply "${st[@]}" -f "$tmp/m.yaml"; expect_rc 0 "re-create"
manifest $(seq -w 1 12)
onpty --limit 15 -- "$BIN/cfstorage" apply "${st[@]}" --prune --yes -f "$tmp/m.yaml"
expect_rc 0 "--yes"
lacks "will be accepted" "--yes asks nothing"
has 'R2Bucket live-13: deleted' "--yes deleted"
manifest $(seq -w 1 13); cfs apply "${st[@]}" -f "$tmp/m.yaml"; expect_rc 0 "re-create"
manifest $(seq -w 1 12)
onpty --limit 15 -- sh -c "\"$BIN/cfstorage\" apply --state \"$tmp/state.json\" --prune -f \"$tmp/m.yaml\" | cat"
expect_rc 0 "piped apply on a terminal"
lacks "will be accepted" "a piped apply asks nothing"
has "^  - R2Bucket live-13: delete bucket 'live-13'" "and deletes"
[ "$(buckets)" = 12 ] || fail "account holds $(buckets) buckets"; ok
emu_stop
echo "live: $checks passed, 0 failed"
