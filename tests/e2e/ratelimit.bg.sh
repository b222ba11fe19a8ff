#!/usr/bin/env bash
# A rate limit of 30 requests per 10 s on a 200-bucket apply: no 429, no failed
# resource, and never more requests than the budget allows in the time taken.
# About a minute of waiting on the limiter, so it is a background script
# (tests/run.sh: *.bg.sh run beside the plain flavour's suite).
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh

# gen N PREFIX FILE: N buckets of storage class Standard
gen() {
	local n=$1 p=$2 f=$3 i
	: > "$f"
	for i in $(seq 1 "$n"); do
		printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: R2Bucket\nmetadata: {name: %s-%03d}\nspec:\n  storageClass: Standard\n---\n' "$p" "$i" >> "$f"
	done
}

emu_start --rate-limit 30/10
gen 200 rl "$tmp/rl.yaml"
start=$(date +%s)
cfs apply --state "$tmp/rl.json" --rate-limit 30/10 -f "$tmp/rl.yaml"
end=$(date +%s)
expect_rc 0 "rate-limited apply"
expect_out '^Apply: 200 created' "rate-limited apply"
read -r reqs r429 < <(curl -s "$EMU/__emu/stats" | python3 -c "
import json,sys; s=json.load(sys.stdin)
print(s['requests'], sum(r['count'] for r in s['routes'] if r['status']==429))")
[ "$r429" = 0 ] || fail "$r429 requests were refused with 429"; ok
allowed=$(( 30 * ( (end - start) / 10 + 1 ) ))
[ "$reqs" -le "$allowed" ] || fail "$reqs requests in $((end-start)) s, budget allows $allowed"; ok
echo "rate limit: $reqs requests in $((end - start)) s (budget $allowed), 0 throttled"
emu_stop
echo "ratelimit: $checks passed, 0 failed"
