#!/usr/bin/env bash
# `make demo`: a real apply of manifests/examples against the embedded
# emulator (--local: cfemu inside the cfstorage process; its data and the
# state live under .cfstorage/local/ of a scratch copy): the plan, the apply
# and a second, clean plan. Then validate on a broken copy of an example.
set -u
cd "$(dirname "$0")/.."
cfs="$PWD/bin/cfstorage"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cp -r manifests "$work/"
cd "$work"
status=0

# step WANT_EXIT ARGS...: shows the command, its output and its exit code.
step() {
  local want=$1; shift
  echo "\$ cfstorage $*"
  "$cfs" "$@" 2>&1
  local rc=$?
  echo "(exit $rc)"; echo
  [ "$rc" = "$want" ] || { echo "demo: expected exit $want" >&2; status=1; }
}

step 0 validate -f manifests/examples
step 2 plan --local -f manifests/examples
step 0 apply --local -f manifests/examples
step 0 plan --local -f manifests/examples
step 0 status --local -f manifests/examples

# A broken copy of the bucket example: a misspelt field, a bad enum value, an
# out-of-range day count and an origin with a path.
sed -e 's/  bucketName: acme-app-logs/  bucketname: acme-app-logs/' \
    -e 's/jurisdiction: eu /jurisdiction: EU /' \
    -e 's/expireAfterDays: 30/expireAfterDays: 0/' \
    -e 's#"https://dash.acme.example"#"https://dash.acme.example/"#' \
    manifests/examples/r2-bucket.yaml > r2-bucket.yaml
step 3 validate -f r2-bucket.yaml
exit $status
