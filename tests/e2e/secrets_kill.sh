#!/usr/bin/env bash
# kill -9 during a rotation, then ONE apply: every trial must converge with
# that single apply (a clean plan after it), no version rewritten, every
# target's pointer at the same version, which every target holds, and every
# alias equal to it. The kill lands after a random number of the rotation's
# writes (a bounded poll on cfemu's write counter, with latency on every call
# so the next write is in flight). TRIALS (default 10) and SEED are printed.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
# 10 trials with the plain build, 4 under the sanitizers (the suite's budget)
TRIALS=${TRIALS:-$([ "${FLAVOUR:-}" = asan ] && echo 4 || echo 10)}
SEED=${SEED:-$$}
RANDOM=$SEED
echo "secrets_kill: $TRIALS trials, seed $SEED"
emu_start --latency-ms 20
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -F 'metadata={"main_module":"w.js"};type=application/json' \
	-F 'w.js=export default {};type=application/javascript+module' "$EMU/client/v4/accounts/$ACCT/workers/scripts/api"
cat > "$tmp/k.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {name: k}
spec:
  generate: {bytes: 32}
  rotation: {everyDays: 90, retain: {mode: count, versions: 2}}
  alias: true
  targets:
    - secretsStore: {store: default, name: K}
    - workerSecret: {script: api, name: K}
Y
st=(--state "$tmp/state.json" -f "$tmp/k.yaml")
cfs apply "${st[@]}" --now "$(day 0)"; expect_rc 0 "first version"
curl -s "$EMU/__emu/secret-values" > "$tmp/seen.json"

# consistent: one pointer value everywhere, held by every target, aliases equal
# to it, and no version's value ever changed since it was first seen
check() {
	curl -s "$EMU/__emu/secret-values" | python3 -c "
import json, sys
v = json.load(sys.stdin); seen = json.load(open('$tmp/seen.json'))
w = v['workers']['api']; s = next(iter(v['secretsStore'].values()))
assert w['K_VERSION'] == s['K_VERSION'], ('pointers differ', w['K_VERSION'], s['K_VERSION'])
n = 'K_V' + s['K_VERSION']
assert n in w and n in s and w[n] == s[n], (n, 'not the same on both targets')
assert w['K'] == s['K'] == s[n], 'an alias is not the current value'
for src, cur in (('workers', w), ('store', s)):
    old = seen['workers']['api'] if src == 'workers' else next(iter(seen['secretsStore'].values()))
    for k, x in cur.items():
        if k.startswith('K_V') and k != 'K_VERSION' and k in old and old[k] != x:
            raise SystemExit('%s %s was rewritten' % (src, k))
json.dump(v, open('$tmp/seen.json', 'w'))
"
}

for i in $(seq 1 "$TRIALS"); do
	d=$((i * 2))
	k=$((RANDOM % 7 + 1)) # kill after the k-th write of the rotation
	w0=$(emu_stat writes)
	"$BIN/cfstorage" rotate k --force "${st[@]}" --now "$(day $d)" >"$tmp/rot.out" 2>&1 &
	cpid=$!
	writes_reached() { [ "$(emu_stat writes)" -ge $((w0 + k)) ] || ! kill -0 "$cpid" 2>/dev/null; }
	until_ok 20 writes_reached || fail "trial $i: the rotation made no progress"
	kill -9 "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
	cfs apply "${st[@]}" --now "$(day $d)"
	expect_rc 0 "trial $i (killed after write $k): one apply"
	cfs plan "${st[@]}" --now "$(day $d)"
	expect_rc 0 "trial $i (killed after write $k): clean after one apply"
	check || fail "trial $i (killed after write $k): inconsistent"; ok
done

emu_stop
echo "secrets_kill: $checks passed, 0 failed"
