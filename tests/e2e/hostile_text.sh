#!/usr/bin/env bash
# API error text is untrusted: a loopback server answers every call with a
# Cloudflare error envelope whose message carries an escape sequence, a
# newline that would forge a logfmt line and quotes that would add fields.
# `cfstorage plan` (both log formats, -v) and the daemon's log lines keep it
# inside one field: no raw ESC, no forged line, every JSON line parses and
# carries the message intact.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
hpid= dpid=
trap 'for p in $dpid $hpid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup' EXIT

cat > "$tmp/hostile.py" <<'PY'
import http.server, json, sys
MSG = "a\u001b[31m\nlevel=error msg=forged\" x=\"y"
BODY = json.dumps({"success": False, "errors": [{"code": 1000, "message": MSG}],
                   "messages": [], "result": None}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = answer
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$tmp/hostile.py" > "$tmp/h.out" 2>"$tmp/h.err" &
hpid=$!
HPORT=$(listen_port "$tmp/h.out" "$hpid") || fail "hostile server did not print its port: $(cat "$tmp/h.err")"
export CLOUDFLARE_API_BASE_URL="http://127.0.0.1:$HPORT/client/v4" CLOUDFLARE_ACCOUNT_ID="$ACCT" \
	CLOUDFLARE_API_TOKEN="$TOKEN"

# clean_text FILE: no ESC or other raw control byte, no forged line
clean_text() {
	if LC_ALL=C grep -q $'\x1b' "$1"; then fail "raw ESC in $1: $(cat -v "$1" | head -5)"; fi; ok
	if LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' < "$1"); then fail "raw control byte in $1"; fi; ok
	if grep -qE '^(level=error )?msg=forged|^level=error msg=forged' "$1"; then fail "forged line in $1"; fi; ok
	if grep -qE '^[^ ]* ?x="y' "$1"; then fail "forged field line in $1"; fi; ok
}

# 1. plan, logfmt, -v: one failure line; the message is escaped in place
cfs plan --state "$tmp/state.json" -v -f manifests/examples
expect_rc 1 "plan against a hostile API"
clean_text "$tmp/cfs.out"
expect_out '^cfstorage: .*code 1000: a\\x1b\[31m\\nlevel=error msg=forged" x="y$' "escaped failure line"
[ "$(grep -c '^cfstorage:' "$tmp/cfs.out")" = 1 ] || fail "not one failure line"; ok
grep -v '^cfstorage:' "$tmp/cfs.out" | grep -v '^ts=[^ ]* level=' && fail "a line that is neither a log line nor the failure"; ok

# 2. plan, JSON logs, -v: every log line is one JSON object
rc=0; "$BIN/cfstorage" plan --state "$tmp/state.json" -v --log-format json -f manifests/examples \
	>"$tmp/plan.out" 2>"$tmp/cfs.out" || rc=$?
expect_rc 1 "plan with JSON logs"
clean_text "$tmp/cfs.out"
python3 - "$tmp/cfs.out" <<'PY' || fail "JSON log lines"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
logs = [l for l in lines if not l.startswith("cfstorage: ")]
assert len(lines) - len(logs) == 1, lines
assert logs, "no log lines with -v"
for l in logs:
    o = json.loads(l)
    assert "x" not in o and o.get("level") in ("debug", "info", "warn", "error"), o
    for k in ("status", "attempt"):
        if k in o:
            assert isinstance(o[k], int), (k, o)  # numbers stay numbers
PY
ok

# 3. the daemon logs the observe failure: logfmt and JSON, the field intact
for f in logfmt json; do
	: > "$tmp/d.err"
	"$BIN/cfstorage" run --state "$tmp/state-$f.json" --listen off --interval 1s --log-format "$f" \
		-f manifests/examples > "$tmp/d.out" 2> "$tmp/d.err" &
	dpid=$!
	for _ in $(seq 1 500); do # bounded poll for the failure's log line
		grep -q 'observe failed' "$tmp/d.err" && break
		kill -0 "$dpid" 2>/dev/null || fail "daemon exited: $(tail -3 "$tmp/d.err")"
		sleep 0.01
	done
	kill -TERM "$dpid"; wait "$dpid"; dpid=
	grep -q 'observe failed' "$tmp/d.err" || fail "$f: no observe failure logged"; ok
	clean_text "$tmp/d.err"
	if [ "$f" = json ]; then
		python3 - "$tmp/d.err" <<'PY' || fail "daemon JSON lines"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8").read().splitlines()]
obs = [o for o in objs if o["msg"] == "observe failed"]
assert obs and all("x" not in o for o in objs), objs
assert obs[0]["error"].endswith('a\x1b[31m\nlevel=error msg=forged" x="y'), obs[0]
PY
		ok
	else
		grep -q 'msg="observe failed" .*error=".*a\\x1b\[31m\\nlevel=error msg=forged\\" x=\\"y"$' "$tmp/d.err" \
			|| fail "logfmt value not escaped in place: $(grep 'observe failed' "$tmp/d.err" | head -1)"; ok
	fi
done
echo "hostile_text: $checks passed, 0 failed"
