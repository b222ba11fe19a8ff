# Shared by the e2e scripts: start cfemu on a free loopback port, talk to it,
# read its stats, and count checks. Source it after setting BIN.
# shellcheck shell=bash
. "$(dirname "${BASH_SOURCE[0]}")/poll.sh"
TOKEN=cfemu-token
ACCT=0123456789abcdef0123456789abcdef
tmp=$(mktemp -d)
emu_pid=
checks=0

cleanup() {
	if [ -n "${dpid:-}" ]; then kill -9 "$dpid" 2>/dev/null || true; fi # no daemon outlives a run
	if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/cfs.out" ] && { echo "--- last cfstorage output:" >&2; tail -n 40 "$tmp/cfs.out" >&2; }
	[ -f "$tmp/emu.err" ] && { echo "--- cfemu stderr:" >&2; tail -n 20 "$tmp/emu.err" >&2; }
	exit 1
}
ok() { checks=$((checks+1)); }

# emu_start ARGS...: cfemu on 127.0.0.1:0 (token from a 0600 file, never argv).
emu_start() {
	printf '%s' "$TOKEN" > "$tmp/emu-token"; chmod 600 "$tmp/emu-token"
	: > "$tmp/emu.out"
	"$BIN/cfemu" --listen 127.0.0.1:0 --token-file "$tmp/emu-token" "$@" >"$tmp/emu.out" 2>"$tmp/emu.err" &
	emu_pid=$!
	EMU_PORT=$(listen_port "$tmp/emu.out" "$emu_pid") || fail "cfemu did not print its listening line"
	EMU="http://127.0.0.1:$EMU_PORT"
	export CLOUDFLARE_API_BASE_URL="$EMU/client/v4" CLOUDFLARE_ACCOUNT_ID="$ACCT" CLOUDFLARE_API_TOKEN="$TOKEN"
}

emu_stop() {
	[ -n "$emu_pid" ] || return 0
	kill -TERM "$emu_pid"; wait "$emu_pid" || fail "cfemu exited non-zero on SIGTERM"
	emu_pid=
}

# api METHOD PATH [curl args]: an authenticated call; body in $tmp/body, status echoed.
api() {
	local m=$1 p=$2; shift 2
	curl -s -o "$tmp/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $TOKEN" \
		"$EMU/client/v4/accounts/$ACCT$p" "$@"
}

# emu_writes / emu_requests: counters from /__emu/stats.
emu_stat() { curl -s "$EMU/__emu/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# cfs ARGS...: runs cfstorage, output in $tmp/cfs.out, exit code in $rc.
cfs() { rc=0; "$BIN/cfstorage" "$@" >"$tmp/cfs.out" 2>&1 || rc=$?; }
expect_rc() { [ "$rc" = "$1" ] || fail "$2: exit $rc, want $1"; ok; }
expect_out() { grep -qE -- "$1" "$tmp/cfs.out" || fail "$2: output lacks /$1/"; ok; }
expect_no_out() { if grep -qE -- "$1" "$tmp/cfs.out"; then fail "$2: output has /$1/"; fi; ok; }

# run_daemon STATE ARGS...: `cfstorage run` with its probes on a free port;
# sets dpid and D (its base URL) once it listens. Output in $tmp/d.out and
# $tmp/d.err.
dpid=
run_daemon() {
	local state=$1; shift
	: > "$tmp/d.out"
	"$BIN/cfstorage" run --state "$state" --listen 127.0.0.1:0 "$@" > "$tmp/d.out" 2> "$tmp/d.err" &
	dpid=$!
	DPORT=$(listen_port "$tmp/d.out" "$dpid") || fail "daemon did not start: $(tail -3 "$tmp/d.err")"
	D="http://127.0.0.1:$DPORT"
}
# daemon_ready [SECONDS]: /readyz answers (the first pass is done).
daemon_ready() { until_ok "${1:-10}" curl -sf "$D/readyz"; }
# stop_daemon: SIGTERM, and its exit status must be 0.
stop_daemon() {
	[ -n "$dpid" ] || return 0
	kill -TERM "$dpid"; wait "$dpid" || fail "daemon exited non-zero on SIGTERM"
	dpid=
}
# daemon_metric NAME{LABELS}: one sample from the daemon's /metrics.
daemon_metric() { curl -s "$D/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

# day N: 2027-01-01 plus N days, as RFC 3339 (for --now: time is a parameter).
day() { python3 -c "import datetime as d; print((d.datetime(2027,1,1,tzinfo=d.timezone.utc)+d.timedelta(days=$1)).strftime('%Y-%m-%dT%H:%M:%SZ'))"; }
# values: every secret value cfemu holds (GET /__emu/secret-values), as JSON.
values() { curl -s "$EMU/__emu/secret-values"; }
