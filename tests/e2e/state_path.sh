#!/usr/bin/env bash
# `--state` given as a bare file name (no '/'), run from inside a temporary
# folder: plan, apply and status work against cfemu and the state lands in
# that folder (a bare name once crashed every command). Also a relative path
# whose folders do not exist yet.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
BIN=$(cd "$BIN" && pwd)
. tests/lib/common.sh
emu_start
w="$tmp/work"; mkdir -p "$w"
cat > "$w/m.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: bare-state}
spec: {}
Y
cd "$w"
cfs plan --state state.json -f m.yaml
expect_rc 2 "plan with a bare state name"
cfs apply --state state.json -f m.yaml
expect_rc 0 "apply with a bare state name"
[ -f "$w/state.json" ] || fail "no state.json in the working folder"; ok
[ "$(stat -c %a "$w/state.json")" = 600 ] || fail "state.json is not mode 0600"; ok
cfs status --state state.json -f m.yaml
expect_rc 0 "status with a bare state name"
expect_out 'bare-state' "status lists the namespace"
cfs plan --state state.json -f m.yaml
expect_rc 0 "plan is clean after apply"
cfs plan --state ./state.json -f m.yaml
expect_rc 0 "the same state as ./state.json"
sed 's/bare-state/deep-state/' m.yaml > m2.yaml
cfs apply --state new//deep/state.json -f m2.yaml
expect_rc 0 "apply creates the folders of a relative state path"
[ -f "$w/new/deep/state.json" ] || fail "no new/deep/state.json"; ok
if grep -E 'AddressSanitizer|runtime error' "$tmp/cfs.out" >/dev/null; then fail "sanitizer report"; fi
cd /
emu_stop
echo "state_path: $checks passed, 0 failed"
