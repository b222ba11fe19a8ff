# Shared by the bench scripts (source it): start/stop cfemu on a free loopback
# port with its token in a 0600 file, read /__emu/stats, reset it.
# shellcheck shell=bash
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$BENCH_ROOT/bin}
. "$BENCH_ROOT/tests/lib/poll.sh"
TOKEN=cfemu-token
ACCT=0123456789abcdef0123456789abcdef
btmp=$(mktemp -d "${TMPDIR:-/tmp}/cfbench.XXXXXX")
emu_pid=

bench_cleanup() {
	if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; fi
	if [ -n "${BENCH_KEEP:-}" ]; then echo "(scratch kept in $btmp)"; else rm -rf "$btmp"; fi
}
trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP

die() { echo "bench: $*" >&2; exit 1; }

# emu_start ARGS...: cfemu on 127.0.0.1:0; sets EMU (http://127.0.0.1:PORT)
# and API (EMU/client/v4). Bounded poll (5 s) for the listening line.
emu_start() {
	[ -x "$BIN/cfemu" ] || die "$BIN/cfemu is missing; run 'make all'"
	printf '%s' "$TOKEN" >"$btmp/emu-token"; chmod 600 "$btmp/emu-token"
	: >"$btmp/emu.out"
	"$BIN/cfemu" --listen 127.0.0.1:0 --token-file "$btmp/emu-token" "$@" \
		>"$btmp/emu.out" 2>"$btmp/emu.err" &
	emu_pid=$!
	EMU_PORT=$(listen_port "$btmp/emu.out" "$emu_pid") || { cat "$btmp/emu.err" >&2; die "cfemu did not print its listening line"; }
	EMU="http://127.0.0.1:$EMU_PORT"
	API="$EMU/client/v4"
}

emu_stop() {
	[ -n "$emu_pid" ] || return 0
	kill -TERM "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null
	emu_pid=
}

emu_reset() { curl -sf --noproxy '*' -X POST "$EMU/__emu/reset" >/dev/null || die "POST /__emu/reset failed"; }

# emu_stats: prints "requests reads writes" from /__emu/stats.
emu_stats() {
	curl -sf --noproxy '*' "$EMU/__emu/stats" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["requests"], d["reads"], d["writes"])'
}

# api METHOD PATH [curl args]: an authenticated call to the account's API;
# prints the body.
api() {
	local m=$1 p=$2; shift 2
	curl -sS --noproxy '*' -X "$m" -H "Authorization: Bearer $TOKEN" "$API/accounts/$ACCT$p" "$@"
}
