#!/usr/bin/env bash
# `make demo`: what cfstorage does today, on the shipped examples.
# Until the reconcile issue lands this shows `validate`: the examples pass,
# and a copy with typical mistakes is reported line by line.
set -u
cd "$(dirname "$0")/.."
cfs=bin/cfstorage
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo "\$ cfstorage validate -f manifests/examples"
$cfs validate -f manifests/examples
echo "(exit $?)"
echo

# A broken copy of the bucket example: a misspelt field, a bad enum value, an
# out-of-range lifecycle day count and an origin with a path.
sed -e 's/  bucketName: acme-app-logs/  bucketname: acme-app-logs/' \
    -e 's/jurisdiction: eu /jurisdiction: EU /' \
    -e 's/expireAfterDays: 30/expireAfterDays: 0/' \
    -e 's#"https://dash.acme.example"#"https://dash.acme.example/"#' \
    manifests/examples/r2-bucket.yaml > "$tmp/r2-bucket.yaml"
echo "\$ cfstorage validate -f r2-bucket.yaml   # a broken copy of the example"
(cd "$tmp" && "$OLDPWD/$cfs" validate -f r2-bucket.yaml 2>&1)
rc=$?
echo "(exit $rc)"
[ $rc = 3 ]
