# Shared by the wrangler conformance scripts (sourced, after HOME is set to
# a fresh folder): wrangler's environment for a fresh, quiet, non-interactive
# user pointed at $API_URL, and the check helpers. Each wrangler command run
# with `wr` is one check; `ok`, `fails`, `has`, `lacks` and `json` assert on
# its exit code ($RC) and output ($OUT); `finish` closes the last one.
# shellcheck shell=bash
export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
export WRANGLER_HIDE_BANNER=true CI=true NO_COLOR=1 FORCE_COLOR=0
export CLOUDFLARE_API_TOKEN="$CF_TOKEN" CLOUDFLARE_ACCOUNT_ID="$CF_ACCOUNT"
export CLOUDFLARE_API_BASE_URL="$API_URL"
unset CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL CF_API_TOKEN CF_ACCOUNT_ID

passed=0 failed=0 LAST="" BAD=0 OUT="" RC=0

finish() { # closes the accounting of the previous command
  [ -n "$LAST" ] || return 0
  if [ "$BAD" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  LAST=""
}
bad() {
  if [ "$BAD" -eq 0 ]; then
    echo "FAIL wrangler ${LAST}"
    sed 's/^/  | /' <<<"$OUT" | head -25
  fi
  echo "  -> $*"
  BAD=1
}
# wr [--stdin TEXT] ARGS...: runs one wrangler command, output in $OUT.
wr() {
  local input=""
  if [ "$1" = --stdin ]; then input=$2; shift 2; fi
  finish
  LAST="$*" BAD=0
  OUT=$(printf '%s' "$input" | timeout 60 "$W" "$@" 2>&1)
  RC=$?
  OUT=$(sed 's/\x1b\[[0-9;]*m//g' <<<"$OUT")
}
ok() { [ "$RC" -eq 0 ] || bad "exit $RC, want 0"; }
fails() { [ "$RC" -ne 0 ] || bad "exit 0, want a failure"; }
has() { grep -qF -- "$1" <<<"$OUT" || bad "output lacks: $1"; }
lacks() { ! grep -qF -- "$1" <<<"$OUT" || bad "output has: $1"; }
# json PYTHON-EXPR: the output (a JSON document) is d; the expression must be true.
json() {
  python3 -c '
import json, sys, time
text = sys.stdin.read()
start = min([i for i in (text.find("["), text.find("{")) if i >= 0] or [0])
try:
    d = json.loads(text[start:])
except ValueError as e:
    print("not JSON: %s" % e); sys.exit(1)
now = time.time()
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" <<<"$OUT" || bad "JSON check failed: $1"
}
emu() { # emu METHOD PATH [BODY]: a direct call to cfemu (setup only)
  curl -sS -X "$1" -H "Authorization: Bearer $CF_TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$EMU_URL$2"
}

