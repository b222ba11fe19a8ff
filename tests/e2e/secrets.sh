#!/usr/bin/env bash
# Rotating secrets end to end against cfemu, with --now (no waiting): the
# version ledger, the two-phase flip under injected faults, the retain
# policies, the ledger rebuilt from the account, visibility to wrangler and
# the SDK, and no value ever in the state, the output or argv.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
st=(--state "$tmp/state/state.json")
# val WHERE NAME: a value from /__emu/secret-values (WHERE: worker or store)
val() {
	values | python3 -c "
import json,sys; v=json.load(sys.stdin)
src = v['workers'].get('api', {}) if '$1' == 'worker' else next(iter(v['secretsStore'].values()), {})
print(src.get('$2', '<absent>'))"
}
# the Worker script must exist (cfstorage never creates one)
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -F 'metadata={"main_module":"w.js"};type=application/json' \
	-F 'w.js=export default {};type=application/javascript+module' "$EMU/client/v4/accounts/$ACCT/workers/scripts/api"

mk() { # mk FILE NAME BASE RETAIN-YAML
	cat > "$1" <<Y
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {name: $2}
spec:
  generate: {bytes: 32, encoding: base64url}
  rotation:
    everyDays: ${5:-90}
    retain: $4
  alias: true
  targets:
    - secretsStore: {store: default, name: $3}
    - workerSecret: {script: api, name: $3}
  deletionPolicy: Delete
Y
}
mk "$tmp/count.yaml" signing SIGNING '{mode: count, versions: 2}'

# day 0: V1 everywhere, then the pointer (and the alias)
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 0)"
expect_rc 0 "day 0 apply"
expect_out '^  \+ Secret signing: create' "day 0 creates"
[ "$(val store SIGNING_VERSION)" = 1 ] && [ "$(val worker SIGNING_VERSION)" = 1 ] || fail "pointer not 1"; ok
v1=$(val store SIGNING_V1)
[ ${#v1} = 43 ] || fail "V1 is not 32 bytes base64url (${#v1} chars)"; ok
[ "$(val worker SIGNING_V1)" = "$v1" ] && [ "$(val store SIGNING)" = "$v1" ] || fail "V1 differs between targets or alias"; ok
cfs plan "${st[@]}" -f "$tmp/count.yaml" --now "$(day 89)"
expect_rc 0 "day 89 plans clean"
cfs plan "${st[@]}" -f "$tmp/count.yaml" --now "$(day 90)"
expect_rc 2 "day 90 plan"
expect_out "↻ Secret signing: rotate" "rotate marker"
expect_out "due since 2027-04-01" "due reason"
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 90)"
expect_rc 0 "day 90 rotates"
[ "$(val store SIGNING_VERSION)" = 2 ] && [ "$(val worker SIGNING_VERSION)" = 2 ] || fail "pointer not 2"; ok
[ "$(val store SIGNING_V1)" = "$v1" ] || fail "V1 gone at V2"; ok
v2=$(val store SIGNING_V2)
[ "$v2" != "$v1" ] && [ "$(val worker SIGNING)" = "$v2" ] || fail "V2 not new or alias not moved"; ok
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 180)"
expect_rc 0 "day 180 rotates"
expect_out "destroy V1 \(retain count 2\)" "V1 destroyed at V3"
[ "$(val store SIGNING_V1)" = "<absent>" ] && [ "$(val worker SIGNING_V1)" = "<absent>" ] || fail "V1 still present"; ok
[ "$(val store SIGNING_V2)" = "$v2" ] || fail "V2 (previous) destroyed"; ok
cfs status "${st[@]}" -f "$tmp/count.yaml" --now "$(day 180)"
expect_out 'Secret signing: current V3, next rotation 2027-09-28' "status next rotation"
expect_no_out '  V1 +destroyed' "status hides destroyed versions"
cfs status "${st[@]}" -v -f "$tmp/count.yaml" --now "$(day 180)"
expect_out '  V1 +destroyed' "status -v shows destroyed"
expect_out '  V2 +previous' "status shows previous"

# a fault on the pointer write: V4 stays pending, the pointer stays at 3
curl -s -X POST "$EMU/__emu/faults" -d '{"method":"PATCH","route":"/accounts/{account_id}/secrets_store/stores/{store_id}/secrets/{secret_id}","status":500,"count":20}' >/dev/null
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 270)"
expect_rc 1 "pointer fault"
expect_out 'FAILED: ' "pointer fault reported"
[ "$(val store SIGNING_VERSION)" = 3 ] && [ "$(val worker SIGNING_VERSION)" = 3 ] || fail "pointer moved despite the fault"; ok
pending=$(val store SIGNING_V4)
[ "$pending" != "<absent>" ] || fail "V4 was not written before the pointer"; ok
cfs status "${st[@]}" -o json
python3 -c "
import json,sys; s=json.load(open('$tmp/cfs.out'))['secrets'][0]
st={v['version']:v['status'] for v in s['versions']}
assert s['current']==3 and st[4]=='pending', st" || fail "ledger after pointer fault"; ok
curl -s -X DELETE "$EMU/__emu/faults" >/dev/null
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 271)"
expect_rc 0 "pending completed"
expect_out 'V4 was left pending by an interrupted run' "completion reason"
[ "$(val store SIGNING_VERSION)" = 4 ] && [ "$(val worker SIGNING_VERSION)" = 4 ] || fail "pointer not 4"; ok
[ "$(val store SIGNING_V4)" != "$pending" ] || fail "V4 was not regenerated"; ok
[ "$(val worker SIGNING_V4)" = "$(val store SIGNING_V4)" ] || fail "V4 differs between targets"; ok

# a fault on one of two targets: never flips
curl -s -X POST "$EMU/__emu/faults" -d '{"method":"PUT","route":"/accounts/{account_id}/workers/scripts/{script_name}/secrets","status":500,"count":20}' >/dev/null
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 361)"
expect_rc 1 "one target fails"
[ "$(val store SIGNING_VERSION)" = 4 ] && [ "$(val worker SIGNING_VERSION)" = 4 ] || fail "flipped with a target missing"; ok
[ "$(val worker SIGNING_V5)" = "<absent>" ] || fail "worker has V5 despite the fault"; ok
curl -s -X DELETE "$EMU/__emu/faults" >/dev/null
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 362)"
expect_rc 0 "recovered"
[ "$(val worker SIGNING_VERSION)" = 5 ] || fail "pointer not 5"; ok

# rotate NAME: refused when young without --force
cfs rotate "${st[@]}" signing -f "$tmp/count.yaml" --now "$(day 362)"
expect_rc 1 "young rotate refused"
expect_out 'less than a day ago; use --force' "young rotate message"
cfs rotate "${st[@]}" signing -f "$tmp/count.yaml" --now "$(day 362)" --force
expect_rc 0 "forced rotate"
[ "$(val worker SIGNING_VERSION)" = 6 ] || fail "pointer not 6 after rotate"; ok

# the state is lost: rebuild from the account; numbering goes on
cp "$tmp/state/state.json" "$tmp/before.json"
rm -f "$tmp/state/state.json"
cfs status "${st[@]}" --rebuild -f "$tmp/count.yaml" --now "$(day 363)"
expect_rc 0 "rebuild"
expect_out 'Secret signing: current V6' "rebuilt current"
python3 - "$tmp/before.json" "$tmp/state/state.json" <<'PY' || fail "rebuilt ledger differs"
import json, sys
a = json.load(open(sys.argv[1]))["secrets"]["signing"]["versions"]
b = json.load(open(sys.argv[2]))["secrets"]["signing"]["versions"]
live = lambda vs: {v["version"]: (v["status"], v["fingerprint"], v["created"]) for v in vs if v["status"] != "destroyed"}
assert live(a) == live(b), (live(a), live(b))
PY
ok
cfs apply "${st[@]}" -f "$tmp/count.yaml" --now "$(day 460)"
expect_rc 0 "rotation after rebuild"
[ "$(val store SIGNING_VERSION)" = 7 ] || fail "after rebuild the next version is not 7"; ok

# retain_forever keeps everything; days N destroys by age
mk "$tmp/forever.yaml" forever FOREVER '{mode: retain_forever}' 30
mk "$tmp/days.yaml" bydays BYDAYS '{mode: days, days: 100}' 30
for d in 0 30 60 90 120; do
	cfs apply --state "$tmp/f.json" -f "$tmp/forever.yaml" --now "$(day $d)"; expect_rc 0 "forever day $d"
	cfs apply --state "$tmp/d.json" -f "$tmp/days.yaml" --now "$(day $d)"; expect_rc 0 "days day $d"
done
for n in 1 2 3 4 5; do [ "$(val store FOREVER_V$n)" != "<absent>" ] || fail "retain_forever lost V$n"; done; ok
[ "$(val store BYDAYS_V1)" = "<absent>" ] || fail "days 100: V1 (120 days old) kept"; ok
[ "$(val store BYDAYS_V2)" != "<absent>" ] || fail "days 100: V2 (90 days old) destroyed"; ok

# visible to wrangler and the SDK under those names
if [ -x tests/node_modules/.bin/wrangler ]; then
	mkdir -p "$tmp/home" "$tmp/wd"
	(cd "$tmp/wd" && HOME="$tmp/home" WRANGLER_SEND_METRICS=false CLOUDFLARE_API_BASE_URL="$EMU/client/v4" \
		"$OLDPWD/tests/node_modules/.bin/wrangler" secret list --name api --format json) > "$tmp/wr.json" 2>"$tmp/wr.err" \
		|| fail "wrangler secret list failed: $(tail -3 "$tmp/wr.err")"
	python3 -c "
import json; n={s['name'] for s in json.load(open('$tmp/wr.json'))}
assert {'SIGNING_V6','SIGNING_V7','SIGNING_VERSION','SIGNING'} <= n, n" || fail "wrangler does not list the versions"; ok
	NODE_PATH=tests/node_modules node --input-type=module -e "
import Cloudflare from '$PWD/tests/node_modules/cloudflare/index.mjs';
const cf = new Cloudflare({apiToken: '$TOKEN', baseURL: '$EMU/client/v4', maxRetries: 0});
const stores = []; for await (const s of cf.secretsStore.stores.list({account_id: '$ACCT'})) stores.push(s);
const names = []; for await (const s of cf.secretsStore.stores.secrets.list(stores[0].id, {account_id: '$ACCT', per_page: 5})) names.push(s.name);
for (const n of ['SIGNING_V6','SIGNING_V7','SIGNING_VERSION','FOREVER_V1']) if (!names.includes(n)) { console.error('missing', n, names); process.exit(1); }
if (names.some(n => n === 'SIGNING_V1')) { console.error('destroyed V1 listed'); process.exit(1); }
" || fail "the SDK does not list the versions"; ok
fi

# no value anywhere: state, captured output at -v, argv
cfs apply "${st[@]}" -v -f "$tmp/count.yaml" --now "$(day 560)"
cat "$tmp/cfs.out" > "$tmp/all-output"
"$BIN/cfstorage" apply "${st[@]}" -v -f "$tmp/count.yaml" --now "$(day 561)" >> "$tmp/all-output" 2>&1 &
cpid=$!
cat "/proc/$cpid/cmdline" > "$tmp/cmdline" 2>/dev/null; wait "$cpid"
values | python3 -c "
import json,sys,os,glob
v=json.load(sys.stdin); vals=set()
for grp in v.values():
    for src in grp.values():
        vals |= {x for x in src.values() if len(x) >= 16}
assert len(vals) >= 10, len(vals)
files = glob.glob('$tmp/state/**', recursive=True) + glob.glob('$tmp/*.json') + ['$tmp/all-output', '$tmp/cmdline']
for f in files:
    if os.path.isfile(f):
        data = open(f, 'rb').read()
        for x in vals:
            assert x.encode() not in data, 'a secret value is in ' + f
print('leak check: %d values, %d files' % (len(vals), len(files)))
" || fail "a secret value leaked"; ok

# prune: owned + Delete + --prune removes every version, the pointer and the alias
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: placeholder}\nspec: {}\n' > "$tmp/none.yaml"
cfs apply "${st[@]}" -f "$tmp/none.yaml" --now "$(day 562)"
expect_rc 0 "no prune keeps"
[ "$(val store SIGNING_VERSION)" != "<absent>" ] || fail "deleted without --prune"; ok
cfs apply "${st[@]}" --prune -f "$tmp/none.yaml" --now "$(day 562)"
expect_rc 0 "prune secret"
values | python3 -c "
import json,sys; v=json.load(sys.stdin)
left=[n for g in v.values() for s in g.values() for n in s if n.startswith('SIGNING')]
assert not left, left" || fail "prune left SIGNING values"; ok

emu_stop
echo "secrets: $checks passed, 0 failed"
