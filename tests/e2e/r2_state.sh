#!/usr/bin/env bash
# The state in the account's own R2 (--state r2://BUCKET/KEY) through cfemu's
# S3 listener, credentials derived from the same token: two CI runners with
# no local state agree; two applies started together never both hold the
# lock (and lose or duplicate nothing); a writer killed with -9 leaves a lock
# that expires and is taken over; two daemons: one active, one standby that
# takes over after kill -9 within the lease; migrate file -> r2 -> file is
# byte-equal; state show/unlock; S3 requests counted apart from the API's.
# Lock timings are shortened with the test-only CFSTORAGE_TEST_R2_LOCK_MS.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
ROOT=$PWD
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac # run.sh gives an absolute BIN
emu_start --latency-ms 40
S3_PORT=$(sed -n 's#^s3 listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$tmp/emu.out")
[ -n "$S3_PORT" ] || fail "no s3 listening line"; ok
export CLOUDFLARE_R2_ENDPOINT="http://127.0.0.1:$S3_PORT"
unset R2_ACCESS_KEY_ID R2_SECRET_ACCESS_KEY
S=r2://cfstorage-state/prod.json
[ "$(api POST /r2/buckets -d '{"name":"cfstorage-state"}')" = 200 ] || fail "state bucket"
bucket_exists() { [ "$(api GET "/r2/buckets/$1")" = 200 ]; }
obj() { curl -s -o "$tmp/obj" -w '%{http_code}' "$EMU/__emu/s3/default/cfstorage-state/$1"; }
mk() { # mk DIR NAME...: a runner's checkout with one R2Bucket manifest per NAME
	local d=$1; shift; rm -rf "$d"; mkdir -p "$d/m"
	for n in "$@"; do printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: %s}\nspec: {}\n' "$n" > "$d/m/$n.yaml"; done
}
in_dir() { local d=$1; shift; (cd "$d" && "$@"); }
cfs_in() { local d=$1; shift; rc=0; (cd "$d" && "$BIN/cfstorage" "$@") >"$tmp/cfs.out" 2>&1 || rc=$?; }

# --- two runners, fresh checkouts, no local state
mk "$tmp/a" r2-one r2-two; mk "$tmp/b" r2-one r2-two
cfs_in "$tmp/a" apply -f m --state "$S"
expect_rc 0 "runner a applies"
expect_out "R2 S3 requests? for the state \(not under the API budget\)" "S3 requests counted apart"
[ ! -e "$tmp/a/.cfstorage" ] || fail "runner a wrote local state"; ok
w0=$(emu_stat writes); r0=$(emu_stat requests)
cfs_in "$tmp/b" plan -f m --state "$S"
expect_rc 0 "runner b plans clean"
expect_out "No changes" "runner b sees no changes"
[ "$(emu_stat writes)" = "$w0" ] || fail "runner b wrote"; ok
# the footer's API count is the v4 API's only (plan: 1 list + 1 token verify for the credentials)
api_n=$(sed -n 's/.* \([0-9]*\) API requests\? (0 writes).*/\1/p' "$tmp/cfs.out")
[ "$api_n" = 1 ] || fail "footer API requests: '$api_n'"; ok
[ "$(obj prod.json)" = 200 ] && grep -q '"name":\s*"r2-one"' "$tmp/obj" || fail "state object"; ok
[ "$(obj prod.json.lock)" = 404 ] || fail "lock left behind"; ok
[ "$(api DELETE /r2/buckets/cfstorage-state)" = 409 ] || fail "the state bucket could be deleted"; ok
cfs_in "$tmp/b" state show --state "$S"
expect_rc 0 "state show"
expect_out "R2Bucket r2-one bucket=r2-one" "show lists the inventory"
expect_out "^lock: none" "show: no lock"

# --- two applies together, waiting allowed: both finish, nothing duplicated or lost
mk "$tmp/a" r2-one r2-two c-1 c-2 c-3; mk "$tmp/b" r2-one r2-two c-1 c-2 c-3
w0=$(emu_stat writes)
export CFSTORAGE_TEST_R2_LOCK_MS=3000,1000,10000
(cd "$tmp/a" && exec "$BIN/cfstorage" apply -f m --state "$S") > "$tmp/ca.out" 2>&1 & pa=$!
(cd "$tmp/b" && exec "$BIN/cfstorage" apply -f m --state "$S") > "$tmp/cb.out" 2>&1 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
[ "$ra" = 0 ] && [ "$rb" = 0 ] || fail "waiting applies: $ra $rb $(cat "$tmp/ca.out" "$tmp/cb.out")"; ok
[ "$(( $(emu_stat writes) - w0 ))" = 3 ] || fail "writes: $(( $(emu_stat writes) - w0 )), want 3 creates"; ok
created=$(grep -h "^  + " "$tmp/ca.out" "$tmp/cb.out" | wc -l)
[ "$created" = 3 ] || fail "creates reported: $created"; ok
obj prod.json >/dev/null
python3 - "$tmp/obj" <<'PY' || fail "state records"
import json, sys
names = [r["name"] for r in json.load(open(sys.argv[1]))["resources"]]
assert sorted(names) == ["c-1", "c-2", "c-3", "r2-one", "r2-two"], names
PY
ok
# --- two applies together, no wait: exactly one runs, the other names the holder
mk "$tmp/a" r2-one r2-two c-1 c-2 c-3 d-1 d-2; mk "$tmp/b" r2-one r2-two c-1 c-2 c-3 d-1 d-2
export CFSTORAGE_TEST_R2_LOCK_MS=3000,1000,0
(cd "$tmp/a" && exec "$BIN/cfstorage" apply -f m --state "$S") > "$tmp/ca.out" 2>&1 & pa=$!
(cd "$tmp/b" && exec "$BIN/cfstorage" apply -f m --state "$S") > "$tmp/cb.out" 2>&1 & pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
[ "$((ra + rb))" = 1 ] || fail "no-wait applies: $ra $rb"; ok
grep -h "is locked by another cfstorage (pid [0-9]* on host .* (apply))" "$tmp/ca.out" "$tmp/cb.out" >/dev/null || fail "loser did not name the holder"; ok
obj prod.json >/dev/null; grep -c '"kind"' "$tmp/obj" | grep -qx 7 || fail "state after the race"; ok

# --- a writer killed with -9 leaves a lock that expires and is taken over
mk "$tmp/a" r2-one r2-two c-1 c-2 c-3 d-1 d-2 k-1 k-2 k-3 k-4 k-5 k-6
export CFSTORAGE_TEST_R2_LOCK_MS=1500,500,8000
(cd "$tmp/a" && exec "$BIN/cfstorage" apply -f m --state "$S" --parallelism 1) > "$tmp/ck.out" 2>&1 & pk=$!
until_ok 5 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' $EMU/__emu/s3/default/cfstorage-state/prod.json.lock)\" = 200 ]" || fail "no lock seen"
until_ok 5 bucket_exists k-1 || fail "killed writer made no progress"
kill -9 $pk; wait $pk 2>/dev/null
[ "$(obj prod.json.lock)" = 200 ] || fail "the killed writer's lock is gone"; ok
cfs_in "$tmp/b" state show --state "$S"
expect_out "^lock: pid $pk on host" "show names the stale holder"
cfs_in "$tmp/a" apply -f m --state "$S" -v
expect_rc 0 "the next apply converges"
expect_out "took over an expired state lock" "takeover logged"
cfs_in "$tmp/a" plan -f m --state "$S"
expect_rc 0 "converged"
# unlock --force removes a lock whoever holds it
curl -s -X PUT "$EMU/__emu/s3/default/cfstorage-state/prod.json.lock" -d '{"holder":"pid 1 on host gone","expiresMs":99999999999999}' >/dev/null
cfs_in "$tmp/a" state unlock --state "$S"
expect_rc 1 "unlock without --force"
cfs_in "$tmp/a" state unlock --force --state "$S"
expect_rc 0 "unlock --force"
[ "$(obj prod.json.lock)" = 404 ] || fail "lock still there"; ok

# --- two daemons: one active, one standby writing nothing; kill -9 -> takeover
export CFSTORAGE_TEST_R2_LOCK_MS=1500,500,0
mk "$tmp/d" r2-one r2-two c-1 c-2 c-3 d-1 d-2 k-1 k-2 k-3 k-4 k-5 k-6
start_d() { # start_d NAME
	: > "$tmp/$1.out"
	(cd "$tmp/d" && exec "$BIN/cfstorage" run --state "$S" --listen 127.0.0.1:0 --interval 1s -f m) > "$tmp/$1.out" 2> "$tmp/$1.err" &
	eval "${1}pid=$!"
	local port; port=$(listen_port "$tmp/$1.out" "$(eval echo "\$${1}pid")") || fail "$1 did not start: $(tail -3 "$tmp/$1.err")"
	eval "${1}url=http://127.0.0.1:$port"
}
leader_of() { curl -s "$1/metrics" | awk '$1=="cfstorage_leader"{print $2}'; }
trap 'kill -9 ${xpid:-} ${ypid:-} 2>/dev/null; cleanup' EXIT
start_d x
until_ok 5 sh -c "[ \"\$(curl -s $xurl/metrics | awk '\$1==\"cfstorage_leader\"{print \$2}')\" = 1 ]" || fail "x not leader"; ok
start_d y
until_ok 5 curl -sf "$yurl/readyz" || fail "standby not ready"; ok
[ "$(leader_of "$yurl")" = 0 ] || fail "y should be standby"; ok
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: dm-1}\nspec: {}\n' > "$tmp/d/m/dm-1.yaml"
until_ok 5 bucket_exists dm-1 || fail "leader did not apply"; ok
! grep -q 'msg="applied"' "$tmp/y.err" || fail "the standby applied"; ok
n=$(curl -s "$xurl/metrics" | awk '$1=="cfstorage_state_s3_requests_total"{print $2}')
[ "${n:-0}" -gt 0 ] || fail "s3 requests metric: '$n'"; ok
kill -9 "$xpid"; wait "$xpid" 2>/dev/null; xpid=
t0=$(date +%s%N)
until_ok 8 sh -c "[ \"\$(curl -s $yurl/metrics | awk '\$1==\"cfstorage_leader\"{print \$2}')\" = 1 ]" || fail "y did not take over"; ok
# within the lease (1.5 s) plus one standby campaign period (DAEMON_CAMPAIGN_MS, 3 s)
took=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$took" -le 5500 ] || fail "takeover took $took ms"; ok
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: dm-2}\nspec: {}\n' > "$tmp/d/m/dm-2.yaml"
until_ok 5 bucket_exists dm-2 || fail "new leader did not apply"; ok
kill -TERM "$ypid"; wait "$ypid" || fail "y exited non-zero"; ypid=
[ "$(obj prod.json.lock)" = 404 ] || fail "y left its lock"; ok

# --- migrate file -> r2 -> file, byte-equal; a non-empty target is refused
unset CFSTORAGE_TEST_R2_LOCK_MS
mk "$tmp/f" f-1 f-2
cfs_in "$tmp/f" apply -f m --state st.json
expect_rc 0 "file-state apply"
cfs_in "$tmp/f" state migrate --state st.json --to "$S"
expect_rc 1 "migrate onto a non-empty r2 state"
expect_out "already holds .* not overwriting it without --force" "refusal says why"
cfs_in "$tmp/f" state migrate --state st.json --to r2://cfstorage-state/mig.json
expect_rc 0 "migrate file -> r2"
cfs_in "$tmp/f" state migrate --state r2://cfstorage-state/mig.json --to back.json
expect_rc 0 "migrate r2 -> file"
cmp "$tmp/f/st.json" "$tmp/f/back.json" || fail "round trip differs"; ok
obj mig.json >/dev/null; cmp "$tmp/f/st.json" "$tmp/obj" || fail "r2 copy differs"; ok

# --- a state bucket in the eu jurisdiction (cfemu: the signed cf-r2-jurisdiction header)
[ "$(api POST /r2/buckets -H 'cf-r2-jurisdiction: eu' -d '{"name":"state-eu"}')" = 200 ] || fail "eu bucket"
cfs_in "$tmp/f" state migrate --state st.json --to 'r2://state-eu/p.json?jurisdiction=eu'
expect_rc 0 "migrate to an eu state"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$EMU/__emu/s3/eu/state-eu/p.json")" = 200 ] || fail "eu object"; ok
cfs_in "$tmp/f" state migrate --state st.json --to 'r2://state-eu/p.json'
expect_rc 1 "the eu bucket is not in the default jurisdiction"
expect_out "state bucket 'state-eu' does not exist" "NoSuchBucket named"

# --- explicit S3 credentials: wrong ones are refused in S3's words
R2_ACCESS_KEY_ID=c0ffee00c0ffee00c0ffee00c0ffee00 R2_SECRET_ACCESS_KEY=0000 cfs_in "$tmp/b" plan -f m --state "$S"
expect_rc 1 "wrong secret"
expect_out "HTTP 403 SignatureDoesNotMatch" "S3 error named"
# the token and the derived secret are never printed
sec=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
if grep -rqF -e "$TOKEN" -e "$sec" "$tmp"/*.out "$tmp"/*.err; then fail "a credential was printed"; fi; ok
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp"/*.err "$tmp"/*.out >/dev/null; then fail "sanitizer report"; fi; ok
emu_stop
echo "r2_state: $checks passed, 0 failed"
