#!/usr/bin/env bash
# A running daemon meets hostile manifest edits: each is reported with its
# file:line:col, the daemon stays up, answers /healthz and keeps reconciling
# its last good set; when the edit goes away the set is valid again: the
# 13-byte manifest that once crashed the YAML parser, a valueFrom.file that
# leaves the manifest's folder, and a FIFO named *.yaml.
# Waits are bounded polls on conditions.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
m="$tmp/m"; mkdir -p "$m"
metric() { curl -s "$D/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
valid_is() { [ "$(metric cfstorage_manifests_valid)" = "$1" ]; }
cors_exists() { [ "$(api GET "/r2/buckets/$1/cors")" = 200 ]; }

cat > "$m/base.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: kept}
spec:
  cors:
    rules:
      - {allowedOrigins: ["https://web.example"], allowedMethods: [GET]}
Y
# the whole budget for reads: a pass every ~1 s (at the default 25% share the
# daemon stretches a 1 s interval to ~5 s to fit its list reads in the share)
run_daemon "$tmp/state.json" --interval 1s --api-share 100% -f "$m"
D="http://127.0.0.1:$DPORT"
until_ok 5 cors_exists kept || fail "first set not applied"; ok

# hostile NAME: the file $m/NAME is in place; the daemon reports it, stays up
# and still repairs drift in the last good set; then the file goes away.
hostile() {
	local name=$1 want=$2
	until_ok 5 valid_is 0 || fail "$name: manifests_valid not 0"; ok
	until_ok 5 grep -qF "$want" "$tmp/d.err" || fail "$name: no '$want' in the log"; ok
	kill -0 "$dpid" 2>/dev/null || fail "$name: the daemon died: $(tail -3 "$tmp/d.err")"; ok
	curl -sf "$D/healthz" >/dev/null || fail "$name: /healthz"; ok
	[ "$(api DELETE /r2/buckets/kept/cors)" = 200 ] || fail "$name: drift"
	until_ok 5 cors_exists kept || fail "$name: the last good set is not reconciled"; ok
	rm -f "$m/$name"
	until_ok 5 valid_is 1 || fail "$name: valid again not seen"; ok
}

# 1. the 13-byte manifest that once crashed the parser (tag on a mapping)
printf 'a: !x {b: 1}\n' > "$m/tagged.yaml"
hostile tagged.yaml "file=\"$m/tagged.yaml\" line=1 col=4 error=\"unsupported tag '!x'\""

# 2. an edit that would publish the emulator's token file
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: leak}\nspec:\n  entries:\n    - {key: k, valueFrom: {file: %s}}\n' \
	"$tmp/emu-token" > "$m/leak.yaml"
hostile leak.yaml "file=\"$m/leak.yaml\" line=6 col=34 error=\"file '$tmp/emu-token' is an absolute path"
api GET /storage/kv/namespaces >/dev/null
grep -q '"leak"' "$tmp/body" && fail "a namespace was created"; ok

# 3. a FIFO named *.yaml: refused at once, no reload hangs on it
mkfifo "$m/pipe.yaml"
hostile pipe.yaml "error=\"'$m/pipe.yaml' is not a regular file"

kill -TERM "$dpid"; wait "$dpid"; drc=$?; dpid=
[ "$drc" = 0 ] || fail "daemon exited $drc on SIGTERM"; ok
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/d.err" >/dev/null; then fail "sanitizer report"; fi
emu_stop
echo "daemon_hostile: $checks passed, 0 failed"
