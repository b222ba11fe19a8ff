#!/usr/bin/env bash
# The shape the code keeps (issue 13), checked on every run so it cannot drift:
# - no function in pkg/ is longer than FUNC_MAX lines (our style puts a
#   function's name and its braces at column 0, which is what the scan reads);
# - cmd/cfstorage/main.c stays flag parsing only (under MAIN_MAX lines);
# - the CLI and the daemon run passes through pkg/reconcile, never observe,
#   plan or apply directly;
# - no file outside pkg/api (and the emulator, which serves them) builds a
#   Cloudflare route or constructs an API call.
set -u
BIN=${BIN:-bin}
. "$(dirname "$0")/../lib/common.sh"
cd "$(dirname "$0")/../.."
FUNC_MAX=120
MAIN_MAX=500

long=$(for f in pkg/*/*.c; do
	awk -v f="$f" -v max="$FUNC_MAX" '
	  /^[A-Za-z_][A-Za-z0-9_]*\(/ { name = $0; sub(/\(.*/, "", name) }
	  /^\{/ { start = NR }
	  /^\}/ && start { n = NR - start + 1; if (n > max) printf "%s: %s %d lines\n", f, name, n; start = 0 }' "$f"
done)
[ -z "$long" ] || fail "functions over $FUNC_MAX lines: $long"; ok
nfun=$(cat pkg/*/*.c | grep -c '^{')
[ "$nfun" -gt 300 ] || fail "the function scan found only $nfun functions: the scan is broken"; ok

lines=$(wc -l < cmd/cfstorage/main.c)
[ "$lines" -lt "$MAIN_MAX" ] || fail "cmd/cfstorage/main.c has $lines lines (limit $MAIN_MAX)"; ok

direct=$(grep -nw 'plan_compute\|observe_run\|observe_verify_values\|apply_run' cmd/cfstorage/*.c pkg/daemon/*.c pkg/cli/*.c || true)
[ -z "$direct" ] || fail "callers outside pkg/reconcile run stages directly: $direct"; ok

routes=$(grep -n 'api_call_new\|"/r2/\|"/storage/\|"/secrets_store\|"/workers\|"/d1/' pkg --include=*.c -r |
	grep -v '^pkg/api/\|^pkg/emu/' || true)
[ -z "$routes" ] || fail "Cloudflare routes built outside pkg/api: $routes"; ok

echo "code_shape: $checks passed, 0 failed"
