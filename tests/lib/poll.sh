# Waiting without sleeping for time to pass: bounded polls on a condition.
# Sourced by tests/lib/common.sh, by the e2e scripts that keep their own
# set-up (emu_basic, emu_crash, conformance) and by bench/lib.sh. Defines
# functions only: sourcing it changes nothing.
# shellcheck shell=bash

# until_ok SECONDS CMD...: runs CMD every 50 ms until it succeeds (0), or
# returns 1 once SECONDS have passed.
until_ok() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}

# listen_port FILE PID [SECONDS]: the port of the first
# "listening on http://127.0.0.1:PORT" line in FILE (the line every server of
# the project — cfemu, `cfstorage run`, test servers — prints once ready).
# Prints nothing and returns 1 if PID exits first or SECONDS (default 10) pass.
listen_port() {
	local file=$1 pid=$2 limit=${3:-10} port
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt $end ]; do
		port=$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$file" 2>/dev/null | head -n 1)
		if [ -n "$port" ]; then echo "$port"; return 0; fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}
