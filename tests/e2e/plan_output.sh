#!/usr/bin/env bash
# The plan as people and machines read it, against goldens: text, markdown and
# JSON for a CORS origin added, a lifecycle age changed, a KV entry changed, an
# orphan (left the manifests, kept), a forget (--prune, Retain) and a refusal
# (a bucket made by hand). Ids the emulator makes up are normalised.
# UPDATE_GOLDEN=1 rewrites the goldens under tests/data/plan/.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
st=(--state "$tmp/state.json")
gold=tests/data/plan
base() {
	cat <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: web}
spec:
  lifecycle:
    rules:
      - {id: tmp, prefix: tmp/, expireAfterDays: AGE}
  cors:
    rules:
      - {allowedOrigins: [ORIGINS], allowedMethods: [GET]}
---
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: flags}
spec:
  entries:
    - {key: mode, value: VALUE}
Y
}
base | sed 's/AGE/30/; s#ORIGINS#"https://a.example"#; s/VALUE/dark/' > "$tmp/m.yaml"
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: kept}\nspec: {}\n' >> "$tmp/m.yaml"
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: dropped}\nspec: {deletionPolicy: Retain}\n' >> "$tmp/m.yaml"
cfs apply "${st[@]}" -f "$tmp/m.yaml"; expect_rc 0 "base"
api POST /r2/buckets -d '{"name":"by-hand"}' >/dev/null
base | sed 's/AGE/60/; s#ORIGINS#"https://a.example", "https://b.example"#; s/VALUE/light/' > "$tmp/m2.yaml"
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: by-hand}\nspec: {}\n' >> "$tmp/m2.yaml"
norm() { sed -E "s#$tmp#TMP#g; s/[0-9a-f]{32}/ID/g"; }
check() { # check NAME ARGS...: the plan's output against tests/data/plan/NAME
	cfs plan "${st[@]}" -f "$tmp/m2.yaml" "${@:2}"
	expect_rc 2 "$1"
	norm < "$tmp/cfs.out" > "$tmp/$1"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then cp "$tmp/$1" "$gold/$1"; fi
	diff -u "$gold/$1" "$tmp/$1" >&2 || fail "$1 differs from $gold/$1"; ok
}
check text.out
check markdown.out -o markdown
check json.out -o json --prune
python3 -c "
import json; d=json.load(open('$tmp/json.out'))
ops={a['name']:a['op'] for a in d['actions']}
assert ops['web']=='update' and ops['flags']=='update' and ops['by-hand']=='refuse', ops
assert ops['dropped']=='forget' and ops['kept']=='forget', ops
c=[c for a in d['actions'] if a['name']=='web' for c in a['changes'] if c['field']=='cors'][0]
assert 'https://b.example' in c['after'] and 'https://b.example' not in c['before'], c
" || fail "json plan content"; ok
cfs plan "${st[@]}" -f "$tmp/m2.yaml" -o json
python3 -c "
import json; d=json.load(open('$tmp/cfs.out'))
ops={a['name']:a['op'] for a in d['actions']}
assert ops['kept']=='orphan' and ops['dropped']=='orphan', ops" || fail "orphans in json"; ok
emu_stop
echo "plan_output: $checks passed, 0 failed"
