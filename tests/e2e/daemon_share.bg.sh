#!/usr/bin/env bash
# The daemon's read share and its coverage period, on 300 buckets that declare
# lifecycle and CORS (600 per-resource parts), with --rate-limit 120/12
# --api-share 25%: 30 reads in any 12 s.
#  - no 12-second window holds more than 30 daemon reads: cfemu's /__emu/stats
#    polled every 200 ms, every pair of samples at most 12 s apart compared
#    (the test itself reads nothing from the API while they are taken);
#  - every bucket's lifecycle and CORS are read (cfemu -v logs each request)
#    within the coverage period the daemon logs at start;
#  - a lifecycle emptied by hand (curl) is repaired within that period;
#  - a manifest edit is applied within 3 s whatever the rotation says.
# The coverage period at this budget is about six minutes of real time: this
# script is long and mostly idle, so tests/run.sh runs it in the background
# (name ending in .bg.sh) beside the rest of the plain flavour.
set -u
cd "$(dirname "$0")/../.."
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
emu_start -v --rate-limit 1000000/1 # the daemon's own budget is what is measured
m="$tmp/m.yaml"
gen() { # gen DAYS-FOR-b-010
	python3 - "$m" "$1" <<'P'
import sys
out, d10 = sys.argv[1], sys.argv[2]
docs = []
for i in range(300):
    days = d10 if i == 10 else "30"
    docs.append(f"""apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {{name: sh-{i:03d}}}
spec:
  lifecycle: {{deleteAfterDays: {days}}}
  cors: {{rules: [{{allowedOrigins: ["https://a.example"], allowedMethods: [GET]}}]}}
""")
open(out + ".new", "w").write("---\n".join(docs))
P
	mv "$m.new" "$m"
}
gen 30
cfs apply -f "$m" --state "$tmp/s.json"; expect_rc 0 "set-up apply"
# the poller: "monotonic-seconds reads" every 200 ms until told to stop
python3 - "$EMU" "$tmp/samples" "$tmp/stop" <<'P' &
import json, os, sys, time, urllib.request
emu, out, stop = sys.argv[1:4]
with open(out, "w") as f:
    while not os.path.exists(stop):
        r = json.load(urllib.request.urlopen(emu + "/__emu/stats"))["reads"]
        f.write(f"{time.monotonic():.3f} {r}\n"); f.flush()
        time.sleep(0.2)
P
poller=$!
t0=$(date +%s)
run_daemon "$tmp/s.json" -f "$m" --interval 5s --rate-limit 120/12 --api-share 25%
daemon_ready 20 || fail "not ready: $(tail -3 "$tmp/d.err")"; ok
cov=$(sed -n 's/.*msg="drift coverage" coverage_s=\([0-9]*\) .*/\1/p' "$tmp/d.err" | head -1)
[ -n "$cov" ] && [ "$cov" -gt 0 ] || fail "no coverage period logged"; ok
echo "  coverage period: $cov s for 600 parts"
# the metric follows each pass (its duration counts); the log repeats it only
# when it moves by more than a tenth: they agree within that, and the larger
# is what the checks below hold the daemon to
mcov=$(daemon_metric cfstorage_drift_coverage_seconds | cut -d. -f1)
[ $((mcov * 10)) -le $((cov * 11)) ] && [ $((mcov * 10)) -ge $((cov * 9)) ] || fail "metric $mcov s and log $cov s disagree"; ok
[ "$mcov" -gt "$cov" ] && cov=$mcov
# drift by hand: bucket sh-150's lifecycle emptied (a write: nothing read)
[ "$(api PUT /r2/buckets/sh-150/lifecycle -d '{"rules":[]}')" = 200 ] || fail "could not empty the lifecycle"
tdel=$(date +%s)
# a manifest edit once the rotation has spent its share: applied within 3 s
full() { [ "$(daemon_metric 'cfstorage_api_window_requests{class="read"}')" -ge 20 ]; }
until_ok 30 full || fail "the share was never used"
gen 45
edit_applied() { grep -q 'msg="change" kind=R2Bucket name=sh-010 op=update field=lifecycle' "$tmp/d.err"; }
until_ok 3 edit_applied || fail "the edit was not applied within 3 s: $(grep -c 'reconcile done' "$tmp/d.err") passes"; ok
# the repair: within the coverage period of the hand edit
repaired() { grep -q 'msg="change" kind=R2Bucket name=sh-150 op=update field=lifecycle' "$tmp/d.err"; }
until_ok $((cov + 5)) repaired || fail "the emptied lifecycle was not repaired within $cov s"; ok
trep=$(date +%s)
echo "  hand-made drift repaired after $((trep - tdel)) s"
[ $((trep - tdel)) -le "$cov" ] || fail "repaired after $((trep - tdel)) s > $cov s"; ok
# every part read within the coverage period from the daemon's start
all_read() {
	python3 - "$tmp/emu.err" "$t0" "$cov" <<'P'
import re, sys, datetime
log, t0, cov = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seen = {}
for line in open(log):
    m = re.match(r'ts=(\S+) .*msg="?request"? method=GET path="?/accounts/\w+/r2/buckets/(sh-\d+)/(lifecycle|cors)"? ', line)
    if not m:
        continue
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    if t0 <= t <= t0 + cov + 1:
        seen[(m.group(2), m.group(3))] = 1
missing = 600 - len(seen)
print(f"{missing} parts not read within {cov} s")
sys.exit(1 if missing else 0)
P
}
# (a bounded poll every 5 s: each check reads cfemu's whole request log)
end=$((t0 + cov + 10))
until all_read >/dev/null; do
	[ "$(date +%s)" -lt "$end" ] || fail "$(all_read)"
	sleep 5
done
ok
touch "$tmp/stop"; wait "$poller"
# no window of 12 s held more than 30 reads
python3 - "$tmp/samples" <<'P' || fail "a 12-second window held more than 30 reads"
import sys
s = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
worst, j = 0, 0
for i in range(len(s)):
    for k in range(i + 1, len(s)):
        if s[k][0] - s[i][0] > 12:
            break
        worst = max(worst, s[k][1] - s[i][1])
print(f"  most reads in any 12 s: {int(worst)} (share 30), {len(s)} samples over {s[-1][0] - s[0][0]:.0f} s, {int(s[-1][1] - s[0][1])} reads")
sys.exit(0 if worst <= 30 else 1)
P
ok
# the repaired and the edited lifecycles, as the account now holds them
[ "$(api GET /r2/buckets/sh-150/lifecycle)" = 200 ] && grep -q '"maxAge":2592000' "$tmp/body" || fail "sh-150's lifecycle is not back"; ok
[ "$(api GET /r2/buckets/sh-010/lifecycle)" = 200 ] && grep -q '"maxAge":3888000' "$tmp/body" || fail "sh-010's lifecycle is not the edited one"; ok
curl -s "$D/metrics" > "$tmp/metrics"
if command -v promtool >/dev/null; then
	promtool check metrics < "$tmp/metrics" || fail "promtool rejects /metrics"; ok
fi
grep -q '^cfstorage_observation_age_seconds{kind="R2Bucket",part="lifecycle"}' "$tmp/metrics" || fail "no observation age"; ok
stop_daemon
emu_stop
echo "daemon_share: $checks passed, 0 failed"
