#!/usr/bin/env bash
# No secret value stays in the daemon's memory outside MADV_DONTDUMP pages:
# after the daemon rotated three Secrets (each written to a Secrets Store and
# a Worker), every readable page of the running process is read through
# /proc/PID/mem (pages marked "dd" in /proc/PID/smaps are skipped: they never
# reach a core dump) and searched for every value cfemu holds. libcurl's
# freed request buffers are cleansed by the allocation callbacks given to
# curl_global_init_mem. The scanner is proven on cfemu, which keeps the
# values in its ordinary heap. Core dumps are off (RLIMIT_CORE 0).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
emu_start
m="$tmp/m"; mkdir -p "$m"
dpid=
trap 'if [ -n "$dpid" ]; then kill -9 "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null; fi; cleanup' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# the Worker script must exist (cfstorage never creates one)
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -F 'metadata={"main_module":"w.js"};type=application/json' \
	-F 'w.js=export default {};type=application/javascript+module' "$EMU/client/v4/accounts/$ACCT/workers/scripts/api"
for n in 1 2 3; do
	cat > "$m/s$n.yaml" <<Y
apiVersion: cfstorage.dev/v1alpha1
kind: Secret
metadata: {name: key-$n}
spec:
  generate: {bytes: 32, encoding: base64url}
  rotation: {everyDays: 1}
  alias: true
  targets:
    - secretsStore: {store: default, name: KEY_$n}
    - workerSecret: {script: api, name: KEY_$n}
Y
done
# V1 made by the CLI a day and a minute ago: all three are due when the daemon starts
past=$(python3 -c "import time; print(time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 86400 - 60)))")
cfs apply --state "$tmp/state.json" -f "$m" --now "$past"
expect_rc 0 "V1 of three secrets"

"$BIN/cfstorage" run --state "$tmp/state.json" --listen off --interval 1s -f "$m" \
	> "$tmp/d.out" 2> "$tmp/d.err" &
dpid=$!
rotated() {
	curl -s "$EMU/__emu/secret-values" | python3 -c "
import json, sys
v = json.load(sys.stdin)
srcs = list(v['secretsStore'].values()) + [v['workers'].get('api', {})]
sys.exit(0 if srcs and all(s.get('KEY_%d_VERSION' % n) == '2' for s in srcs for n in (1, 2, 3)) else 1)"
}
until_ok 20 rotated || fail "the daemon did not rotate the three secrets: $(tail -3 "$tmp/d.err")"; ok
kill -0 "$dpid" || fail "daemon died"; ok
curl -s "$EMU/__emu/secret-values" > "$tmp/values.json"

cat > "$tmp/scan.py" <<'PY'
import json, re, sys
pid, values_file = int(sys.argv[1]), sys.argv[2]
v = json.load(open(values_file))
values = set()
for src in list(v["secretsStore"].values()) + list(v["workers"].values()):
    for k, x in src.items():
        if not k.endswith("_VERSION") and len(x) >= 16:
            values.add(x.encode())
assert len(values) >= 6, values
regions, cur = [], None
for line in open("/proc/%d/smaps" % pid):
    m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ", line)
    if m:
        cur = {"start": int(m.group(1), 16), "end": int(m.group(2), 16), "perms": m.group(3),
               "name": line.split()[5] if len(line.split()) > 5 else "", "dd": False}
        regions.append(cur)
    elif line.startswith("VmFlags:"):
        cur["dd"] = "dd" in line.split()[1:]
hits, scanned, dd = [], 0, 0
with open("/proc/%d/mem" % pid, "rb", 0) as mem:
    for r in regions:
        if r["dd"]:
            dd += 1
            continue
        if r["perms"][0] != "r" or r["name"] in ("[vvar]", "[vsyscall]"):
            continue
        try:
            mem.seek(r["start"])
            data = mem.read(r["end"] - r["start"])
        except OSError:
            continue
        scanned += len(data)
        for val in values:
            i = data.find(val)
            while i >= 0:
                hits.append("%s at %#x in %s" % (val[:6].decode() + "...", r["start"] + i, r["name"] or "anon"))
                i = data.find(val, i + 1)
print("values=%d scanned_mb=%.1f dd_regions=%d hits=%d" % (len(values), scanned / 1e6, dd, len(hits)))
for h in hits[:10]:
    print("  " + h)
sys.exit(1 if hits else 0)
PY
# the scanner finds the values where they are (cfemu keeps them in its heap)
python3 "$tmp/scan.py" "$emu_pid" "$tmp/values.json" > "$tmp/scan-emu.out" && fail "scanner found nothing in cfemu: $(cat "$tmp/scan-emu.out")"; ok
echo "cfemu (control): $(head -1 "$tmp/scan-emu.out")"
python3 "$tmp/scan.py" "$dpid" "$tmp/values.json" > "$tmp/scan.out" || fail "values in the daemon's memory: $(cat "$tmp/scan.out")"; ok
echo "daemon: $(head -1 "$tmp/scan.out")"
grep -qE '^Max core file size +0 +0 ' "/proc/$dpid/limits" || fail "core dumps not off: $(grep core "/proc/$dpid/limits")"; ok

kill -TERM "$dpid"; wait "$dpid" || fail "daemon exit $?: $(grep -A12 "^Direct leak" "$tmp/d.err" | head -40)"; dpid=
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/d.err" >/dev/null; then fail "sanitizer report"; fi; ok
echo "secret_memory: $checks passed, 0 failed"
