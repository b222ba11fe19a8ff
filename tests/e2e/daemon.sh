#!/usr/bin/env bash
# The operator loop against cfemu: a manifest edit is applied within 3 s,
# drift is repaired at the next interval, a rotation that falls due happens,
# one failing resource backs off while the others converge, invalid edits
# keep the last good set, /metrics passes promtool and its counters move,
# SIGTERM exits 0 within 5 s with the state saved, and kill -9 then restart
# converges with no duplicate. Waits are bounded polls on conditions.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
m="$tmp/m"; mkdir -p "$m"
# daemon_start STATE ARGS...: the daemon on the manifests in $m, a 2 s interval
# --interval 2s with the naive loop (every part every pass, the whole budget): a
# drift is repaired at the next interval. At the default --api-share 25% the
# list reads of a pass every 2 s would not fit the share (tests/e2e/
# daemon_share.bg.sh covers the rotation).
daemon_start() { local state=$1; shift; run_daemon "$state" --interval 2s --api-share 100% --observe-all -f "$m" "$@"; }
bucket_exists() { [ "$(api GET "/r2/buckets/$1")" = 200 ]; }
cors_exists() { [ "$(api GET "/r2/buckets/$1/cors")" = 200 ]; }
metric() { daemon_metric "$1"; }

cat > "$m/base.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: web-assets}
spec:
  cors:
    rules:
      - {allowedOrigins: ["https://web.example"], allowedMethods: [GET]}
---
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: flags}
spec: {}
Y
# a secret whose V1 is made a day minus 3 s ago, so its rotation falls due
cat > "$m/secret.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {name: session-key}
spec:
  generate: {bytes: 32}
  rotation: {everyDays: 1}
  targets:
    - secretsStore: {store: default, name: SESSION_KEY}
Y
past=$(python3 -c "import time; print(time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 86400 + 4)))")
cfs apply --state "$tmp/state.json" -f "$m" --now "$past"
expect_rc 0 "initial apply"

daemon_start "$tmp/state.json"
until_ok 5 curl -sf "$D/readyz" || fail "not ready"; ok
curl -sf "$D/healthz" >/dev/null || fail "healthz"; ok

# 1. a rotation that falls due is done by the daemon
vals() { curl -s "$EMU/__emu/secret-values" | python3 -c "import json,sys; v=json.load(sys.stdin)['secretsStore']; print(next(iter(v.values())).get('SESSION_KEY_VERSION','-'))"; }
until_ok 8 sh -c "[ \"\$(curl -s '$EMU/__emu/secret-values' | python3 -c \"import json,sys; v=json.load(sys.stdin)['secretsStore']; print(next(iter(v.values())).get('SESSION_KEY_VERSION','-'))\")\" = 2 ]" \
	|| fail "rotation not done (pointer $(vals))"; ok
grep -q 'reason=rotation-due' "$tmp/d.err" || grep -q 'secret version current" name=session-key version=2' "$tmp/d.err" || fail "no rotation logged"; ok

# 2. a manifest edit is applied within 3 s (editor-style: write a temp file, rename)
cat > "$m/.new.tmp" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: added-later}
spec: {}
Y
mv "$m/.new.tmp" "$m/added.yaml"
until_ok 3 bucket_exists added-later || fail "edit not applied within 3 s"; ok

# 3. drift is repaired at the next interval
[ "$(api DELETE /r2/buckets/web-assets/cors)" = 200 ] || fail "drift"
until_ok 5 cors_exists web-assets || fail "drift not repaired"; ok
d1=$(metric cfstorage_drift_corrections_total)
[ "${d1:-0}" -ge 1 ] || fail "drift counter did not move ($d1)"; ok

# 4. an invalid edit keeps the last good set
echo "kind: R2Bucket
metadata: {name: x}
spec: {bucketname: y}" > "$m/broken.yaml"
until_ok 10 grep -q 'manifests invalid; keeping the last good set' "$tmp/d.err" || fail "invalid edit not reported"; ok
[ "$(metric cfstorage_manifests_valid)" = 0 ] || fail "manifests_valid not 0"; ok
rm "$m/broken.yaml"
until_ok 10 sh -c "[ \"\$(curl -s $D/metrics | awk '\$1==\"cfstorage_manifests_valid\"{print \$2}')\" = 1 ]" || fail "valid again not seen"; ok

# 5. one resource keeps failing: it backs off, the others converge
curl -s -X POST "$EMU/__emu/faults" -d '{"method":"PUT","route":"/accounts/{account_id}/r2/buckets/{bucket_name}/cors","status":400,"count":100000}' >/dev/null
sed -i 's#https://web.example#https://www.web.example#' "$m/base.yaml"
cat > "$m/more.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: converges-anyway}
spec: {}
Y
until_ok 10 bucket_exists converges-anyway || fail "others did not converge"; ok
until_ok 10 sh -c "grep -c 'resource backing off\" kind=R2Bucket name=web-assets' '$tmp/d.err' | grep -q '^[3-9]'" || fail "no repeated backoff"; ok
grep 'resource backing off" kind=R2Bucket name=web-assets' "$tmp/d.err" | sed -n 's/.*retry_in_ms=\([0-9]*\).*/\1/p' | head -3 | tr '\n' ' ' > "$tmp/bo"
[ "$(cat "$tmp/bo")" = "1000 2000 4000 " ] || fail "backoff not doubling: $(cat "$tmp/bo")"; ok
puts=$(curl -s "$EMU/__emu/stats" | python3 -c "import json,sys; print(sum(r['count'] for r in json.load(sys.stdin)['routes'] if r['method']=='PUT' and r['route'].endswith('/cors')))")
[ "$puts" -le 6 ] || fail "the failing resource was hammered: $puts CORS PUTs"; ok
curl -s -X DELETE "$EMU/__emu/faults" >/dev/null

# 6. /metrics passes promtool; counters move
curl -s "$D/metrics" > "$tmp/metrics1"
if command -v promtool >/dev/null; then
	promtool check metrics < "$tmp/metrics1" > "$tmp/promtool.out" 2>&1 || fail "promtool: $(cat "$tmp/promtool.out")"; ok
else
	fail "promtool is not installed (make deps installs Debian's prometheus)"
fi
r1=$(metric 'cfstorage_reconciles_total{result="ok"}')
until_ok 5 sh -c "[ \"\$(curl -s $D/metrics | awk '\$1==\"cfstorage_reconciles_total{result=\\\"ok\\\"}\"{print \$2}')\" -gt $r1 ]" || fail "reconciles counter did not move"; ok
grep -q 'cfstorage_api_requests_total{method="GET",route="/accounts/{account_id}/r2/buckets",code="200"}' "$tmp/metrics1" || fail "api request series missing"; ok
grep -q 'cfstorage_secret_current_version{name="session-key"} 2' "$tmp/metrics1" || fail "secret version gauge"; ok
grep -q 'cfstorage_resources{kind="R2Bucket",condition="Ready"} [1-9]' "$tmp/metrics1" || fail "resources gauge"; ok

# no busy loop: passes come from the interval, changes and backoffs only
passes=$(grep -c 'msg="reconcile done"' "$tmp/d.err")
[ "$passes" -lt 100 ] || fail "$passes reconcile passes: the loop spins"; ok

# 7. SIGTERM: exit 0 within 5 s, state saved
start=$(date +%s%N)
kill -TERM "$dpid"
wait "$dpid"; drc=$?; dpid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$drc" = 0 ] || fail "daemon exited $drc on SIGTERM"; ok
[ "$ms" -lt 5000 ] || fail "SIGTERM took $ms ms"; ok
grep -q 'daemon stopped' "$tmp/d.err" || fail "no clean stop logged"; ok
python3 -c "import json; s=json.load(open('$tmp/state.json')); n={r['name'] for r in s['resources']}; assert {'web-assets','added-later','converges-anyway','flags'} <= n, n" || fail "state not saved"; ok
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/d.err" >/dev/null; then fail "sanitizer report"; fi

# 8. kill -9 in the middle of a pass, then restart: converged, no duplicate
for i in $(seq 1 60); do
	printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: bulk-%03d}\nspec: {lifecycle: {deleteAfterDays: %d}}\n---\n' "$i" "$i"
done > "$m/bulk.yaml"
emu_stop
emu_start --latency-ms 20
daemon_start "$tmp/state2.json"
until_ok 10 sh -c "[ \$(curl -s $EMU/__emu/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"writes\"])') -ge 20 ]" || fail "no writes before kill"
kill -9 "$dpid"; wait "$dpid" 2>/dev/null; dpid=
daemon_start "$tmp/state2.json"
until_ok 20 curl -sf "$D/readyz" || fail "not ready after restart"; ok
kill -TERM "$dpid"; wait "$dpid" || fail "second daemon exit"; dpid=
cfs plan --state "$tmp/state2.json" -f "$m"
expect_rc 0 "converged after kill -9 and restart"
api GET '/r2/buckets?per_page=1000' >/dev/null
python3 - "$tmp/body" "$tmp/state2.json" <<'PY' || fail "duplicates or orphans"
import json, sys
names = [b["name"] for b in json.load(open(sys.argv[1]))["result"]["buckets"]]
owned = {r["bucketName"] for r in json.load(open(sys.argv[2]))["resources"] if r["kind"] == "R2Bucket"}
bulk = [n for n in names if n.startswith("bulk-")]
assert len(bulk) == 60 == len(set(bulk)), len(bulk)
assert set(names) <= owned, set(names) - owned
PY
ok
emu_stop

# 9. SIGTERM while a request hangs: the in-flight call gets a grace period,
# then is dropped; exit 0 within 5 s all the same
emu_start --latency-ms 15000
daemon_start "$tmp/state3.json"
until_ok 5 grep -q 'daemon started' "$tmp/d.err" || fail "daemon 3 did not start"
start=$(date +%s%N)
kill -TERM "$dpid"
wait "$dpid"; drc=$?; dpid=
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$drc" = 0 ] || fail "exit $drc on SIGTERM with a hanging request"; ok
[ "$ms" -lt 5000 ] || fail "SIGTERM with a hanging request took $ms ms"; ok
emu_stop
echo "daemon: $checks passed, 0 failed"
