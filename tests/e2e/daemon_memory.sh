#!/usr/bin/env bash
# The daemon's memory stays flat over many passes: 1,000 passes (plain build;
# 200 under the sanitizers, which keep freed memory in quarantine) over a small
# set, passes back to back (CFSTORAGE_TEST_INTERVAL_MS=1). After the first 10,
# RSS (process_resident_memory_bytes) grows by under 512 KB and the heap in use
# (cfstorage_heap_inuse_bytes: mallinfo2's uordblks + hblkhd) by under 64 KB;
# over the second half, once the request window's ring has grown to the
# reads of one window (at most 1,000 x 8 bytes per ring here), by under 8 KB.
set -u
cd "$(dirname "$0")/../.."
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
emu_start --rate-limit 1000000/1 # its own 1200/300 limit would throttle 1,000 passes
m="$tmp/m.yaml"
python3 - "$m" <<'P'
import sys
docs = []
for i in range(3):
    docs.append(f"""apiVersion: cfstorage.dev/v1alpha1
kind: R2Bucket
metadata: {{name: mem-{i}}}
spec:
  lifecycle: {{deleteAfterDays: {30 + i}}}
  cors: {{rules: [{{allowedOrigins: ["https://a.example"], allowedMethods: [GET]}}]}}
""")
docs.append("""apiVersion: cfstorage.dev/v1alpha1
kind: KVNamespace
metadata: {name: mem-kv}
spec:
  title: mem-kv
  entries:
    - {key: a, value: one}
    - {key: b, value: two}
""")
open(sys.argv[1], "w").write("---\n".join(docs))
P
passes=${PASSES:-1000}; [ "${FLAVOUR:-plain}" = asan ] && passes=200
CFSTORAGE_TEST_INTERVAL_MS=1 run_daemon "$tmp/s.json" -f "$m" --interval 1m \
	--rate-limit 1000/1 --api-share 100%
daemon_ready 20 || fail "not ready: $(tail -3 "$tmp/d.err")"; ok
# the heap in use between passes: the least of 20 samples (a sample taken
# while a pass runs also counts what that pass holds)
heap() {
	local v min=
	for _ in $(seq 20); do
		v=$(daemon_metric cfstorage_heap_inuse_bytes)
		if [ -z "$min" ] || [ "$v" -lt "$min" ]; then min=$v; fi
	done
	echo "$min"
}
npasses() { daemon_metric 'cfstorage_reconciles_total{result="ok"}'; }
at_least() { [ "$(npasses)" -ge "$1" ]; }
until_ok 30 at_least 10 || fail "10 passes did not run"; ok
rss0=$(daemon_metric process_resident_memory_bytes) heap0=$(heap)
until_ok 120 at_least $((passes / 2 + 10)) || fail "$((passes / 2)) passes did not run in 120 s ($(npasses))"; ok
heapm=$(heap)
until_ok 120 at_least $((passes + 10)) || fail "$passes passes did not run in 120 s ($(npasses))"; ok
rss1=$(daemon_metric process_resident_memory_bytes) heap1=$(heap)
errs=$(grep -c 'level=error' "$tmp/d.err" || true)
[ "$errs" = 0 ] || fail "errors in the daemon log: $(grep -m3 'level=error' "$tmp/d.err")"; ok
echo "  after 10 passes: rss=$rss0 heap=$heap0; half: heap=$heapm; after $(npasses): rss=$rss1 heap=$heap1"
if [ "${FLAVOUR:-plain}" != asan ]; then
	[ $((rss1 - rss0)) -lt 524288 ] || fail "RSS grew by $((rss1 - rss0)) bytes over $passes passes"; ok
	[ $((heap1 - heap0)) -lt 65536 ] || fail "heap in use grew by $((heap1 - heap0)) bytes over $passes passes"; ok
	[ $((heap1 - heapm)) -lt 8192 ] || fail "heap in use grew by $((heap1 - heapm)) bytes over the last $((passes / 2)) passes"; ok
fi
stop_daemon
emu_stop
echo "daemon_memory: $checks passed, 0 failed"
