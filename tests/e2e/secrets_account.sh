#!/usr/bin/env bash
# Secrets as the account says them (against cfemu, time as --now): a second
# checkout with no state (or an empty one) never rolls a key back; a Secret
# made by hand is not ours until adopted; hand deletions of the pointer, the
# current version and the alias are repaired by one apply, a lost retained
# version is reported and nothing is written; a Worker script that does not
# exist is refused at plan time; no value ever reaches the output or state.
set -u
cd "$(dirname "$0")/../.."
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
# cfs_in DIR ARGS...: cfs run from inside DIR (relative paths, as users run it)
cfs_in() { local d=$1; shift; rc=0; (cd "$d" && "$BIN/cfstorage" "$@") >"$tmp/cfs.out" 2>&1 || rc=$?; }
emu_start
# val WHERE NAME [SCRIPT]: one value from /__emu/secret-values, <absent> when none
val() {
	values | python3 -c "
import json,sys; v=json.load(sys.stdin)
src = v['workers'].get('${3:-api}', {}) if '$1' == 'worker' else next(iter(v['secretsStore'].values()), {})
print(src.get('$2', '<absent>'))"
}
snapshot() { values > "$1"; }
writes() { emu_stat writes; }
# store_id / secret_id NAME: ids in the account's only Secrets Store
store_id() { curl -s -H "Authorization: Bearer $TOKEN" "$EMU/client/v4/accounts/$ACCT/secrets_store/stores" | python3 -c "import json,sys; print(json.load(sys.stdin)['result'][0]['id'])"; }
secret_id() {
	curl -s -H "Authorization: Bearer $TOKEN" "$EMU/client/v4/accounts/$ACCT/secrets_store/stores/$(store_id)/secrets?search=$1&per_page=100" |
		python3 -c "import json,sys; print(next(s['id'] for s in json.load(sys.stdin)['result'] if s['name']=='$1'))"
}
del_store() { api DELETE "/secrets_store/stores/$(store_id)/secrets/$(secret_id "$1")" >/dev/null; }
del_worker() { api DELETE "/workers/scripts/${2:-api}/secrets/$1" >/dev/null; }
script() { curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -F 'metadata={"main_module":"w.js"};type=application/json' \
	-F 'w.js=export default {};type=application/javascript+module' "$EMU/client/v4/accounts/$ACCT/workers/scripts/$1"; }
script api

mk() { # mk FILE NAME BASE RETAIN [SCRIPT] [EXTRA]
	cat > "$1" <<Y
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {name: $2}
spec:
  generate: {bytes: 32, encoding: base64url}
  rotation: {everyDays: 90, retain: $4}
  alias: true
  targets:
    - secretsStore: {store: default, name: $3}
    - workerSecret: {script: ${5:-api}, name: $3}
  deletionPolicy: Delete
${6:-}
Y
}
mkdir -p "$tmp/a" "$tmp/b"
mk "$tmp/a/key.yaml" enc ENC '{mode: count, versions: 3}'
cp "$tmp/a/key.yaml" "$tmp/b/key.yaml"

# ---- 1. the fresh runner: checkout a rotates to V3, checkout b has no state
cfs_in "$tmp/a" apply -f key.yaml --state st/state.json --now "$(day 0)"; expect_rc 0 "a: V1"
cfs_in "$tmp/a" rotate enc --force -f key.yaml --state st/state.json --now "$(day 1)"; expect_rc 0 "a: V2"
cfs_in "$tmp/a" rotate enc --force -f key.yaml --state st/state.json --now "$(day 2)"; expect_rc 0 "a: V3"
[ "$(val store ENC_VERSION)" = 3 ] && [ "$(val worker ENC_VERSION)" = 3 ] || fail "pointer not 3"; ok
snapshot "$tmp/v3.json"
for how in none deleted empty; do
	case $how in
	none) st="$tmp/b/st-none.json" ;;
	deleted) cp "$tmp/a/st/state.json" "$tmp/b/st-del.json"; rm "$tmp/b/st-del.json"; st="$tmp/b/st-del.json" ;;
	empty) : > "$tmp/b/st-empty.json"; chmod 600 "$tmp/b/st-empty.json"; st="$tmp/b/st-empty.json" ;;
	esac
	r0=$(emu_stat requests)
	cfs_in "$tmp/b" plan -f key.yaml --state "$st" --now "$(day 3)"
	expect_rc 0 "b ($how): plan after a rebuild is clean"
	expect_out 'ledger rebuilt from the account: V1–V3, current V3' "b ($how): rebuilt ledger shown"
	expect_no_out '\+ Secret enc: create' "b ($how): no create"
	expect_out '[0-9]+ API requests \(0 writes\)' "b ($how): request footer"
	echo "plan ($how): $(( $(emu_stat requests) - r0 )) requests"
	w0=$(writes)
	cfs_in "$tmp/b" apply -f key.yaml --state "$st" --now "$(day 3)"
	expect_rc 0 "b ($how): apply"
	[ "$(writes)" = "$w0" ] || fail "b ($how): apply wrote $(( $(writes) - w0 )) times"; ok
	snapshot "$tmp/now.json"
	cmp -s "$tmp/v3.json" "$tmp/now.json" || fail "b ($how): a value changed"; ok
	cfs_in "$tmp/b" status -o json --state "$st"
	python3 -c "
import json; s=json.load(open('$tmp/cfs.out'))['secrets'][0]
assert s['current']==3, s" || fail "b ($how): the recorded ledger is not at V3"; ok
done
# the rebuilt state carries on: a due rotation from b writes V4, never V1
cfs_in "$tmp/b" apply -f key.yaml --state st-none.json --now "$(day 95)"
expect_rc 0 "b: rotation after rebuild"
expect_out 'ENC_V4 → Secrets Store default' "b: the next version is V4"
expect_out 'destroy V1 \(retain count 3\)' "b: retention goes on from the rebuilt ledger"
[ "$(val store ENC_VERSION)" = 4 ] && [ "$(val store ENC_V2)" = "$(python3 -c "import json; print(next(iter(json.load(open('$tmp/v3.json'))['secretsStore'].values()))['ENC_V2'])")" ] \
	|| fail "b: pointer not 4 or V2 rewritten"; ok
# a, whose state is now behind the account, brings its ledger up to date
cfs_in "$tmp/a" plan -f key.yaml --state st/state.json --now "$(day 96)"
expect_rc 0 "a: behind the account plans clean"
expect_out 'ledger brought up to date from the account: V2–V4, current V4' "a: ledger updated"

# ---- 2. a Secret made by hand is not ours
api POST "/secrets_store/stores/$(store_id)/secrets" -d '[{"name":"HAND_V1","value":"x1","scopes":["workers"]},{"name":"HAND_VERSION","value":"1","scopes":["workers"]}]' >/dev/null
mk "$tmp/hand.yaml" hand HAND '{mode: count, versions: 2}'
w0=$(writes)
cfs apply -f "$tmp/hand.yaml" --state "$tmp/hand.json" --now "$(day 0)"
expect_rc 1 "unmarked: refused"
expect_out 'not owned: HAND_V1, HAND_VERSION exist in the account without cfstorage' "unmarked: reason"
expect_out "cfstorage import Secret hand" "unmarked: fix named"
[ "$(writes)" = "$w0" ] || fail "unmarked: wrote"; ok
mk "$tmp/hand.yaml" hand HAND '{mode: count, versions: 2}' api '  adopt: true'
cfs plan -f "$tmp/hand.yaml" --state "$tmp/hand.json" --now "$(day 0)"
expect_rc 2 "adopt: plan"
expect_out 'HAND_V2 → Secrets Store default' "adopt: numbering goes on after the hand-made V1"
cfs apply -f "$tmp/hand.yaml" --state "$tmp/hand.json" --now "$(day 0)"
expect_rc 0 "adopt: apply"
[ "$(val store HAND_V1)" = x1 ] && [ "$(val store HAND_VERSION)" = 2 ] || fail "adopt: V1 changed or pointer not 2"; ok
cfs plan -f "$tmp/hand.yaml" --state "$tmp/hand.json" --now "$(day 1)"
expect_rc 0 "adopt: clean after"
cfs status -f "$tmp/hand.yaml" --state "$tmp/hand.json" --now "$(day 1)"
expect_out 'store:default/HAND: holds V2; pointer 2; alias V2; unmarked: HAND_V1' "status: unmarked names shown"
# ... or with `cfstorage import Secret NAME`: no version written, the pointer marked
api POST "/secrets_store/stores/$(store_id)/secrets" -d '[{"name":"HAND2_V4","value":"x4","scopes":["workers"]},{"name":"HAND2_VERSION","value":"4","scopes":["workers"]}]' >/dev/null
script tools
api PUT /workers/scripts/tools/secrets -d '{"name":"HAND2_V4","type":"secret_text","text":"x4"}' >/dev/null
api PUT /workers/scripts/tools/secrets -d '{"name":"HAND2_VERSION","type":"secret_text","text":"4"}' >/dev/null
mk "$tmp/hand2.yaml" hand2 HAND2 '{mode: count, versions: 2}' tools
sed -i 's/^  alias: true$/  alias: false/' "$tmp/hand2.yaml"
cfs import Secret hand2 -f "$tmp/hand2.yaml" --state "$tmp/hand2.json" --now "$(day 0)"
expect_rc 0 "import Secret"
expect_out 'imported Secret hand2' "import: said"
[ "$(val store HAND2_V4)" = x4 ] && [ "$(val store HAND2_V5)" = "<absent>" ] || fail "import: a version written"; ok
cfs plan -f "$tmp/hand2.yaml" --state "$tmp/hand2-fresh.json" --now "$(day 1)"
expect_rc 0 "import: a fresh checkout now sees it as ours"
expect_out 'ledger rebuilt from the account: V4, current V4' "import: rebuilt from the marked pointer"

# ---- 3. hand deletions, each repaired by one apply (checkout a, its state)
A() { cfs_in "$tmp/a" "$@" -f key.yaml --state st/state.json; }
A apply --now "$(day 96)"; expect_rc 0 "a: settle"
snapshot "$tmp/before.json"
del_store ENC_VERSION
A plan --now "$(day 97)"
expect_rc 2 "pointer deleted: plan"
expect_out 'ENC_VERSION on store:default/ENC: missing → 4' "pointer deleted: shown"
A apply --now "$(day 97)"; expect_rc 0 "pointer deleted: apply"
[ "$(val store ENC_VERSION)" = 4 ] && [ "$(val store ENC_V5)" = "<absent>" ] || fail "pointer not rewritten, or a new version"; ok
A plan --now "$(day 97)"; expect_rc 0 "pointer repaired: clean"

old4=$(val store ENC_V4)
del_store ENC
A plan --now "$(day 98)"
expect_rc 2 "store alias deleted: plan"
expect_out 'alias ENC on store:default/ENC: missing → copy of ENC_V4' "store alias: shown"
A apply --now "$(day 98)"; expect_rc 0 "store alias: apply"
[ "$(val store ENC)" = "$old4" ] && [ "$(val store ENC_V5)" = "<absent>" ] || fail "store alias not the current value"; ok

del_worker ENC_V4
A plan --now "$(day 99)"
expect_rc 2 "current version deleted: plan"
expect_out 'current version V4 lost on script:api/ENC' "current lost: reason"
A status --now "$(day 99)"; expect_rc 0 "current lost: status"
expect_out '^  V4 +current .*script:api/ENC \(missing\)' "status: the missing version per target"
expect_out '^  script:api/ENC: holds V2 V3; pointer present; alias present' "status: what the Worker holds"
expect_out '^  store:default/ENC: holds V2 V3 V4; pointer 4; alias V4' "status: what the store holds"
A apply --now "$(day 99)"; expect_rc 0 "current lost: apply"
[ "$(val store ENC_VERSION)" = 5 ] && [ "$(val worker ENC_VERSION)" = 5 ] || fail "pointer not 5"; ok
[ "$(val worker ENC_V5)" = "$(val store ENC_V5)" ] && [ "$(val worker ENC)" = "$(val store ENC_V5)" ] || fail "V5 not everywhere"; ok
[ "$(val store ENC_V4)" = "$old4" ] && [ "$(val store ENC_V3)" != "<absent>" ] || fail "old versions touched"; ok

del_worker ENC
A plan --now "$(day 100)"
expect_rc 2 "worker alias deleted: plan"
expect_out 'alias ENC lost on script:api/ENC' "worker alias: reason"
A apply --now "$(day 100)"; expect_rc 0 "worker alias: apply"
[ "$(val worker ENC)" = "$(val worker ENC_V6)" ] && [ "$(val worker ENC_VERSION)" = 6 ] || fail "worker alias not repaired"; ok

snapshot "$tmp/before.json"
del_store ENC_V5
w0=$(writes)
A plan --now "$(day 101)"
expect_rc 2 "retained version lost: plan"
expect_out '! V5 lost on store:default/ENC \(data encrypted with it cannot be decrypted\)' "lost: the ! line"
A status --now "$(day 101)"
expect_out 'Secret enc: current V6, .*condition Degraded' "lost: status says Degraded"
expect_out 'store:default/ENC \(missing\)' "lost: status names the target"
A apply --now "$(day 101)"
expect_rc 1 "lost: apply refuses"
[ "$(writes)" = "$w0" ] || fail "lost: something was written"; ok
cfs_in "$tmp/a" status -f key.yaml --state st/state.json --rebuild --now "$(day 101)"; expect_rc 0 "lost: acknowledged by status --rebuild"
A plan --now "$(day 101)"; expect_rc 0 "lost: clean after the rebuild"

# ---- 4. a Worker target whose script does not exist
mk "$tmp/noscript.yaml" ghost GHOST '{mode: count, versions: 2}' nosuch
printf -- '---\n' >> "$tmp/noscript.yaml"
mk "$tmp/other.yaml" fine FINE '{mode: count, versions: 2}'
cat "$tmp/other.yaml" >> "$tmp/noscript.yaml"
w0=$(writes)
cfs plan -f "$tmp/noscript.yaml" --state "$tmp/ns.json" --now "$(day 0)"
expect_rc 2 "missing script: plan"
expect_out "Worker script 'nosuch' does not exist" "missing script: named"
cfs apply -f "$tmp/noscript.yaml" --state "$tmp/ns.json" --now "$(day 0)"
expect_rc 1 "missing script: apply"
[ "$(val store GHOST_V1)" = "<absent>" ] || fail "missing script: GHOST written"; ok
[ "$(val store FINE_VERSION)" = 1 ] || fail "missing script: the other Secret did not converge"; ok

# ---- 5. the daemon repairs the same hand deletions within one interval
mkdir -p "$tmp/d"; cp "$tmp/a/key.yaml" "$tmp/d/"; cp "$tmp/a/st/state.json" "$tmp/d.json"
# (a pass every second: the naive loop with the whole budget; at the default
# --api-share 25% the daemon would stretch its interval to fit the share)
run_daemon "$tmp/d.json" -f "$tmp/d" --interval 1s --api-share 100% --observe-all --now "$(day 102)"
daemon_ready || fail "daemon not ready"
cur=$(val store ENC_VERSION)
ptr_is() { [ "$(val store ENC_VERSION)" = "$1" ] && [ "$(val worker ENC_VERSION)" = "$1" ]; }
del_store ENC_VERSION
until_ok 5 ptr_is "$cur" || fail "daemon: pointer not rewritten"; ok
[ "$(val store "ENC_V$((cur + 1))")" = "<absent>" ] || fail "daemon: a new version for a pointer"; ok
del_worker "ENC_V$cur"
until_ok 5 ptr_is $((cur + 1)) || fail "daemon: current version not rotated past"; ok
[ "$(val worker "ENC_V$((cur + 1))")" = "$(val store "ENC_V$((cur + 1))")" ] || fail "daemon: V$((cur + 1)) differs"; ok
cur=$((cur + 1))
alias_ok() { [ "$(val store ENC)" = "$(val store "ENC_V$cur")" ]; }
del_store ENC
until_ok 5 alias_ok || fail "daemon: store alias not copied again"; ok
ptr_is "$cur" || fail "daemon: alias repair moved the pointer"; ok
del_store "ENC_V$((cur - 1))"
lost() { [ "$(daemon_metric 'cfstorage_secret_versions_lost{name="enc"}')" = 1 ]; }
until_ok 5 lost || fail "daemon: cfstorage_secret_versions_lost not 1"; ok
w0=$(writes); p0=$(daemon_metric 'cfstorage_reconciles_total{result="ok"}')
passes_more() { [ "$(daemon_metric 'cfstorage_reconciles_total{result="ok"}')" -ge $((p0 + 2)) ]; }
until_ok 5 passes_more || fail "daemon: passes stopped"; ok
[ "$(writes)" = "$w0" ] || fail "daemon: wrote while Degraded"; ok
[ "$(grep -c 'secret versions lost' "$tmp/d.err" "$tmp/d.out" | awk -F: '{s+=$2} END {print s}')" = 1 ] \
	|| fail "daemon: the loss is not logged exactly once"; ok
stop_daemon

# ---- 6. no value anywhere: state files, outputs in every format at -v
for f in "-o json --log-format json" "--log-format logfmt" "-o json"; do
	# shellcheck disable=SC2086
	A plan -v $f --now "$(day 103)"; cat "$tmp/cfs.out" >> "$tmp/all-output"
	# shellcheck disable=SC2086
	A apply -v $f --now "$(day 103)"; cat "$tmp/cfs.out" >> "$tmp/all-output"
done
grep -q 'level=debug\|"level":"debug"' "$tmp/all-output" || fail "-v printed no debug line"; ok
values | python3 -c "
import json,sys,os,glob
v=json.load(sys.stdin); vals=set()
for grp in v.values():
    for src in grp.values():
        vals |= {x for x in src.values() if len(x) >= 16}
assert len(vals) >= 4, len(vals)
files = [f for f in glob.glob('$tmp/**', recursive=True) if os.path.isfile(f) and not f.endswith('.json.lock')]
files = [f for f in files if 'emu' not in os.path.basename(f) and not f.endswith(('v3.json','now.json','before.json'))]
for f in files:
    data = open(f, 'rb').read()
    for x in vals:
        assert x.encode() not in data, 'a secret value is in ' + f
print('leak check: %d values, %d files' % (len(vals), len(files)))
" || fail "a secret value leaked"; ok

emu_stop
echo "secrets_account: $checks passed, 0 failed"
