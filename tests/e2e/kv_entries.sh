#!/usr/bin/env bash
# KV entries from manifests against cfemu: 10,000 entries in at most two
# write requests, a second apply that only lists keys (no value read, no
# write), an entry changed by wrangler is detected and repaired, TTL entries
# come back after they expire (cfemu's clock), binary values from files, and
# prune deletes only undeclared keys.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
st=(--state "$tmp/state.json")
routes() { # routes METHOD SUFFIX: requests served on routes ending with SUFFIX
	curl -s "$EMU/__emu/stats" | python3 -c "
import json,sys; print(sum(r['count'] for r in json.load(sys.stdin)['routes'] if r['method']=='$1' and r['route'].endswith('$2')))"
}
python3 - "$tmp/big.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: big}\nspec:\n  entries:\n")
    for i in range(10000):
        f.write('    - {key: "k/%05d", value: "value %d", metadata: {n: %d}}\n' % (i, i, i))
PY

# 1. 10,000 entries: one namespace create and at most 2 bulk writes
w0=$(emu_stat writes)
cfs apply "${st[@]}" -f "$tmp/big.yaml"
expect_rc 0 "first apply of 10,000 entries"
expect_out '\.\.\. and 9980 more entries' "plan lists 20 entries and counts the rest"
w=$(( $(emu_stat writes) - w0 ))
[ "$w" -le 2 ] || fail "first apply used $w write requests, want <= 2"; ok
echo "kv entries: first apply of 10,000 entries used $w write requests"

# 2. a second apply lists keys only: no value read, no write
r0=$(emu_stat requests); w0=$(emu_stat writes); v0=$(routes GET '/values/{key_name}')
cfs apply "${st[@]}" -f "$tmp/big.yaml"
expect_rc 0 "second apply"
expect_out '^No changes' "second apply is clean"
[ "$(emu_stat writes)" = "$w0" ] || fail "second apply wrote"; ok
[ "$(routes GET '/values/{key_name}')" = "$v0" ] || fail "second apply read values"; ok
r=$(( $(emu_stat requests) - r0 ))
[ "$r" -le 11 ] || fail "second apply used $r requests (want the KV list + 10 key pages)"; ok
echo "kv entries: no-op apply of 10,000 entries used $r requests"

# 3. an entry changed by wrangler is detected and repaired
ns=$(python3 -c "import json; print([r['id'] for r in json.load(open('$tmp/state.json'))['resources'] if r['name']=='big'][0])")
if [ -x tests/node_modules/.bin/wrangler ]; then
	mkdir -p "$tmp/home" "$tmp/wd"
	(cd "$tmp/wd" && HOME="$tmp/home" WRANGLER_SEND_METRICS=false CLOUDFLARE_API_BASE_URL="$EMU/client/v4" \
		"$OLDPWD/tests/node_modules/.bin/wrangler" kv key put "k/00042" "changed by hand" --namespace-id "$ns" --remote) \
		> "$tmp/wr.out" 2>&1 || fail "wrangler kv key put: $(tail -3 "$tmp/wr.out")"
else
	[ "$(api PUT "/storage/kv/namespaces/$ns/values/k%2F00042" --data-binary 'changed by hand')" = 200 ] || fail "put"
fi
cfs plan "${st[@]}" -f "$tmp/big.yaml"
expect_rc 2 "plan sees the foreign write"
expect_out "~ entry 'k/00042' \(written outside cfstorage\)" "foreign write named"
cfs apply "${st[@]}" -f "$tmp/big.yaml"
expect_rc 0 "repair"
[ "$(api GET "/storage/kv/namespaces/$ns/values/k%2F00042"; cat "$tmp/body")" = "200value 42" ] || fail "not repaired: $(cat "$tmp/body")"; ok

# 4. TTL entries come back after they expire; binary values from files
printf '\x00\x01\x02\xff binary' > "$tmp/blob.bin"
cat > "$tmp/ttl.yaml" <<Y
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: small}
spec:
  entries:
    - {key: banner, value: "sale", ttlSeconds: 60}
    - {key: blob, valueFrom: {file: blob.bin}}
    - {key: keep, value: "declared"}
Y
cfs apply "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "ttl apply"
ns2=$(python3 -c "import json; print([r['id'] for r in json.load(open('$tmp/state.json'))['resources'] if r['name']=='small'][0])")
api GET "/storage/kv/namespaces/$ns2/values/blob" >/dev/null
cmp -s "$tmp/body" "$tmp/blob.bin" || fail "binary value differs"; ok
curl -s -X POST "$EMU/__emu/clock" -d '{"advance":120}' >/dev/null
[ "$(api GET "/storage/kv/namespaces/$ns2/values/banner")" = 404 ] || fail "banner did not expire"; ok
cfs plan "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 2 "expired ttl entry is planned again"
expect_out "\+ entry 'banner'" "ttl entry recreated"
cfs apply "${st[@]}" -f "$tmp/ttl.yaml"
[ "$(api GET "/storage/kv/namespaces/$ns2/values/banner")" = 200 ] || fail "banner not recreated"; ok

# 5. prune: undeclared keys are untouched without it, deleted with it
[ "$(api PUT "/storage/kv/namespaces/$ns2/values/stranger" --data-binary 'x')" = 200 ] || fail "stranger"
cfs apply "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "no prune"
[ "$(api GET "/storage/kv/namespaces/$ns2/values/stranger")" = 200 ] || fail "undeclared key touched without prune"; ok
sed -i 's/^  entries:/  prune: true\n  entries:/' "$tmp/ttl.yaml"
cfs apply "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "prune"
expect_out "- entry 'stranger' \(not declared; prune\)" "prune shown"
[ "$(api GET "/storage/kv/namespaces/$ns2/values/stranger")" = 404 ] || fail "undeclared key not pruned"; ok
[ "$(api GET "/storage/kv/namespaces/$ns2/values/keep")" = 200 ] || fail "declared key pruned"; ok
cfs plan "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "clean after prune"

# 6. --verify-values sees a value changed behind an intact content hash
api GET "/storage/kv/namespaces/$ns2/keys" >/dev/null
h=$(python3 -c "import json; print([k['metadata']['cfs:h'] for k in json.load(open('$tmp/body'))['result'] if k['name']=='keep'][0])")
[ "$(api PUT "/storage/kv/namespaces/$ns2/bulk" -H 'content-type: application/json' -d "[{\"key\":\"keep\",\"value\":\"tampered\",\"metadata\":{\"cfs:h\":\"$h\"}}]")" = 200 ] || fail "tamper"
cfs plan "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "the listing alone cannot see it"
v0=$(routes GET '/values/{key_name}')
cfs apply "${st[@]}" --verify-values -f "$tmp/ttl.yaml"
expect_rc 0 "verify-values repairs"
expect_out "~ entry 'keep' \(changed\)" "verified difference shown"
[ "$(routes GET '/values/{key_name}')" -ge $((v0 + 3)) ] || fail "values were not read"; ok
[ "$(api GET "/storage/kv/namespaces/$ns2/values/keep"; cat "$tmp/body")" = "200declared" ] || fail "not repaired"; ok

# 7. prunePrefix: only undeclared keys under the prefix are deleted
[ "$(api PUT "/storage/kv/namespaces/$ns2/values/tmp%2Fold" --data-binary 'x')" = 200 ] || fail "tmp/old"
[ "$(api PUT "/storage/kv/namespaces/$ns2/values/other%2Fold" --data-binary 'x')" = 200 ] || fail "other/old"
sed -i 's/^  prune: true$/  prune: true\n  prunePrefix: "tmp\/"/' "$tmp/ttl.yaml"
cfs apply "${st[@]}" -f "$tmp/ttl.yaml"
expect_rc 0 "prune under a prefix"
[ "$(api GET "/storage/kv/namespaces/$ns2/values/tmp%2Fold")" = 404 ] || fail "tmp/old not pruned"; ok
[ "$(api GET "/storage/kv/namespaces/$ns2/values/other%2Fold")" = 200 ] || fail "other/old pruned outside the prefix"; ok

# 8. keys with spaces and other bytes Cloudflare allows, declared by quoting
cat > "$tmp/odd.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: odd}
spec:
  entries:
    - {key: "a b/c?d#e%f", value: spaced}
    - {key: "ünïcode key", value: wide}
Y
cfs apply --state "$tmp/odd.json" -f "$tmp/odd.yaml"
expect_rc 0 "keys with spaces applied"
api GET '/storage/kv/namespaces?per_page=100' >/dev/null
ns3=$(python3 -c "import json; print(next(n['id'] for n in json.load(open('$tmp/body'))['result'] if n['title']=='odd'))")
[ "$(api GET "/storage/kv/namespaces/$ns3/values/a%20b%2Fc%3Fd%23e%25f"; cat "$tmp/body")" = "200spaced" ] || fail "spaced key not written"; ok
cfs plan --state "$tmp/odd.json" -f "$tmp/odd.yaml" --verify-values
expect_rc 0 "keys with spaces plan clean (values verified)"
emu_stop
echo "kv_entries: $checks passed, 0 failed"
