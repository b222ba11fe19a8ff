#!/usr/bin/env bash
# The daemon run from inside its manifests folder (`cd DIR && cfstorage run -f .`,
# state in ./.cfstorage/): its own state writes, a non-manifest file touched, a
# manifest saved unchanged, an editor's dot-file: none starts a pass; a real edit
# is applied within 3 s. Passes are counted from /metrics.
set -u
cd "$(dirname "$0")/../.."
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
emu_start
m="$tmp/m"; mkdir -p "$m"
cat > "$m/a.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: watched}
spec: {}
Y
passes() { daemon_metric 'cfstorage_reconciles_total{result="ok"}'; }
bucket_exists() { [ "$(api GET "/r2/buckets/$1")" = 200 ]; }
(cd "$m" && exec "$BIN/cfstorage" run -f . --interval 1m --listen 127.0.0.1:0 --log-level debug \
	> "$tmp/d.out" 2> "$tmp/d.err") &
dpid=$!
DPORT=$(listen_port "$tmp/d.out" "$dpid") || fail "daemon did not start: $(tail -3 "$tmp/d.err")"
D="http://127.0.0.1:$DPORT"
daemon_ready || fail "not ready"; ok
until_ok 5 bucket_exists watched || fail "first pass did not apply"; ok
[ -f "$m/.cfstorage/state.json" ] || fail "state not beside the manifests"; ok
# its own state writes start nothing: at most 2 passes in 10 s (interval 1m)
more_than_two() { [ "$(passes)" -gt 2 ]; }
if until_ok 10 more_than_two; then fail "$(passes) passes in 10 s: the daemon loops on its own writes"; fi; ok
p0=$(passes)
# a non-manifest file, an editor swap file, a manifest saved unchanged: no pass
echo notes > "$m/notes.txt"
echo swap > "$m/.a.yaml.swp"
cp "$m/a.yaml" "$m/a.yaml.new" && mv "$m/a.yaml.new" "$m/a.yaml"
until_ok 5 grep -q 'manifests unchanged' "$tmp/d.err" "$tmp/d.out" || fail "the unchanged save was not seen"; ok
[ "$(passes)" = "$p0" ] || fail "a pass started for nothing ($(passes) != $p0)"; ok
[ "$(grep -c 'manifests unchanged' "$tmp/d.err")" = 1 ] || fail "notes.txt or the swap file caused a reload"; ok
# a real edit: applied within 3 s, one pass
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: added}\nspec: {}\n' >> "$m/a.yaml"
until_ok 3 bucket_exists added || fail "the edit was not applied within 3 s"; ok
[ "$(passes)" = $((p0 + 1)) ] || fail "the edit took $(( $(passes) - p0 )) passes"; ok
# a refusal (a bucket made by hand, not adopted) is logged once, not every pass,
# counted in cfstorage_resources{condition="Refused"} and in the pass summary
api POST /r2/buckets -d '{"name":"handmade"}' >/dev/null
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: handmade}\nspec: {}\n' >> "$m/a.yaml"
refused_metric() { [ "$(daemon_metric 'cfstorage_resources{kind="R2Bucket",condition="Refused"}')" = 1 ]; }
until_ok 5 refused_metric || fail "the refusal is not in cfstorage_resources"; ok
grep -q 'msg="reconcile done".*refused=1' "$tmp/d.err" || fail "the pass summary lacks refused=1"; ok
printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: later}\nspec: {}\n' >> "$m/a.yaml"
until_ok 3 bucket_exists later || fail "the next edit was not applied"; ok
[ "$(grep -c 'msg="refused" kind=R2Bucket name=handmade' "$tmp/d.err")" = 1 ] || fail "the refusal was not logged exactly once"; ok
stop_daemon
emu_stop
echo "daemon_watch: $checks passed, 0 failed"
