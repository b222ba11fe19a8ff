#!/usr/bin/env bash
# Saved plans: `plan -out FILE` in one checkout (a pull request), `apply FILE`
# in another (the merge), with relative paths run from inside each checkout.
# The saved plan is applied exactly; a hand change to a planned bucket's CORS,
# or an edit of the manifests, makes `apply FILE` refuse, name it, write nothing.
set -u
cd "$(dirname "$0")/../.."
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
cfs_in() { local d=$1; shift; rc=0; (cd "$d" && "$BIN/cfstorage" "$@") >"$tmp/cfs.out" 2>&1 || rc=$?; }
emu_start
st=(--state "$tmp/state.json")
mkdir -p "$tmp/pr/m" "$tmp/merge/m"
cat > "$tmp/pr/m/a.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: web}
spec:
  cors:
    rules:
      - {allowedOrigins: ["https://a.example"], allowedMethods: [GET]}
---
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: flags}
spec: {}
Y
cp "$tmp/pr/m/a.yaml" "$tmp/merge/m/a.yaml"

# 1. the pull request saves its plan; the merge applies exactly it
cfs_in "$tmp/pr" plan -f m "${st[@]}" -out plan.json
expect_rc 2 "plan -out"
[ "$(stat -c %a "$tmp/pr/plan.json")" = 600 ] || fail "saved plan not mode 0600"; ok
! grep -q "$TOKEN" "$tmp/pr/plan.json" || fail "the token is in the saved plan"; ok
cp "$tmp/pr/plan.json" "$tmp/merge/"
w0=$(emu_stat writes)
cfs_in "$tmp/merge" apply plan.json "${st[@]}"
expect_rc 0 "apply FILE"
expect_out '^Apply: 2 created' "apply FILE applied the two creates"
[ $(( $(emu_stat writes) - w0 )) -ge 2 ] || fail "apply FILE wrote nothing"; ok
cfs_in "$tmp/merge" plan -f m "${st[@]}"
expect_rc 0 "clean after apply FILE"

# 2. a planned bucket's CORS changed by hand after the plan: refused, named
sed -i 's#https://a.example#https://b.example#' "$tmp/pr/m/a.yaml"; cp "$tmp/pr/m/a.yaml" "$tmp/merge/m/a.yaml"
cfs_in "$tmp/pr" plan -f m "${st[@]}" -out plan2.json
expect_rc 2 "plan -out of a CORS change"
cp "$tmp/pr/plan2.json" "$tmp/merge/"
api PUT /r2/buckets/web/cors -d '{"rules":[{"allowed":{"origins":["https://c.example"],"methods":["GET"]}}]}' >/dev/null
w0=$(emu_stat writes)
cfs_in "$tmp/merge" apply plan2.json "${st[@]}"
expect_rc 1 "stale saved plan refused"
expect_out 'R2Bucket web: the account or the plan changed since the plan was saved' "the changed bucket is named"
expect_out "is stale: nothing was applied" "stale said"
[ "$(emu_stat writes)" = "$w0" ] || fail "a stale plan wrote"; ok

# 3. the manifests edited after the plan: refused before any request
cfs_in "$tmp/pr" plan -f m "${st[@]}" -out plan3.json
cp "$tmp/pr/plan3.json" "$tmp/merge/"
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: extra}\nspec: {}\n' >> "$tmp/merge/m/a.yaml"
r0=$(emu_stat requests)
cfs_in "$tmp/merge" apply plan3.json "${st[@]}"
expect_rc 1 "edited manifests refused"
expect_out "the manifests changed since 'plan3.json' was planned" "manifest change named"
[ "$(emu_stat requests)" = "$r0" ] || fail "requests were made for a stale manifest set"; ok
cfs_in "$tmp/merge" apply plan3.json "${st[@]}" -f m
expect_rc 1 "apply FILE with -f refused"
emu_stop
echo "saved_plan: $checks passed, 0 failed"
