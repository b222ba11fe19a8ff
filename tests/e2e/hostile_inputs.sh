#!/usr/bin/env bash
# Hostile files and flags against cfemu; each is refused with one clear line
# and sends nothing:
#  - a manifest path (valueFrom.file) that leaves the manifest's folder: an
#    absolute path to the token, '..', a symlink; --allow-path-root allows a
#    folder; stdin manifests resolve against the current folder;
#  - endpoints (API, etcd) with userinfo or a host that only starts like
#    loopback ("127.0.0.1@198.51.100.7", "localhost.example.com");
#  - a FIFO as the -f path, as a *.yaml in a folder, as a token file (one
#    line naming it, no hang); a symlink fan-out 20 levels deep (< 2 s) and
#    a symlink loop (each folder walked once).
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

# --- FIFOs and symlink fan-outs: refused or bounded, never a hang ------------
# (timeout is only a guard: each must answer at once)
f="$tmp/fifo"; mkdir -p "$f/dir"
n0=$(requests)
mkfifo "$f/m.yaml" "$f/dir/x.yaml" "$f/token"
cp "$m/kv.yaml" "$f/dir/a.yaml"
rc=0; timeout 10 "$BIN/cfstorage" validate -f "$f/m.yaml" > "$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "a FIFO as -f"
expect_out "^cfstorage: '$f/m.yaml' is not a regular file" "the FIFO is named"
one_line "a FIFO as -f"
rc=0; timeout 10 "$BIN/cfstorage" validate -f "$f/dir" > "$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "a FIFO *.yaml in a folder"
expect_out "^cfstorage: '$f/dir/x.yaml' is not a regular file" "the FIFO in the folder is named"
rc=0; timeout 10 env -u CLOUDFLARE_API_TOKEN "$BIN/cfstorage" plan --api-token-file "$f/token" \
	--state "$tmp/state.json" -f "$m/kv.yaml" > "$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "a FIFO as the token file"
expect_out "^cfstorage: token file '$f/token' is not a regular file" "the token FIFO is named"
rc=0; timeout 10 "$BIN/cfemu" --listen 127.0.0.1:0 --token-file "$f/token" > "$tmp/cfs.out" 2>&1 || rc=$?
expect_rc 1 "a FIFO as cfemu's token file"
[ "$(requests)" = "$n0" ] || fail "a refused FIFO sent requests"; ok

# fan-out: L_i holds two symlinks (a, b) to L_{i+1}: 2^depth paths, depth folders
fan() { # fan DIR DEPTH: DIR/m is the manifest folder, one manifest at the bottom
	local d=$1 n=$2 i
	mkdir -p "$d/m"
	for i in $(seq 1 "$n"); do mkdir "$d/L$i"; done
	ln -s ../L1 "$d/m/a"; ln -s ../L1 "$d/m/b"
	for i in $(seq 1 $((n - 1))); do ln -s "../L$((i + 1))" "$d/L$i/a"; ln -s "../L$((i + 1))" "$d/L$i/b"; done
	printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: deep}\nspec: {}\n' > "$d/L$n/x.yaml"
}
ms() { echo $(( $(date +%s%N) / 1000000 )); }
fan "$tmp/fan20" 20
t0=$(ms); rc=0; timeout 10 "$BIN/cfstorage" validate -f "$tmp/fan20/m" > "$tmp/cfs.out" 2>&1 || rc=$?; t1=$(ms)
expect_rc 1 "a symlink fan-out 20 levels deep"
expect_out "nested deeper than 16 levels" "the fan-out is refused for its depth"
[ $((t1 - t0)) -lt 2000 ] || fail "the 20-level fan-out took $((t1 - t0)) ms"; ok
fan "$tmp/fan12" 12
t0=$(ms); cfs validate -f "$tmp/fan12/m"; t1=$(ms)
expect_rc 0 "a symlink fan-out 12 levels deep"
expect_out "^ok: 1 resource in 1 file" "each folder is read once (not 4,096 times)"
[ $((t1 - t0)) -lt 2000 ] || fail "the 12-level fan-out took $((t1 - t0)) ms"; ok
ln -s .. "$tmp/fan12/L12/up"
cfs validate -f "$tmp/fan12/m"
expect_rc 0 "a symlink loop is walked once"

emu_stop
echo "hostile_inputs: $checks passed, 0 failed"
