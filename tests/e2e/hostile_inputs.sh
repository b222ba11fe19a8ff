#!/usr/bin/env bash
# Hostile files and flags against cfemu; each is refused with one clear line
# and sends nothing:
#  - a manifest path (valueFrom.file) that leaves the manifest's folder: an
#    absolute path to the token, '..', a symlink; --allow-path-root allows a
#    folder; stdin manifests resolve against the current folder.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
BIN=$(cd "$BIN" && pwd)
. tests/lib/common.sh
emu_start
requests() { emu_stat requests; }

# --- manifest paths stay in the manifest's folder ---------------------------
m="$tmp/m" out="$tmp/out"; mkdir -p "$m" "$out"
printf '%s' "$TOKEN" > "$out/token"; chmod 600 "$out/token"
ln -s ../out/token "$m/link"
kv() { # kv FILE: a namespace publishing FILE
	printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: leak}\nspec:\n  entries:\n    - {key: k, valueFrom: {file: %s}}\n' "$1"
}
n0=$(requests)
for f in "$out/token" ../out/token link; do
	kv "$f" > "$m/kv.yaml"
	cfs apply --state "$tmp/state.json" -f "$m/kv.yaml"
	expect_rc 3 "apply with valueFrom.file $f"
	expect_out "^$m/kv.yaml:6:34: file '" "the violation of $f at file:line:col"
	expect_no_out "$TOKEN" "the token is not printed ($f)"
done
[ "$(requests)" = "$n0" ] || fail "requests were sent for invalid manifests"; ok
api GET /storage/kv/namespaces >/dev/null
grep -q '"leak"' "$tmp/body" && fail "a namespace was created"; ok

# stdin: relative to the current folder, same confinement
kv link > "$m/kv.yaml"
cfs validate -f - < "$m/kv.yaml"
expect_rc 3 "stdin from the repository folder"
expect_out "^<stdin>:6:34: cannot read file 'link'" "stdin resolves against the current folder"
rc=0; (cd "$m" && "$BIN/cfstorage" validate -f - < kv.yaml) > "$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 3 "stdin from the manifest's folder"
expect_out "^<stdin>:6:34: file 'link' leads out of the current folder" "stdin symlink out"

# the operator allows the folder: published
cfs apply --state "$tmp/state.json" --allow-path-root "$out" -f "$m/kv.yaml"
expect_rc 0 "--allow-path-root allows the folder"
cfs validate --allow-path-root "$tmp/nope" -f "$m/kv.yaml"
expect_rc 1 "--allow-path-root of a missing folder"
expect_out "^cfstorage: cannot resolve --allow-path-root folder '$tmp/nope'" "its message"

emu_stop
echo "hostile_inputs: $checks passed, 0 failed"
