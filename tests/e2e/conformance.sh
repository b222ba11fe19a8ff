#!/usr/bin/env bash
# Conformance of cfemu with clients Cloudflare wrote, checked against
# Cloudflare's schema (issue 4; docs/cloudflare-api/REFERENCE.md section 9):
#   cfemu  <-  Prism 5.16 (validating proxy, --errors)  <-  wrangler 4.86.0
#                                                       <-  cloudflare SDK 7.3.0
#                                                       <-  wrangler's D1 commands
#                                                           (tests/conformance/d1_wrangler.sh)
# The npm tools come from tests/package-lock.json (installed by `make deps`).
# Env: BIN, the directory holding cfemu (tests/run.sh sets it; default bin/).
# CONFORMANCE_SPEC overrides the schema (default the project's subset), and
# CONFORMANCE_KEEP=1 keeps the scratch directory with the logs.
# Fails on any failed check and on any request or response Prism finds in
# violation of the schema. Ends with "conformance: N passed, M failed".
set -u
# Cloudflare's clients against cfemu, checked once, with the plain build: the
# sanitizer flavour runs every other suite against cfemu (the suite's budget)
if [ "${FLAVOUR:-}" = asan ]; then
  echo "conformance: checked with the plain build (0 passed, 0 failed here)"
  exit 0
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/bin}
SPEC=${CONFORMANCE_SPEC:-$ROOT/docs/cloudflare-api/openapi-storage-subset.json}
NM="$ROOT/tests/node_modules"
TOKEN="cfemu-conformance-token-0123456789"
ACCOUNT="c0f5e0a1b2c3d4e5f60718293a4b5c6d"

passed=0 failed=0
pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); }
closing() {
  echo "conformance: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

for tool in "$NM/.bin/wrangler" "$NM/.bin/prism" "$NM/cloudflare/package.json"; do
  if [ ! -e "$tool" ]; then
    echo "conformance: $tool is missing; run 'make deps' (npm ci in tests/)"
    fail 1; closing; exit 1
  fi
done
if [ ! -x "$BIN/cfemu" ]; then
  echo "conformance: $BIN/cfemu is missing; run 'make'"
  fail 1; closing; exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cfconf.XXXXXX")
EMU_PID="" PRISM_PID="" CLIENT_PID=""
cleanup() {
  [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null
  [ -n "$PRISM_PID" ] && kill "$PRISM_PID" 2>/dev/null
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null
  if [ -n "${CONFORMANCE_KEEP:-}" ]; then echo "conformance: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for FILE PATTERN PID TENTHS: polls until FILE has a line matching
# PATTERN, the process dies, or TENTHS tenths of a second pass (Prism's own
# ready line; cfemu's is listen_port's).
. "$ROOT/tests/lib/poll.sh"
wait_for() {
  local f=$1 pat=$2 pid=$3
  _seen() { grep -qE "$pat" "$f" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; }
  until_ok $(( ($4 + 9) / 10 )) _seen && grep -qE "$pat" "$f" 2>/dev/null
}

# ---- cfemu ----------------------------------------------------------------
"$BIN/cfemu" --listen 127.0.0.1:0 --token "$TOKEN" --account-id "$ACCOUNT" \
  >"$WORK/emu.out" 2>"$WORK/emu.err" &
EMU_PID=$!
if ! EMU_PORT=$(listen_port "$WORK/emu.out" "$EMU_PID" 10); then
  echo "conformance: cfemu did not start"; sed 's/^/  | /' "$WORK/emu.out" "$WORK/emu.err" | head -20
  fail 1; closing; exit 1
fi
EMU_URL="http://127.0.0.1:$EMU_PORT/client/v4"
echo "conformance: cfemu on port $EMU_PORT"

# ---- Prism, validating proxy in front of cfemu (REFERENCE.md section 9) ----
for _ in 1 2 3; do # a free port can be taken before Prism binds it
  PRISM_PORT=$(free_port)
  : >"$WORK/prism.log"
  "$NM/.bin/prism" proxy "$SPEC" "http://127.0.0.1:$EMU_PORT/client/v4" \
    -h 127.0.0.1 -p "$PRISM_PORT" --errors >"$WORK/prism.log" 2>&1 &
  PRISM_PID=$!
  wait_for "$WORK/prism.log" 'Prism is listening on' "$PRISM_PID" 600 && break
  kill "$PRISM_PID" 2>/dev/null; wait "$PRISM_PID" 2>/dev/null; PRISM_PID=""
done
if [ -z "$PRISM_PID" ]; then
  echo "conformance: Prism did not start"; tail -20 "$WORK/prism.log" | sed 's/^/  | /'
  fail 1; closing; exit 1
fi
API_URL="http://127.0.0.1:$PRISM_PORT"
echo "conformance: Prism on port $PRISM_PORT, schema $(basename "$SPEC")"

export API_URL EMU_URL CF_TOKEN="$TOKEN" CF_ACCOUNT="$ACCOUNT" WORK

# Prism's log for one client: every request it refused (422, 401, 404 no
# route) and every response it found in violation (500 + sl-violations).
violations() { # violations FROM_LINE NAME
  local v
  v=$(tail -n +"$1" "$WORK/prism.log" | sed 's/\x1b\[[0-9;]*m//g' |
      grep -E 'Violation:|Request terminated with error|sl-violations' | sed 's/^\[[^]]*\] › //')
  if [ -z "$v" ]; then
    echo "prism ($2): 0 violations"; pass 1
  else
    echo "FAIL prism ($2): $(wc -l <<<"$v") violations"; sed 's/^/  | /' <<<"$v"; fail 1
  fi
}
# run_client NAME CMD...: runs one client suite, adds its "PASSED FAILED".
run_client() {
  local name=$1 from rc; shift
  from=$(($(wc -l <"$WORK/prism.log") + 1))
  curl -sS -o /dev/null -X POST "$EMU_URL/__emu/reset" || echo "conformance: reset failed"
  echo "== conformance: $name"
  : >"$WORK/$name.result"
  # In the background, so that a TERM (run.sh's timeout) is handled at once.
  RESULT="$WORK/$name.result" "$@" &
  CLIENT_PID=$!
  wait "$CLIENT_PID"; rc=$?; CLIENT_PID=""
  if read -r p f <"$WORK/$name.result" 2>/dev/null && [ -n "${p:-}" ]; then
    pass "$p"; fail "$f"
    [ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { echo "FAIL $name: exit $rc"; fail 1; }
  else
    echo "FAIL $name: ended (exit $rc) without a result"; fail 1
  fi
  violations "$from" "$name"
}

run_client wrangler timeout 150 bash "$ROOT/tests/conformance/wrangler.sh"
run_client sdk timeout 90 node "$ROOT/tests/conformance/sdk.mjs"
run_client d1 timeout 120 bash "$ROOT/tests/conformance/d1_wrangler.sh"

# cfemu must still be up, and stop cleanly (the sanitized build reports
# memory errors and leaks at exit).
if kill -0 "$EMU_PID" 2>/dev/null; then
  kill -TERM "$EMU_PID"; wait "$EMU_PID"; rc=$?; EMU_PID=""
  if [ "$rc" -eq 0 ]; then pass 1; else
    echo "FAIL cfemu exited $rc after SIGTERM"; tail -30 "$WORK/emu.err" | sed 's/^/  | /'; fail 1
  fi
else
  wait "$EMU_PID"; rc=$?; EMU_PID=""
  echo "FAIL cfemu died during the run (exit $rc)"; tail -30 "$WORK/emu.err" | sed 's/^/  | /'; fail 1
fi
closing
