#!/usr/bin/env bash
# Hostile files and flags against cfemu; each is refused with one clear line
# and sends nothing:
#  - a manifest path (valueFrom.file) that leaves the manifest's folder: an
#    absolute path to the token, '..', a symlink; --allow-path-root allows a
#    folder; stdin manifests resolve against the current folder;
#  - endpoints (API, etcd) with userinfo or a host that only starts like
#    loopback ("127.0.0.1@198.51.100.7", "localhost.example.com").
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

# --- endpoints: the host decides, by libcurl's parser --------------------------
# userinfo is refused even when the host is the emulator itself, so that
# nothing reaching cfemu proves nothing was sent
one_line() { [ "$(wc -l < "$tmp/cfs.out")" = 1 ] || fail "$1: not one line: $(cat "$tmp/cfs.out")"; ok; }
kv data.txt > "$m/kv.yaml"; echo hello > "$m/data.txt"
n0=$(requests)
for url in "http://127.0.0.1@198.51.100.7:$EMU_PORT/client/v4" "http://x@127.0.0.1:$EMU_PORT/client/v4"; do
	CLOUDFLARE_API_BASE_URL=$url cfs plan --state "$tmp/state.json" -f "$m/kv.yaml"
	expect_rc 1 "endpoint $url"
	expect_out "^cfstorage: endpoint refused: it holds a user name or password" "userinfo refused"
	one_line "endpoint $url"
done
cfs plan --endpoint "http://localhost.example.com:$EMU_PORT/client/v4" --state "$tmp/state.json" -f "$m/kv.yaml"
expect_rc 1 "localhost.example.com"
expect_out "only loopback addresses may skip TLS \('localhost.example.com' is not in" "not loopback"
one_line "localhost.example.com"
cfs plan --state "etcd://127.0.0.1@198.51.100.7:2379/cfs" -f "$m/kv.yaml"
expect_rc 1 "etcd endpoint with userinfo"
expect_out "etcd endpoint refused: it holds a user name or password" "etcd userinfo refused"
[ "$(requests)" = "$n0" ] || fail "a refused endpoint reached cfemu"; ok
cfs plan --endpoint "http://LOCALHOST:$EMU_PORT/client/v4/" --state "$tmp/state.json" -f "$m/kv.yaml"
expect_rc 2 "a loopback endpoint still works"

emu_stop
echo "hostile_inputs: $checks passed, 0 failed"
