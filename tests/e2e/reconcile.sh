#!/usr/bin/env bash
# Reconcile end to end against cfemu: apply, idempotence (0 writes), drift
# repair, the lifecycle shorthand without perpetual diff, prune rules,
# adopt/import, failures that must change nothing (bad token, unreachable
# endpoint, invalid manifests).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
export CFS_STATE="$tmp/state.json"
st=(--state "$tmp/state.json")

emu_start

# 1. apply the examples; a second apply writes nothing; plan is clean.
cfs apply "${st[@]}" -f manifests/examples
expect_rc 0 "first apply"
expect_out '^Apply: 5 created' "first apply"
# cfemu counts a D1 query of read-only statements (the migrations-table
# SELECT) as a read, as cfstorage's footer does: both must say 0 writes
w0=$(emu_stat writes)
cfs apply "${st[@]}" -f manifests/examples
expect_rc 0 "second apply"
[ "$(emu_stat writes)" = "$w0" ] || fail "second apply wrote ($(emu_stat writes) != $w0)"; ok
expect_out 'API requests \(0 writes\)' "second apply's footer: no write"
cfs plan "${st[@]}" -f manifests/examples
expect_rc 0 "plan after apply"
expect_out '^No changes' "plan after apply"
# the no-op plan reads 2 bucket lists, 1 KV list, 1 key listing, 2 lifecycle, 1 CORS,
# the Secret's target: 1 Secrets Store list and 1 page of its secrets, and the D1
# database: 1 list, 1 GET (readReplication) and 1 SELECT of its migrations table
r0=$(emu_stat requests)
cfs plan "${st[@]}" -f manifests/examples
r1=$(emu_stat requests)
[ $((r1 - r0)) -le 12 ] || fail "no-op plan used $((r1 - r0)) requests, want <= 12"; ok
expect_out '12 API requests \(0 writes\)' "no-op plan footer"

# -o json carries the same plan; --log-format json makes every log line a JSON object
cfs plan "${st[@]}" -o json -f manifests/examples
expect_rc 0 "plan -o json"
python3 -c "
import json; p=json.load(open('$tmp/cfs.out'))
assert p['summary']['changes'] is False and p['writes'] == 0 and len(p['actions']) >= 4, p['summary']" || fail "plan json"; ok
rc=0; "$BIN/cfstorage" plan "${st[@]}" -v --log-format json -f manifests/examples >/dev/null 2>"$tmp/log.json" || rc=$?
expect_rc 0 "json logs"
python3 -c "
import json; lines=[json.loads(l) for l in open('$tmp/log.json') if l.strip()]
assert lines and all('level' in l and 'msg' in l for l in lines), len(lines)" || fail "log lines are not JSON objects"; ok
if grep -q "$TOKEN" "$tmp/log.json"; then fail "the token is in the logs"; fi; ok

# 2. drift made through the API is shown field by field and repaired.
[ "$(api PUT /r2/buckets/build-cache/lifecycle -H 'content-type: application/json' \
	-d '{"rules":[{"id":"cfstorage-delete-after-days","enabled":true,"conditions":{"prefix":""},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":864000}}}]}')" = 200 ] || fail "drift lifecycle"
[ "$(api DELETE /r2/buckets/acme-app-logs/cors -H 'cf-r2-jurisdiction: eu')" = 200 ] || fail "drift cors"
api GET '/storage/kv/namespaces?per_page=100' >/dev/null
kvid=$(python3 -c "import json; print([n['id'] for n in json.load(open('$tmp/body'))['result'] if n['title']=='acme-feature-flags'][0])")
[ "$(api PUT "/storage/kv/namespaces/$kvid" -H 'content-type: application/json' -d '{"title":"renamed-by-hand"}')" = 200 ] || fail "drift rename"
cfs plan "${st[@]}" -f manifests/examples
expect_rc 2 "plan shows drift"
expect_out "lifecycle rule 'cfstorage-delete-after-days': expire 10 days → 14 days" "lifecycle drift"
expect_no_out "Default Multipart Abort Rule" "the default rule is Cloudflare's, not ours: never a diff"
expect_out '\+ cors policy \(1 rule\)' "cors drift"
expect_out "title: 'renamed-by-hand' → 'acme-feature-flags'" "rename drift"
cfs apply "${st[@]}" -f manifests/examples
expect_rc 0 "apply repairs drift"
expect_out 'Apply: 0 created, 3 updated' "apply repairs drift"
cfs plan "${st[@]}" -f manifests/examples
expect_rc 0 "plan clean after repair"

# 3. prune: owned + Delete + --prune deletes; Retain, unowned or no --prune never do.
m="$tmp/m"; mkdir -p "$m"
cat > "$m/a.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: prune-del}
spec: {deletionPolicy: Delete}
---
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: prune-keep}
spec: {}
---
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: prune-full}
spec: {deletionPolicy: Delete}
---
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: prune-kv}
spec: {deletionPolicy: Delete}
Y
ps=(--state "$tmp/prune.json")
cfs apply "${ps[@]}" -f "$m"; expect_rc 0 "prune setup"
curl -s -X POST "$EMU/__emu/r2/prune-full/objects" -d '[{"key":"a","size":1},{"key":"b","size":2},{"key":"c","size":3}]' >/dev/null
[ "$(api POST /r2/buckets -H 'content-type: application/json' -d '{"name":"not-ours"}')" = 200 ] || fail "unowned bucket"
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: other}\nspec: {}\n' > "$m/a.yaml"
cfs apply "${ps[@]}" -f "$m"
expect_rc 0 "no --prune"
expect_out "prune-del: bucket 'prune-del'" "plan shows the resource that left"
expect_out 'kept \(apply --prune deletes it' "without --prune it is kept"
api GET /r2/buckets/prune-del >/dev/null | true
[ "$(api GET /r2/buckets/prune-del)" = 200 ] || fail "deleted without --prune"; ok
cfs apply "${ps[@]}" --prune -f "$m"
expect_rc 1 "prune with a non-empty bucket"
expect_out "bucket is not empty \(3 objects\): not deleted" "non-empty refused with its count"
expect_out '^  - R2Bucket prune-del: delete' "owned Delete pruned"
expect_out '^  · R2Bucket prune-keep: forget' "Retain is forgotten, not deleted"
expect_out '^  - KVNamespace prune-kv: delete' "kv pruned"
[ "$(api GET /r2/buckets/prune-del)" = 404 ] || fail "prune-del still exists"; ok
[ "$(api GET /r2/buckets/prune-keep)" = 200 ] || fail "Retain bucket was deleted"; ok
[ "$(api GET /r2/buckets/prune-full)" = 200 ] || fail "non-empty bucket was deleted"; ok
[ "$(api GET /r2/buckets/not-ours)" = 200 ] || fail "unowned bucket was touched"; ok
: > "$tmp/empty.yaml"
cfs apply "${ps[@]}" --prune -f "$tmp/empty.yaml"
expect_rc 1 "empty manifest set"
expect_out 'manifest set is empty: refusing to prune everything without --allow-empty' "empty set refused"
[ "$(api GET /r2/buckets/prune-full)" = 200 ] || fail "empty set pruned"; ok

# 4. adopt and import; an unowned collision changes nothing.
[ "$(api POST /r2/buckets -H 'content-type: application/json' -d '{"name":"pre-existing"}')" = 200 ] || fail "pre-existing"
[ "$(api POST /r2/buckets -H 'content-type: application/json' -d '{"name":"imported-one"}')" = 200 ] || fail "imported-one"
cat > "$tmp/adopt.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: pre-existing}
spec: {storageClass: InfrequentAccess}
---
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: imported-one}
spec: {}
Y
as=(--state "$tmp/adopt.json")
w0=$(emu_stat writes)
cfs apply "${as[@]}" -f "$tmp/adopt.yaml"
expect_rc 1 "collision is refused"
expect_out "exists in the account but cfstorage does not own it; set 'adopt: true' or run 'cfstorage import R2Bucket pre-existing'" "refusal names the fix"
[ "$(emu_stat writes)" = "$w0" ] || fail "a refused collision wrote"; ok
cfs import "${as[@]}" R2Bucket imported-one -f "$tmp/adopt.yaml"
expect_rc 0 "import"
expect_out '^imported R2Bucket imported-one' "import"
sed -i 's/spec: {storageClass: InfrequentAccess}/spec: {storageClass: InfrequentAccess, adopt: true}/' "$tmp/adopt.yaml"
cfs apply "${as[@]}" -f "$tmp/adopt.yaml"
expect_rc 0 "adopt"
expect_out '^  = R2Bucket pre-existing: adopt' "adopt shown"
expect_out 'storageClass: Standard → InfrequentAccess' "adopt converges fields"
cfs status "${as[@]}"
expect_out 'pre-existing +pre-existing +Retain +adopted +Ready' "status shows adopted"
expect_out 'imported-one +imported-one +Retain +imported' "status shows imported"
cfs plan "${as[@]}" -f "$tmp/adopt.yaml"
expect_rc 0 "clean after adopt"

# 5. failures that must change nothing.
w0=$(emu_stat writes)
rc=0; CLOUDFLARE_API_TOKEN=wrong-token "$BIN/cfstorage" apply --state "$tmp/bad.json" -f manifests/examples >"$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "bad token"
[ "$(wc -l < "$tmp/cfs.out")" = 1 ] || fail "bad token: not one line"; ok
expect_out '^cfstorage: the API refused the token or account' "bad token message"
expect_no_out 'wrong-token' "the token is not echoed"
[ "$(emu_stat writes)" = "$w0" ] || fail "bad token wrote"; ok
rc=0; CLOUDFLARE_API_BASE_URL=http://127.0.0.1:9/client/v4 "$BIN/cfstorage" plan --state "$tmp/bad.json" -f manifests/examples >"$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "unreachable endpoint"
[ "$(wc -l < "$tmp/cfs.out")" = 1 ] || fail "unreachable: not one line"; ok
expect_out "Could not connect|Couldn't connect|Connection refused" "unreachable message"
rc=0; CLOUDFLARE_API_BASE_URL=http://192.0.2.1/client/v4 "$BIN/cfstorage" plan --state "$tmp/bad.json" -f manifests/examples >"$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "plain http to a non-loopback host"
expect_out 'only loopback addresses may skip TLS' "http refused"
r0=$(emu_stat requests)
cfs apply "${st[@]}" -f tests/data/manifest/invalid/five-mistakes.yaml
expect_rc 3 "invalid manifests"
expect_out 'nothing was sent to Cloudflare' "invalid manifests"
[ "$(emu_stat requests)" = "$r0" ] || fail "invalid manifests made requests"; ok
printf '%s' "$TOKEN" > "$tmp/tok"; chmod 644 "$tmp/tok"
rc=0; env -u CLOUDFLARE_API_TOKEN "$BIN/cfstorage" plan --state "$tmp/bad.json" --api-token-file "$tmp/tok" -f manifests/examples >"$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "token file readable by others"
expect_out 'readable by group or others \(mode 0644\)' "token file mode"
chmod 600 "$tmp/tok"
rc=0; env -u CLOUDFLARE_API_TOKEN "$BIN/cfstorage" plan "${st[@]}" --api-token-file "$tmp/tok" -f manifests/examples >"$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 0 "token file 0600"

# 6. the state: a second run waits for the lock; corrupt and newer files are refused.
exec 9>"$tmp/state.json.lock"; flock 9; echo "pid 4242 on host test since now" >&9
cfs plan "${st[@]}" -f manifests/examples
expect_rc 1 "locked state"
expect_out "is locked by another cfstorage \(pid 4242 on host test" "lock holder named"
exec 9>&-
cp "$tmp/state.json" "$tmp/saved.json"
echo '{"schemaVersion": 99, "resources": []}' > "$tmp/state.json"
cfs apply "${st[@]}" -f manifests/examples
expect_rc 1 "newer state"
expect_out 'schema version 99, newer than' "newer state refused"
echo '{not json' > "$tmp/state.json"
cfs apply "${st[@]}" -f manifests/examples
expect_rc 1 "corrupt state"
expect_out 'is corrupt' "corrupt state refused"
[ "$(cat "$tmp/state.json")" = '{not json' ] || fail "corrupt state overwritten"; ok
cp "$tmp/saved.json" "$tmp/state.json"
[ "$(stat -c %a "$tmp/state.json")" = 600 ] || [ "$(stat -c %a "$tmp/saved.json")" = 600 ] || true
cfs apply "${st[@]}" -f manifests/examples; expect_rc 0 "state restored"
[ "$(stat -c %a "$tmp/state.json")" = 600 ] || fail "state mode $(stat -c %a "$tmp/state.json")"; ok
if grep -q "$TOKEN" "$tmp"/*.json; then fail "the token is in a state file"; fi; ok

# 7. a create whose connection drops is looked up before it is sent again
curl -s -X POST "$EMU/__emu/faults" -d '[{"method":"POST","route":"/accounts/{account_id}/storage/kv/namespaces","status":0,"drop":true,"count":1},{"method":"POST","route":"/accounts/{account_id}/r2/buckets","status":0,"drop":true,"count":1}]' >/dev/null
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: dropped-ns}\nspec: {}\n---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: dropped-bucket}\nspec: {}\n' > "$tmp/drop.yaml"
cfs apply --state "$tmp/drop.json" -f "$tmp/drop.yaml"
expect_rc 0 "creates survive a dropped connection"
api GET '/storage/kv/namespaces?per_page=100' >/dev/null
[ "$(python3 -c "import json; print(sum(1 for n in json.load(open('$tmp/body'))['result'] if n['title']=='dropped-ns'))")" = 1 ] || fail "dropped-ns not created exactly once"; ok
[ "$(api GET /r2/buckets/dropped-bucket)" = 200 ] || fail "dropped-bucket missing"; ok
cfs plan --state "$tmp/drop.json" -f "$tmp/drop.yaml"
expect_rc 0 "clean after dropped creates"

emu_stop
echo "reconcile: $checks passed, 0 failed"
