#!/usr/bin/env bash
# The daemon's HTTP side cannot starve the reconciler: under `ulimit -n 1024`
# (systemd's default) 1,500 loopback connections to the metrics port, each
# trickling a never-ending request (slowloris), leave the daemon its
# descriptors: it keeps reconciling (cfemu sees requests, a drift is
# repaired), saves its state, never hits "Too many open files", answers a
# probe from another address meanwhile and /healthz within 1 s once they
# close, and its log stays bounded.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
FLOOD=1500
emu_start
m="$tmp/m"; mkdir -p "$m"
dpid= fpid=
trap 'for p in $fpid $dpid; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup' EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
cors_exists() { [ "$(api GET "/r2/buckets/$1/cors")" = 200 ]; }
state_has() { python3 -c "import json,sys; s=json.load(open('$tmp/state.json')); sys.exit(0 if any(r['name']=='$1' for r in s['resources']) else 1)"; }

cat > "$m/base.yaml" <<'Y'
apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {name: web-assets}
spec:
  cors:
    rules:
      - {allowedOrigins: ["https://web.example"], allowedMethods: [GET]}
Y
cfs apply --state "$tmp/state.json" -f "$m"
expect_rc 0 "initial apply"

# a pass a second, every part every pass (the naive loop at the whole budget):
# drift is repaired at the next pass however the flood goes
( ulimit -n 1024 && exec "$BIN/cfstorage" run --state "$tmp/state.json" --listen 127.0.0.1:0 \
	--interval 1s --api-share 100% --observe-all -f "$m" > "$tmp/d.out" 2> "$tmp/d.err" ) &
dpid=$!
DPORT=$(listen_port "$tmp/d.out" "$dpid") || fail "daemon exited: $(tail -3 "$tmp/d.err")"
D="http://127.0.0.1:$DPORT"
[ "$(awk '/^Max open files/ {print $4}' "/proc/$dpid/limits")" = 1024 ] || fail "daemon not under ulimit -n 1024"; ok
until_ok 5 curl -sf "$D/readyz" || fail "not ready"; ok

# the flood: FLOOD non-blocking connects, each sending a request head one
# header line every 2 s and never finishing it; held until $tmp/release
# exists (at most 60 s), then all closed
cat > "$tmp/flood.py" <<'PY'
import os, resource, selectors, socket, sys, time
port, n, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 256), hard))
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    socks.append(s)
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_WRITE)
pending, end = set(socks), time.time() + 10
while pending and time.time() < end:  # bounded wait for the handshakes
    for key, _ in sel.select(timeout=0.2):
        sel.unregister(key.fileobj)
        pending.discard(key.fileobj)
up = [s for s in socks if s not in pending and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0]
def send(data):
    for s in up:
        try:
            s.send(data, socket.MSG_DONTWAIT)
        except OSError:
            pass
send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
print("established %d of %d" % (len(up), n), flush=True)
end, last = time.time() + 60, time.time()
while not os.path.exists(release) and time.time() < end:
    if time.time() - last >= 2:
        send(b"X-Slow: 1\r\n")
        last = time.time()
    time.sleep(0.05)
for s in socks:
    s.close()
print("closed", flush=True)
PY
python3 "$tmp/flood.py" "$DPORT" "$FLOOD" "$tmp/release" > "$tmp/flood.out" 2>&1 &
fpid=$!
until_ok 15 grep -q '^established' "$tmp/flood.out" || fail "flood did not start: $(cat "$tmp/flood.out")"
est=$(sed -n 's/^established \([0-9]*\) of.*/\1/p' "$tmp/flood.out")
[ "$est" -ge 1000 ] || fail "only $est of $FLOOD connections established"; ok
echo "flood: $(cat "$tmp/flood.out")"

# under the flood: the reconciler keeps its descriptors and keeps working
r0=$(emu_stat requests)
until_ok 5 sh -c "[ \$(curl -s $EMU/__emu/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"requests\"])') -gt $r0 ]" \
	|| fail "no API requests under the flood"; ok
[ "$(api DELETE /r2/buckets/web-assets/cors)" = 200 ] || fail "drift"
until_ok 5 cors_exists web-assets || fail "drift not repaired under the flood"; ok
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: added-under-flood}\nspec: {}\n' > "$m/.x.tmp"
mv "$m/.x.tmp" "$m/added.yaml"
until_ok 5 state_has added-under-flood || fail "state not saved under the flood"; ok
fds=$(ls "/proc/$dpid/fd" | wc -l)
[ "$fds" -le $((1024 - 200)) ] || fail "the daemon holds $fds descriptors under the flood"; ok
echo "daemon descriptors under the flood: $fds"

# a probe from another address still gets a slot (one address holds at
# most half of them)
until_ok 2 curl -sf --max-time 1 --interface 127.0.0.2 "$D/healthz" \
	|| fail "/healthz from another address failed under the flood"; ok

# the flood ends: /healthz answers within 1 s
touch "$tmp/release"
until_ok 15 grep -q '^closed' "$tmp/flood.out" || fail "flood did not close"
wait "$fpid"; fpid=
t0=$(now_ms)
until_ok 1 curl -sf --max-time 1 "$D/healthz" || fail "/healthz did not answer within 1 s after the flood"; ok
echo "healthz after the flood: $(( $(now_ms) - t0 )) ms"

kill -TERM "$dpid"; wait "$dpid" || fail "daemon exit after the flood"; dpid=
if grep -q 'Too many open files' "$tmp/d.err"; then fail "descriptor starvation: $(grep -m1 'Too many open files' "$tmp/d.err")"; fi; ok
if grep -q 'state not saved' "$tmp/d.err"; then fail "state not saved"; fi; ok
lines=$(wc -l < "$tmp/d.err")
http_lines=$(grep -c 'msg="http server"' "$tmp/d.err")
[ "$lines" -le 200 ] || fail "$lines log lines: not bounded"; ok
[ "$http_lines" -le 20 ] || fail "$http_lines http server lines: not rate-limited"; ok
echo "daemon log: $lines lines, $http_lines from the http server"
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/d.err" >/dev/null; then fail "sanitizer report"; fi; ok
grep "http server" "$tmp/d.err" | head -3
echo "http_flood: $checks passed, 0 failed"
