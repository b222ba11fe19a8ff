#!/usr/bin/env bash
# High availability with the etcd state backend (Debian's etcd-server, started
# here on loopback ports with a temporary data directory): one leader writes,
# a standby reports ready and writes nothing, the standby takes over after
# kill -9 of the leader, a leader whose lease is revoked stops writing at
# once, and a CLI apply against a held state names the holder. Bounded polls.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
command -v etcd >/dev/null || fail "etcd is not installed (make deps installs etcd-server)"
read -r cport pport < <(python3 -c "
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(('127.0.0.1',0)) for x in s]
print(*[x.getsockname()[1] for x in s])")
etcd --name t --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
	--advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "t=http://127.0.0.1:$pport" \
	> "$tmp/etcd.log" 2>&1 &
etcd_pid=$!
trap 'kill $etcd_pid ${apid:-} ${bpid:-} 2>/dev/null; cleanup' EXIT
E="http://127.0.0.1:$cport"
until_ok 10 curl -sf -X POST "$E/v3/kv/range" -d '{"key":"eA=="}' || fail "etcd did not start"
emu_start
S="etcd://127.0.0.1:$cport/cfstorage-test"
m="$tmp/m"; mkdir -p "$m"
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: ha-one}\nspec: {}\n' > "$m/a.yaml"

start_daemon() { # start_daemon NAME -> NAME_pid, NAME_url
	: > "$tmp/$1.out"
	"$BIN/cfstorage" run --state "$S" --listen 127.0.0.1:0 --interval 1s -f "$m" > "$tmp/$1.out" 2> "$tmp/$1.err" &
	eval "${1}pid=$!"
	local port
	port=$(listen_port "$tmp/$1.out" "$(eval echo "\$${1}pid")") || fail "$1 did not start: $(tail -3 "$tmp/$1.err")"
	eval "${1}url=http://127.0.0.1:$port"
}
leader_of() { curl -s "$1/metrics" | awk '$1=="cfstorage_leader"{print $2}'; }
bucket_exists() { [ "$(api GET "/r2/buckets/$1")" = 200 ]; }

start_daemon a
until_ok 5 bucket_exists ha-one || fail "leader did not apply"; ok
[ "$(leader_of "$aurl")" = 1 ] || fail "a is not the leader"; ok
start_daemon b
until_ok 5 curl -sf "$burl/readyz" || fail "standby not ready"; ok
[ "$(leader_of "$burl")" = 0 ] || fail "b should be standby"; ok
grep -q 'standby: another replica is the leader' "$tmp/b.err" || fail "b did not log standby"; ok

# a CLI run against the held state names the holder and changes nothing
cfs apply --state "$S" -f "$m"
expect_rc 1 "cli against a held state"
expect_out "is locked by another cfstorage \(pid $apid on host" "holder named"

# the standby writes nothing
w0=$(emu_stat writes)
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: ha-two}\nspec: {}\n' > "$m/b.yaml"
until_ok 5 bucket_exists ha-two || fail "leader did not apply the edit"; ok
! grep -q 'msg="applied"' "$tmp/b.err" || fail "the standby applied something"; ok

# kill -9 the leader: the standby takes over within the lease TTL and writes
kill -9 "$apid"; wait "$apid" 2>/dev/null; apid=
until_ok 25 sh -c "[ \"\$(curl -s $burl/metrics | awk '\$1==\"cfstorage_leader\"{print \$2}')\" = 1 ]" || fail "b did not take over"; ok
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: ha-three}\nspec: {}\n' > "$m/c.yaml"
until_ok 5 bucket_exists ha-three || fail "new leader did not apply"; ok
python3 -c "
import base64, json, urllib.request
r = urllib.request.urlopen(urllib.request.Request('$E/v3/kv/range', data=json.dumps({'key': base64.b64encode(b'/cfstorage-test/state').decode()}).encode()))
s = json.loads(base64.b64decode(json.load(r)['kvs'][0]['value']))
names = {x['name'] for x in s['resources']}
assert {'ha-one','ha-two','ha-three'} <= names, names" || fail "state in etcd incomplete"; ok

# revoke b's lease behind its back: b stops writing at once
lease=$(python3 -c "
import base64, json, urllib.request
r = urllib.request.urlopen(urllib.request.Request('$E/v3/kv/range', data=json.dumps({'key': base64.b64encode(b'/cfstorage-test/leader').decode()}).encode()))
print(json.load(r)['kvs'][0]['lease'])")
curl -s -X POST "$E/v3/lease/revoke" -d "{\"ID\":\"$lease\"}" >/dev/null
until_ok 8 grep -q 'leadership lost' "$tmp/b.err" || fail "b did not notice the lost lease"; ok
kill -TERM "$bpid"; wait "$bpid" || fail "b exited non-zero"; bpid=
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp"/*.err >/dev/null; then fail "sanitizer report"; fi
emu_stop
echo "ha: $checks passed, 0 failed"
