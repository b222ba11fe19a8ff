#!/usr/bin/env bash
# cfemu's R2 S3 API proven by a client AWS wrote: @aws-sdk/client-s3 (pinned
# in tests/package-lock.json) signs with SigV4 using the credentials R2
# derives from an API token (key id = the token's id from token verify,
# secret = SHA-256 hex of the token). The objects it writes are the v4 API's
# objects: a bucket holding one is not empty and cannot be deleted.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
[ -d tests/node_modules/@aws-sdk/client-s3 ] || fail "@aws-sdk/client-s3 is missing; run 'make deps' (npm ci in tests/)"
emu_start
S3_PORT=$(sed -n 's#^s3 listening on http://127\.0\.0\.1:\([0-9]*\)$#\1#p' "$tmp/emu.out")
[ -n "$S3_PORT" ] || fail "cfemu did not print its s3 listening line"; ok
[ "$(api POST /r2/buckets -d '{"name":"sdk-bucket"}')" = 200 ] || fail "bucket create"
KEY_ID=$(curl -s -H "Authorization: Bearer $TOKEN" "$EMU/client/v4/user/tokens/verify" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["id"])')
SECRET=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
S3_URL="http://127.0.0.1:$S3_PORT" KEY_ID="$KEY_ID" SECRET="$SECRET" BUCKET=sdk-bucket \
	timeout 60 node tests/conformance/s3sdk.mjs > "$tmp/sdk.out" 2>&1 || { cat "$tmp/sdk.out" >&2; fail "the AWS SDK checks failed"; }
n=$(sed -n 's/^s3sdk: \([0-9]*\) checks passed$/\1/p' "$tmp/sdk.out")
[ -n "$n" ] && [ "$n" -ge 15 ] || fail "s3sdk ran $n checks"; checks=$((checks + n))
# the object the SDK left is in the v4 API's bucket: it is not empty
[ "$(api DELETE /r2/buckets/sdk-bucket)" = 409 ] || fail "a bucket holding an S3 object was deleted"; ok
# an unsigned request is refused in S3's shape
code=$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$S3_PORT/sdk-bucket/dir/one.json")
[ "$code" = 403 ] && grep -q '<Code>AccessDenied</Code>' "$tmp/body" || fail "unsigned GET: $code $(cat "$tmp/body")"; ok
[ "$(emu_stat s3_requests)" -ge 20 ] || fail "s3 requests not counted"; ok
emu_stop
echo "s3_sdk: $checks passed, 0 failed"
