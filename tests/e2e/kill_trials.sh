#!/usr/bin/env bash
# kill -9 trials: an apply over ~100 resources (tests/lib/kill_trial.py gen:
# 60 R2 buckets with lifecycle and CORS, 30 KV namespaces with 3 entries each,
# 2 Secrets on a Secrets Store and a Worker) that deletes 30 resources, updates
# 30, creates 60 and rotates both Secrets is killed with SIGKILL after a random
# number of cfemu writes (a bounded poll on the write counter, with latency on
# every call so the next writes are in flight; one trial in four among the
# last writes, the Secrets' pointer phase), then applied again ONCE. After
# that: the re-apply exited 0, plan is clean, no duplicate bucket or namespace,
# nothing of ours in the account that the state does not record (and the
# reverse), no pending entry, the state parses, no secret version that was
# published or seen at a consistent point rewritten or lost, pointers and
# aliases equal on both targets and to the state's ledger.
#
# Variants (VARIANTS, default "plain faults etcd"), TRIALS each (default 10;
# the faults variant FAULT_TRIALS, default TRIALS/2: it restarts cfemu twice):
#   plain   the trial as above;
#   faults  cfemu --fault-rate 0.1 during the killed apply and the re-apply:
#           an injected 5xx may fail a re-apply honestly, so up to 3 re-applies
#           run (the count is printed); the checks run with faults off;
#   etcd    the state on etcd (etcd://HOST:PORT/PREFIX); the killed run's lease
#           keeps the state locked for its TTL (15 s), so by default the dead
#           holder's lease is revoked (as an operator would) before the
#           re-apply; ETCD_LEASE=expire waits for it to expire instead (a
#           bounded poll on the leader key: the long mode in bench/kill_trials).
# Every trial is independent (its own cfemu and state) and prints its seed:
# SEED=S TRIALS=1 VARIANTS=V replays it.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
# make test runs 10 trials a variant with the plain build and 3 under the
# sanitizers (the suite's 15-minute budget); bench/kill_trials runs 50.
TRIALS=${TRIALS:-$([ "${FLAVOUR:-}" = asan ] && echo 3 || echo 10)}
FAULT_TRIALS=${FAULT_TRIALS:-$(( (TRIALS + 1) / 2 ))}
SEED=${SEED:-$$}
VARIANTS=${VARIANTS:-plain faults etcd}
LATENCY_MS=${LATENCY_MS:-2}   # per API call: keeps writes in flight at the kill
FAULT_RATE=0.1
MAX_REAPPLY_FAULTS=3          # faults variant: re-applies allowed
KILL_LIMIT_S=60               # bound on one killed apply's poll
TAIL_WRITES=12                # 2 Secrets on 2 targets (K1 store first, K2 Worker first): V, pointer, alias
ETCD_LEASE=${ETCD_LEASE:-revoke} # revoke | expire: how the killed run's lock goes
LEASE_WAIT_S=25               # expire: bound on the wait (TTL 15 s + margin)
KT="python3 tests/lib/kill_trial.py"
BASE_NOW=2027-01-01T00:00:00Z # the baseline apply; both Secrets get V1
ROT_NOW=2027-02-05T00:00:00Z  # past everyDays 30: the killed apply rotates
echo "kill_trials: variants '$VARIANTS', $TRIALS trials each ($FAULT_TRIALS with faults), seed $SEED"
$KT gen "$tmp" >/dev/null || fail "manifest generation"

script_put() {
	curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" \
		-F 'metadata={"main_module":"w.js"};type=application/json' \
		-F 'w.js=export default {};type=application/javascript+module' \
		"$EMU/client/v4/accounts/$ACCT/workers/scripts/api"
}
# baseline STATE: the Worker script, then a.yaml applied (bounded retries:
# setup, not the measure); seen.json = the secret values after it
baseline() {
	script_put
	for _ in 1 2 3 4 5; do
		cfs apply --state "$1" -f "$tmp/a.yaml" --now "$BASE_NOW"
		[ "$rc" = 0 ] && break
	done
	expect_rc 0 "baseline apply"
	curl -s "$EMU/__emu/secret-values" > "$tmp/seen.json"
}

# etcd, started once on free loopback ports (as tests/e2e/ha.sh does)
etcd_pid=
trap 'if [ -n "$etcd_pid" ]; then kill "$etcd_pid" 2>/dev/null; wait "$etcd_pid" 2>/dev/null; fi; cleanup' EXIT
etcd_start() {
	local cport pport
	read -r cport pport < <(python3 -c "
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(('127.0.0.1',0)) for x in s]
print(*[x.getsockname()[1] for x in s])")
	etcd --name kt --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$cport" \
		--advertise-client-urls "http://127.0.0.1:$cport" --listen-peer-urls "http://127.0.0.1:$pport" \
		--initial-advertise-peer-urls "http://127.0.0.1:$pport" --initial-cluster "kt=http://127.0.0.1:$pport" \
		> "$tmp/etcd.log" 2>&1 &
	etcd_pid=$!
	ETCD="http://127.0.0.1:$cport"
	until_ok 10 curl -sf -X POST "$ETCD/v3/kv/range" -d '{"key":"eA=="}' || fail "etcd did not start"
}
# etcd_release PREFIX PID: the leader key names the killed PID; revoke its
# lease (ETCD_LEASE=revoke) or wait until etcd expires it (bounded)
etcd_release() {
	python3 - "$ETCD" "$1" "$2" "$ETCD_LEASE" "$LEASE_WAIT_S" <<'PY'
import base64, json, sys, time, urllib.request
etcd, prefix, pid, mode, limit = sys.argv[1:6]
def call(path, body):
    rq = urllib.request.Request(etcd + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(rq, timeout=10) as r:
        return json.load(r)
kvs = call("/v3/kv/range", {"key": base64.b64encode((prefix + "/leader").encode()).decode()}).get("kvs")
if not kvs:
    sys.exit(0)  # killed before it was elected, or after it let go
holder = base64.b64decode(kvs[0]["value"]).decode()
if not holder.startswith("pid %s " % pid):
    sys.exit("leader key held by %r, not the killed pid %s" % (holder, pid))
if mode == "revoke":
    call("/v3/lease/revoke", {"ID": kvs[0]["lease"]})
    sys.exit(0)
end = time.monotonic() + float(limit)
while time.monotonic() < end:  # bounded poll: the key goes with its lease
    if not call("/v3/kv/range", {"key": base64.b64encode((prefix + "/leader").encode()).decode()}).get("kvs"):
        sys.exit(0)
    time.sleep(0.2)
sys.exit("the killed run's lease did not expire within %s s" % limit)
PY
}

# trial VARIANT I SEED
trial() {
	local v=$1 i=$2 s=$3 k w st kill kpid inj reapplies=1 data="$tmp/emu-data-$i"
	RANDOM=$s
	# kill after the k-th write: 1..W_TOTAL-1, one trial in four among the
	# last TAIL_WRITES (the Secrets' rotation and pointer phase come last)
	if [ $((RANDOM % 4)) = 0 ]; then
		k=$((W_TOTAL - 1 - RANDOM % TAIL_WRITES))
	else
		k=$((RANDOM % (W_TOTAL - 1) + 1))
	fi
	k=${KILL_AT:-$k} # KILL_AT=K: every trial kills after write K
	case $v in
	etcd) st="etcd://${ETCD#http://}/kt-$s-$i" ;;
	*) st="$tmp/state-$v-$i.json"; rm -f "$st" "$st.lock" ;;
	esac
	if [ "$v" = faults ]; then
		rm -rf "$data"
		emu_start --latency-ms "$LATENCY_MS" --data "$data"
		baseline "$st"
		emu_stop
		emu_start --latency-ms "$LATENCY_MS" --data "$data" --fault-rate "$FAULT_RATE" --seed "$s"
	else
		emu_start --latency-ms "$LATENCY_MS"
		baseline "$st"
	fi
	read -r w kill kpid < <(KILL_OUT="$tmp/killed.out" $KT kill "$EMU" "$k" "$KILL_LIMIT_S" \
		"$BIN/cfstorage" apply --prune --state "$st" -f "$tmp/b.yaml" --now "$ROT_NOW")
	curl -s "$EMU/__emu/secret-values" > "$tmp/killed.json"
	if grep -qE 'AddressSanitizer|runtime error' "$tmp/killed.out"; then fail "$v trial $i (seed $s): sanitizer report in the killed run"; fi
	local what="$v trial $i: seed $s, kill after write $k (at $w writes, $kill)"
	[ "$kill" = killed ] || fail "$what: the apply ended before the kill"
	if [ "$v" = etcd ]; then
		etcd_release "/kt-$s-$i" "$kpid" || fail "$what: lease"
		what="$what, lease ${ETCD_LEASE}d"
	fi
	cfs apply --prune --state "$st" -f "$tmp/b.yaml" --now "$ROT_NOW"
	if [ "$v" = faults ]; then
		while [ "$rc" != 0 ] && [ "$reapplies" -lt "$MAX_REAPPLY_FAULTS" ]; do
			reapplies=$((reapplies + 1))
			cfs apply --prune --state "$st" -f "$tmp/b.yaml" --now "$ROT_NOW"
		done
		inj=$(curl -s "$EMU/__emu/stats" | python3 -c "
import json,sys; print(sum(r['count'] for r in json.load(sys.stdin)['routes'] if r['status'] in (0, 500, 502, 503)))")
		what="$what, $inj faults injected, $reapplies re-apply(s)"
		echo "$reapplies" >> "$tmp/reapplies"
		emu_stop
		emu_start --latency-ms 0 --data "$data"
	fi
	expect_rc 0 "$what: re-apply"
	cfs plan --state "$st" -f "$tmp/b.yaml" --now "$ROT_NOW"
	expect_rc 0 "$what: plan clean after the re-apply"
	$KT check "$EMU" "$st" "$tmp" > "$tmp/check.out" 2>&1 ||
		fail "$what: $(head -5 "$tmp/check.out" | tr '\n' ';')"
	ok
	note=$(head -1 "$tmp/check.out")
	echo "  $what: clean${note:+ ($note)}"
	emu_stop
}

# calibration: the unkilled B apply's write count bounds the kill point
emu_start --latency-ms 0
baseline "$tmp/cal.json"
w0=$(emu_stat writes)
cfs apply --prune --state "$tmp/cal.json" -f "$tmp/b.yaml" --now "$ROT_NOW"
expect_rc 0 "calibration apply"
W_TOTAL=$(( $(emu_stat writes) - w0 ))
cp "$tmp/seen.json" "$tmp/killed.json"
$KT check "$EMU" "$tmp/cal.json" "$tmp" > "$tmp/check.out" 2>&1 || fail "calibration: $(head -5 "$tmp/check.out")"
ok
emu_stop
echo "an unkilled apply of b.yaml makes $W_TOTAL writes; kill points are 1..$((W_TOTAL - 1))"

failures=0
for v in $VARIANTS; do
	case $v in
	etcd)
		if ! command -v etcd >/dev/null; then echo "etcd: skipped: etcd missing"; continue; fi
		[ -n "$etcd_pid" ] || etcd_start
		;;
	plain | faults) ;;
	*) fail "unknown variant '$v'" ;;
	esac
	: > "$tmp/reapplies"
	clean=0 failed_seeds= n=$TRIALS
	[ "$v" = faults ] && n=$FAULT_TRIALS
	for i in $(seq 1 "$n"); do
		# in a subshell: a failed trial (fail exits) stops only itself, and
		# every trial is reported; its cfemu goes with it
		if (
			trap 'echo "$checks" > "$tmp/checks.n"; if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null; wait "$emu_pid" 2>/dev/null; fi' EXIT
			trial "$v" "$i" $((SEED + i - 1))
		); then
			clean=$((clean + 1))
		else
			failed_seeds="$failed_seeds $((SEED + i - 1))"
		fi
		checks=$(cat "$tmp/checks.n")
	done
	extra=
	if [ "$v" = faults ] && [ -s "$tmp/reapplies" ]; then
		extra=" (re-applies needed:$(sort "$tmp/reapplies" | uniq -c | awk '{printf " %sx%s", $1, $2}'))"
	fi
	[ -z "$failed_seeds" ] || extra="$extra; FAILED seeds:$failed_seeds"
	echo "kill trials $v: $clean/$n clean$extra"
	[ -z "$failed_seeds" ] || failures=$((failures + n - clean))
done
[ "$failures" = 0 ] || { echo "kill_trials: $checks passed, $failures failed"; exit 1; }
echo "kill_trials: $checks passed, 0 failed"
