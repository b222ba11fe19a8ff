#!/usr/bin/env bash
# Reconcile under a hostile API: random 5xx and dropped connections
# (--fault-rate), and kill -9 of cfstorage in the middle of a 200-resource
# apply. (The tight rate limit is ratelimit.bg.sh.)
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh

# gen N PREFIX FILE [KV]: N buckets and KV (default N/4) namespaces
gen() {
	local n=$1 p=$2 f=$3 kv=${4:-$(( $1 / 4 ))} i
	: > "$f"
	for i in $(seq 1 "$n"); do
		printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: %s-%03d}\nspec:\n  lifecycle: {deleteAfterDays: %d}\n---\n' "$p" "$i" "$i" >> "$f"
	done
	for i in $(seq 1 "$kv"); do
		printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: %s-kv-%03d}\nspec: {}\n---\n' "$p" "$i" >> "$f"
	done
}

# 1. faults: 20% of calls get a 5xx or a dropped connection.
emu_start --fault-rate 0.2 --seed 7
gen 20 flaky "$tmp/flaky.yaml"
st=(--state "$tmp/flaky.json")
cfs apply "${st[@]}" -f "$tmp/flaky.yaml"
if [ "$rc" = 2 ]; then
	expect_out 'FAILED: ' "a resource that could not finish is reported"
	expect_out ' [1-9][0-9]* failed\.' "failures counted"
else
	expect_rc 0 "apply under faults"
fi
for _ in 1 2 3; do # bounded: converges within a few runs
	cfs apply "${st[@]}" -f "$tmp/flaky.yaml"
	[ "$rc" = 0 ] && break
done
expect_rc 0 "apply converges under faults"
cfs plan "${st[@]}" -f "$tmp/flaky.yaml"
expect_rc 0 "plan clean under faults"
n=$(curl -s "$EMU/__emu/stats" | python3 -c "
import json,sys; s=json.load(sys.stdin)
print(sum(r['count'] for r in s['routes'] if r['method']=='POST' and r['route'].endswith('/r2/buckets') and r['status']==200))")
[ "$n" -ge 20 ] || fail "only $n bucket creates succeeded"; ok
emu_stop

# 2. the rate-limited apply (200 buckets at 30/10 s) is tests/e2e/ratelimit.bg.sh:
#    a minute of waiting, so it runs in the background beside the suite.

# 3. kill -9 in the middle of a 200-resource apply, then apply again.
emu_start --latency-ms 5
gen 160 crash "$tmp/crash.yaml"
ks=(--state "$tmp/crash.json")
"$BIN/cfstorage" apply "${ks[@]}" -f "$tmp/crash.yaml" > "$tmp/crash.out" 2>&1 &
cpid=$!
for _ in $(seq 1 2000); do # bounded poll: kill once 60 writes were made
	[ "$(emu_stat writes)" -ge 60 ] && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
w=$(emu_stat writes)
[ "$w" -ge 60 ] && [ "$w" -lt 400 ] || fail "kill landed after $w writes (want mid-apply)"; ok
cfs apply "${ks[@]}" -f "$tmp/crash.yaml"
expect_rc 0 "apply after kill -9"
cfs plan "${ks[@]}" -f "$tmp/crash.yaml"
expect_rc 0 "converged after kill -9"
api GET '/r2/buckets?per_page=1000' >/dev/null
python3 - "$tmp/body" "$tmp/crash.json" <<'PY' || fail "orphans or duplicates after kill -9"
import json, sys
acct = [b["name"] for b in json.load(open(sys.argv[1]))["result"]["buckets"] if b["name"].startswith("crash-")]
inv = json.load(open(sys.argv[2]))["resources"]
owned = {r["bucketName"] for r in inv if r["kind"] == "R2Bucket"}
assert len(acct) == 160 == len(set(acct)), (len(acct), len(set(acct)))
assert set(acct) <= owned, sorted(set(acct) - owned)[:5]
assert not any(r.get("pending") for r in inv)
PY
ok
api GET '/storage/kv/namespaces?per_page=1000' >/dev/null
python3 - "$tmp/body" <<'PY' || fail "duplicate namespaces after kill -9"
import json, sys
t = [n["title"] for n in json.load(open(sys.argv[1]))["result"] if n["title"].startswith("crash-")]
assert len(t) == 40 == len(set(t)), (len(t), len(set(t)))
PY
ok
emu_stop
echo "reconcile_faults: $checks passed, 0 failed"
