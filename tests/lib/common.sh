# Shared by the e2e scripts: start cfemu on a free loopback port, talk to it,
# read its stats, and count checks. Source it after setting BIN.
# shellcheck shell=bash
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
	EMU_PORT=
	for _ in $(seq 1 500); do # bounded poll for the "listening on" line
		EMU_PORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$tmp/emu.out")
		[ -n "$EMU_PORT" ] && break
		kill -0 "$emu_pid" 2>/dev/null || fail "cfemu exited before listening"
		sleep 0.01
	done
	[ -n "$EMU_PORT" ] || fail "cfemu did not print its listening line"
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

# until_ok SECONDS CMD...: polls CMD every 50 ms until it succeeds (0) or the
# bound passes (1).
until_ok() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# run_daemon STATE ARGS...: `cfstorage run` with its probes on a free port;
# sets dpid and D (its base URL). Output in $tmp/d.out and $tmp/d.err.
dpid=
run_daemon() {
	local state=$1; shift
	: > "$tmp/d.out"
	"$BIN/cfstorage" run --state "$state" --listen 127.0.0.1:0 "$@" > "$tmp/d.out" 2> "$tmp/d.err" &
	dpid=$!
	DPORT=
	for _ in $(seq 1 500); do # bounded poll for the "listening on" line
		DPORT=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$tmp/d.out")
		[ -n "$DPORT" ] && break
		kill -0 "$dpid" 2>/dev/null || fail "daemon exited: $(tail -3 "$tmp/d.err")"
		sleep 0.01
	done
	[ -n "$DPORT" ] || fail "daemon did not print its listening line"
	D="http://127.0.0.1:$DPORT"
	until_ok 10 curl -sf "$D/readyz" || fail "daemon not ready"
}
# stop_daemon: SIGTERM, and its exit status must be 0.
stop_daemon() {
	[ -n "$dpid" ] || return 0
	kill -TERM "$dpid"; wait "$dpid" || fail "daemon exited non-zero on SIGTERM"
	dpid=
}
# daemon_metric NAME{LABELS}: one sample from the daemon's /metrics.
daemon_metric() { curl -s "$D/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
