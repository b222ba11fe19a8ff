#!/usr/bin/env bash
# The command-line contract of `cfstorage` that needs no API: help, version,
# flag errors (one line, exit 1, never echoing a value), validate's exit codes,
# JSON output and stdin.
set -u
cd "$(dirname "$0")/../.."
cfs="$BIN/cfstorage"
pass=0 fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# expect NAME WANT_EXIT PATTERN(grep -E on stdout+stderr, or "") -- cmd...
expect() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$tmp/out" 2>&1; local rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, want $want"; sed 's/^/  | /' "$tmp/out" | head -20; fail=$((fail+1)); return
  fi
  if [ -n "$pat" ] && ! grep -qE "$pat" "$tmp/out"; then
    echo "FAIL $name: output lacks /$pat/"; sed 's/^/  | /' "$tmp/out" | head -20; fail=$((fail+1)); return
  fi
  pass=$((pass+1))
}
one_line() { # the last command printed exactly one line
  if [ "$(wc -l < "$tmp/out")" != 1 ]; then echo "FAIL $1: not one line"; cat "$tmp/out"; fail=$((fail+1)); fi
}

expect help 0 '^usage: cfstorage COMMAND' -- "$cfs" --help
expect validate-help 0 '^usage: cfstorage validate -f PATH' -- "$cfs" validate --help
expect plan-help 0 '^usage: cfstorage plan -f PATH' -- "$cfs" plan --help
expect run-help 0 '^usage: cfstorage run -f PATH' -- "$cfs" run --help
expect version 0 '^cfstorage [0-9]+\.[0-9]+\.[0-9]+$' -- "$cfs" --version
expect no-command 1 'usage:' -- "$cfs"
expect unknown-command 1 "^cfstorage: unknown command 'frobnicate'" -- "$cfs" frobnicate; one_line unknown-command
expect unknown-flag 1 "^cfstorage: unknown flag '--frob'" -- "$cfs" validate --frob=1 -f x; one_line unknown-flag
expect unknown-short-flag 1 "^cfstorage: unknown flag '-Z'" -- "$cfs" validate -Z; one_line unknown-short-flag
expect flag-needs-value 1 "needs a value" -- "$cfs" validate -f; one_line flag-needs-value
expect bad-output 1 "unknown output format 'xml'" -- "$cfs" validate -o xml -f x; one_line bad-output
expect token-flag-refused 1 'never accepted on the command line' -- "$cfs" plan --api-token=s3cr3t-t0ken -f x
if grep -q 's3cr3t-t0ken' "$tmp/out"; then echo "FAIL token-flag-refused: the value was echoed"; fail=$((fail+1)); fi
expect token-flag-separate 1 'never accepted' -- "$cfs" plan --api-token s3cr3t-t0ken
if grep -q 's3cr3t-t0ken' "$tmp/out"; then echo "FAIL token-flag-separate: the value was echoed"; fail=$((fail+1)); fi
expect validate-needs-f 1 'validate needs -f' -- "$cfs" validate; one_line validate-needs-f
expect examples-valid 0 '^ok: [0-9]+ resources in [0-9]+ files' -- "$cfs" validate -f manifests/examples
expect examples-quiet 0 '' -- "$cfs" validate -q -f manifests/examples
[ -s "$tmp/out" ] && { echo "FAIL examples-quiet: printed output"; fail=$((fail+1)); }
expect missing-file 1 "^cfstorage: cannot open 'no/such.yaml': No such file or directory$" -- "$cfs" validate -f no/such.yaml; one_line missing-file
mkdir -p "$tmp/locked" && chmod 000 "$tmp/locked"
if [ "$(id -u)" != 0 ]; then
  expect unreadable-dir 1 "cannot read directory" -- "$cfs" validate -f "$tmp/locked"
fi
expect stdin 0 '^ok: 1 resource in 1 file' -- sh -c "\"$cfs\" validate -f - < tests/data/manifest/valid/secret-minimal.yaml"
expect stdin-invalid 3 '^<stdin>:6:17: ' -- sh -c "\"$cfs\" validate -f - < tests/data/manifest/invalid/r2-jurisdiction.yaml"
expect json-valid 0 '^\[\]$' -- "$cfs" validate -o json -f manifests/examples
expect json-invalid 3 '"file":"tests/data/manifest/invalid/five-mistakes.yaml","line":6,"col":3,"message":"unknown field' -- "$cfs" validate -o json -f tests/data/manifest/invalid/five-mistakes.yaml
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==5 and all(set(x)=={"file","line","col","message"} for x in d)' "$tmp/out" \
  && pass=$((pass+1)) || { echo "FAIL json-shape"; fail=$((fail+1)); }
expect five-mistakes 3 '^5 errors$' -- "$cfs" validate -f tests/data/manifest/invalid/five-mistakes.yaml
expect many-paths 3 'duplicate KVNamespace' -- "$cfs" validate -f tests/data/manifest/invalid/cross-files/a.yaml -f tests/data/manifest/invalid/cross-files/b.yaml
expect run-invalid 3 'nothing was sent to Cloudflare' -- "$cfs" run -f tests/data/manifest/invalid/five-mistakes.yaml
expect run-bad-interval 1 '^cfstorage: --interval must be a duration' -- "$cfs" run --interval 5x -f manifests/examples

# every command refuses the flags and formats it does not take (one line, exit 1)
while read -r cmd flag; do
  expect "no-$cmd$flag" 1 "^cfstorage: '$cmd' takes no ${flag%%=*}" -- "$cfs" $cmd $flag -f manifests/examples
  one_line "no-$cmd$flag"
done <<'T'
validate --prune
validate --dry-run
plan --dry-run
plan --force
plan --rebuild
plan --with-entries
plan --yes
apply --force
apply --interval=5s
rotate --prune
status --dry-run
import --prune
run --dry-run
T
# every command's --help lists every flag it takes (the completion's list is
# the command's flag table), by its long or its short spelling
for cmd in validate plan apply run rotate status import export state; do
  "$cfs" $cmd --help > "$tmp/help"
  for flag in $("$cfs" __complete $cmd --); do
    case $flag in --filename) s=-f;; --output) s=-o;; --quiet) s=-q;; --verbose) s=-v;; --help) s=-h;; --out) s=-out;; *) s=$flag;; esac
    if grep -qE -- "(^|[ [(])($flag|$s)([^a-z-]|$)" "$tmp/help"; then pass=$((pass+1)); else echo "FAIL $cmd --help lacks $flag"; fail=$((fail+1)); fi
  done
done
grep -q -- '--allow-empty' <("$cfs" validate --help) && pass=$((pass+1)) || { echo "FAIL validate --help lacks --allow-empty"; fail=$((fail+1)); }
expect plan-yaml 1 "^cfstorage: 'plan' writes text, json or markdown, not 'yaml'" -- "$cfs" plan -o yaml -f manifests/examples
expect export-json 1 "^cfstorage: 'export' writes yaml" -- "$cfs" export -o json
expect suggest-command 1 "unknown command 'valdate' \(did you mean 'validate'\?\)" -- "$cfs" valdate -f x
expect suggest-flag 1 "unknown flag '--prunee' \(did you mean '--prune'\?\)" -- "$cfs" apply --prunee -f x
expect account-id 1 "account id '1234' \(from --account-id\) is not 32 hexadecimal digits" -- \
  env CLOUDFLARE_API_TOKEN=t "$cfs" plan --account-id 1234 -f manifests/examples; one_line account-id
expect endpoint-hint 1 "\(endpoint http://127.0.0.1:9/client/v4, from CLOUDFLARE_API_BASE_URL\)$" -- \
  env CLOUDFLARE_API_TOKEN=t CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef \
  CLOUDFLARE_API_BASE_URL=http://127.0.0.1:9/client/v4 "$cfs" plan -f manifests/examples; one_line endpoint-hint
expect endpoint-flag-hint 1 "from --endpoint\)$" -- \
  env CLOUDFLARE_API_TOKEN=t CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef \
  "$cfs" plan --endpoint http://127.0.0.1:9/client/v4 -f manifests/examples
mkdir -p "$tmp/empty"
expect validate-empty 3 "no manifests \(\*.yaml, \*.yml\) under" -- "$cfs" validate -f "$tmp/empty"; one_line validate-empty
expect validate-empty-allowed 0 '^ok: 0 resources' -- "$cfs" validate --allow-empty -f "$tmp/empty"
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata:\n\tname: x\n' > "$tmp/tab.yaml"
expect tab-indent 3 ':4:1: a tab in the indentation: YAML indents with spaces only' -- "$cfs" validate -f "$tmp/tab.yaml"

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
