#!/usr/bin/env bash
# cfemu crash safety: kill -9 during a burst of writes under --data, restart
# on the same directory, and every write that was acknowledged (HTTP 200) is
# there. Then a torn record is appended to the journal (what a crash in the
# middle of a write leaves) and the directory still loads, keeps everything,
# and takes new writes that survive another restart.
# Needs BIN (directory with cfemu), curl and python3.
set -euo pipefail
BIN=${BIN:-bin}
. tests/lib/poll.sh
tmp=$(mktemp -d)
pid=
cpid=

cleanup() {
	[ -n "$cpid" ] && { kill "$cpid" 2>/dev/null || true; wait "$cpid" 2>/dev/null || true; }
	[ -n "$pid" ] && { kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/err" ] && { echo "--- cfemu stderr:" >&2; tail -n 30 "$tmp/err" >&2; }
	exit 1
}

start() {
	: >"$tmp/out"
	"$BIN/cfemu" --listen 127.0.0.1:0 --data "$tmp/data" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	port=$(listen_port "$tmp/out" "$pid") || fail "cfemu did not print its listening line"
	U="http://127.0.0.1:$port/client/v4/accounts/0123456789abcdef0123456789abcdef"
}

auth=(-H "Authorization: Bearer cfemu-token")

start
curl -sf "${auth[@]}" -X POST --data '{"title":"crash"}' "$U/storage/kv/namespaces" >"$tmp/ns.json" ||
	fail "namespace create"
NS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"]["id"])' "$tmp/ns.json")
curl -sf -X POST --data '{"advance":3600}' "http://127.0.0.1:$port/__emu/clock" >/dev/null || fail "clock"

# A curl config with many transfers: KV puts, and a bucket create every 10th.
N=3000
python3 - "$U" "$NS" "$N" >"$tmp/burst.cfg" <<'EOF'
import sys
u, ns, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    if i % 10 == 0:
        print('url = "%s/r2/buckets"\nrequest = "POST"\ndata = "{\\"name\\":\\"crash-%05d\\"}"' % (u, i))
    else:
        print('url = "%s/storage/kv/namespaces/%s/values/k%05d"\nrequest = "PUT"\ndata = "value-%05d"' % (u, ns, i, i))
    print('header = "Authorization: Bearer cfemu-token"\noutput = "/dev/null"')
    print('write-out = "%%{http_code} %05d\\n"' % i)
    if i != n - 1:
        print("next")
EOF
curl -s -K "$tmp/burst.cfg" >"$tmp/acks" 2>/dev/null &
cpid=$!
# Kill -9 once a few hundred writes were acknowledged (bounded poll).
for _ in $(seq 1 1000); do
	[ "$(grep -c '^200 ' "$tmp/acks" 2>/dev/null || true)" -ge 300 ] && break
	kill -0 "$cpid" 2>/dev/null || break
	sleep 0.01
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
wait "$cpid" 2>/dev/null || true
cpid=
acked=$(grep -c '^200 ' "$tmp/acks" || true)
[ "$acked" -ge 1 ] || fail "no write was acknowledged before the kill"
[ "$acked" -lt "$N" ] || echo "note: the burst finished before the kill" >&2

check() {
	python3 - "$U" "$NS" "$tmp/acks" <<'EOF' || fail "acknowledged writes missing after restart"
import json, sys, urllib.request
u, ns, acks = sys.argv[1], sys.argv[2], sys.argv[3]
H = {"Authorization": "Bearer cfemu-token"}
def get(path):
    with urllib.request.urlopen(urllib.request.Request(u + path, headers=H)) as r:
        return json.load(r)
def post(path, body):
    req = urllib.request.Request(u + path, data=json.dumps(body).encode(), headers=H, method="POST")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
want_kv, want_b = {}, set()
for line in open(acks):
    st, i = line.split()
    if st != "200":
        continue
    i = int(i)
    if i % 10 == 0:
        want_b.add("crash-%05d" % i)
    else:
        want_kv["k%05d" % i] = "value-%05d" % i
buckets, cursor = set(), ""
while True:
    d = get("/r2/buckets?per_page=1000" + ("&cursor=" + cursor if cursor else ""))
    buckets |= {b["name"] for b in d["result"]["buckets"]}
    cursor = d["result_info"].get("cursor", "")
    if not cursor:
        break
missing_b = want_b - buckets
keys = sorted(want_kv)
missing_kv = []
for j in range(0, len(keys), 100):
    vals = post("/storage/kv/namespaces/%s/bulk/get" % ns, {"keys": keys[j:j + 100]})["result"]["values"]
    missing_kv += [k for k in keys[j:j + 100] if vals.get(k) != want_kv[k]]
print("acknowledged: %d KV writes, %d bucket creates; missing: %d, %d"
      % (len(want_kv), len(want_b), len(missing_kv), len(missing_b)))
sys.exit(1 if missing_kv or missing_b else 0)
EOF
}

start
check
offset=$(curl -s "http://127.0.0.1:$port/__emu/clock" | python3 -c 'import json,sys; print(json.load(sys.stdin)["offset"])')
[ "$offset" = 3600 ] || fail "clock offset not restored: $offset"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=

# A torn tail: a record header promising more bytes than were written.
printf 'J1 120 4000 deadbeef\n{"m":"PUT","p":"/acc' >>"$tmp/data/journal"
start
check
curl -sf "${auth[@]}" -X PUT --data 'after' "$U/storage/kv/namespaces/$NS/values/after-tear" >/dev/null ||
	fail "write after a torn tail"
kill -TERM "$pid"; wait "$pid" || fail "cfemu did not exit cleanly"; pid=
grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/err" && fail "sanitizer report"
start
[ "$(curl -s "${auth[@]}" "$U/storage/kv/namespaces/$NS/values/after-tear")" = after ] ||
	fail "write after the torn tail lost"
check
kill -TERM "$pid"; wait "$pid" || fail "cfemu did not exit cleanly"; pid=
grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/err" && fail "sanitizer report"
echo "emu_crash: $acked acknowledged writes survived kill -9 and a torn journal tail"
