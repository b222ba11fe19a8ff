#!/usr/bin/env bash
# cfemu end to end, driven with curl: auth and routing errors, R2 buckets
# (create/list/paging/duplicate/jurisdiction/lifecycle/CORS/non-empty delete),
# KV (namespaces paging, values, multipart metadata, TTL against the moved
# clock, bulk), Secrets Store, Worker secrets, token verify, rate limiting,
# fault rules, flag handling and the /__emu/stats shape.
# Needs BIN (directory with cfemu), curl and python3.
set -euo pipefail
BIN=${BIN:-bin}
. tests/lib/poll.sh
tmp=$(mktemp -d)
pid=
checks=0

cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/body" ] && { echo "--- last body:" >&2; head -c 2000 "$tmp/body" >&2; echo >&2; }
	[ -f "$tmp/err" ] && { echo "--- cfemu stderr:" >&2; tail -n 30 "$tmp/err" >&2; }
	exit 1
}

# start ARGS...: runs cfemu on a free loopback port, sets pid, port, U.
start() {
	: >"$tmp/out"
	"$BIN/cfemu" --listen 127.0.0.1:0 "$@" >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	port=$(listen_port "$tmp/out" "$pid") || fail "cfemu did not print its listening line"
	U="http://127.0.0.1:$port"
}

# stop: SIGTERM, and the exit status must be 0 (sanitizers make it non-zero).
stop() {
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	pid=
	[ "$rc" -eq 0 ] || fail "cfemu exited with $rc on SIGTERM"
	if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error' "$tmp/err"; then
		fail "sanitizer report"
	fi
}

TOKEN=cfemu-token
ACCT=0123456789abcdef0123456789abcdef
A=/client/v4/accounts/$ACCT

# req METHOD PATH [curl args...]: sets $status; the body is in $tmp/body.
req() {
	local m=$1 p=$2
	shift 2
	status=$(curl -sS -o "$tmp/body" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $TOKEN" "$@" "$U$p") || status=000
}

# One python3 process evaluates every JSON check (a python start-up per
# check would make this script slow): it reads "FILE<TAB>EXPR" lines and
# answers one line, with newlines in the answer sent as \x1f.
coproc PYC { python3 -u -c '
import json, sys
for line in sys.stdin:
    f, e = line.rstrip("\n").split("\t", 1)
    try:
        d = json.load(open(f))
        r = eval(e)
        out = r if isinstance(r, str) else json.dumps(r)
    except Exception as x:
        out = "PYERROR: %r" % (x,)
    print(out.replace("\n", "\x1f"), flush=True)
'; }

# py EXPR: sets R to EXPR evaluated with d = the last body parsed as JSON.
py() {
	printf '%s\t%s\n' "$tmp/body" "$1" >&"${PYC[1]}"
	IFS= read -r R <&"${PYC[0]}" || fail "json checker died"
	R=${R//$'\x1f'/$'\n'}
}

# expect STATUS [CODE]: the last response had that HTTP status (and error code).
expect() {
	checks=$((checks + 1))
	[ "$status" = "$1" ] || fail "expected HTTP $1, got $status"
	if [ $# -gt 1 ]; then
		py 'd["errors"][0]["code"]'
		[ "$R" = "$2" ] || fail "expected error code $2, got $R"
	fi
}

# is EXPR VALUE: python's view of EXPR equals VALUE.
is() {
	checks=$((checks + 1))
	py "$1"
	[ "$R" = "$2" ] || fail "$1: expected $2, got $R"
}

start

# ---- auth, accounts, routing ----
status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$U$A/r2/buckets"); expect 403 10000
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Authorization: Bearer nope' "$U$A/r2/buckets"); expect 403 10000
is 'd["success"]' false
is 'd["result"]' null
req GET /client/v4/accounts/nothex/r2/buckets; expect 404 7003
req GET /client/v4/accounts/ffffffffffffffffffffffffffffffff/r2/buckets; expect 403 10000
req GET /client/v4/no/such/route; expect 404 7003
req GET /client/v4/user/tokens/verify; expect 200; is 'd["result"]["status"]' active
req GET "$A/tokens/verify"; expect 200; is 'd["result"]["status"]' active
req GET /client/v4/accounts; expect 200; is 'd["result"][0]["id"]' "$ACCT"
req GET /accounts/$ACCT; expect 200; is 'd["result"]["id"]' "$ACCT" # without /client/v4

# ---- R2 buckets ----
req POST "$A/r2/buckets" -H 'content-type: text/plain;charset=UTF-8' \
	--data '{"name":"logs","locationHint":"weur","storageClass":"InfrequentAccess"}'
expect 200
is 'd["result"]["name"]' logs
is 'd["result"]["location"]' WEUR
is 'd["result"]["jurisdiction"]' default
is 'd["result"]["storage_class"]' InfrequentAccess
is 'd["messages"]' '[]'
req POST "$A/r2/buckets" --data '{"name":"logs"}'; expect 409 10004
req POST "$A/r2/buckets" --data '{"name":"Bad_Name"}'; expect 400 10005
req POST "$A/r2/buckets" --data '{"name":"-ab"}'; expect 400 10005
req POST "$A/r2/buckets" --data '{"name":"ab"}'; expect 400 10005
req POST "$A/r2/buckets" --data 'not json'; expect 400 10040
req POST "$A/r2/buckets" -H 'cf-r2-jurisdiction: eu' --data '{"name":"logs"}'; expect 200
is 'd["result"]["jurisdiction"]' eu
req GET "$A/r2/buckets"; expect 200; is '[b["name"] for b in d["result"]["buckets"]]' '["logs"]'
req GET "$A/r2/buckets" -H 'cf-r2-jurisdiction: eu'; expect 200; is 'len(d["result"]["buckets"])' 1
req GET "$A/r2/buckets/nope"; expect 404 10006
req GET "$A/r2/buckets/logs"; expect 200; is 'd["result"]["creation_date"].endswith("Z")' true
req PATCH "$A/r2/buckets/logs" -H 'cf-r2-storage-class: Standard'; expect 200
is 'd["result"]["storage_class"]' Standard
req PATCH "$A/r2/buckets/logs"; expect 400 10040
for n in bk1 bk2 bk3 bk4 bk5; do req POST "$A/r2/buckets" --data "{\"name\":\"$n\"}"; expect 200; done
# cursor paging: per_page=2 over 6 buckets, collected in order
names=() cursor=
for _ in 1 2 3 4 5; do
	req GET "$A/r2/buckets?per_page=2${cursor:+&cursor=$cursor}"; expect 200
	py '" ".join(b["name"] for b in d["result"]["buckets"])'; names+=($R)
	py 'd["result_info"].get("cursor","")'; cursor=$R
	[ -z "$cursor" ] && break
done
checks=$((checks + 1))
[ "${names[*]}" = "bk1 bk2 bk3 bk4 bk5 logs" ] || fail "paged names: ${names[*]}"
req GET "$A/r2/buckets?name_contains=bk&direction=desc&per_page=3"; expect 200
is '[b["name"] for b in d["result"]["buckets"]]' '["bk5", "bk4", "bk3"]'
req GET "$A/r2/buckets?start_after=bk4"; expect 200
is '[b["name"] for b in d["result"]["buckets"]]' '["bk5", "logs"]'

# lifecycle: the default rule, whole-set replace
req GET "$A/r2/buckets/logs/lifecycle"; expect 200
is 'd["result"]["rules"][0]["id"]' 'Default Multipart Abort Rule'
is 'd["result"]["rules"][0]["abortMultipartUploadsTransition"]["condition"]["maxAge"]' 604800
is 'd["result"]["rules"][0]["conditions"]' '{}'
req PUT "$A/r2/buckets/logs/lifecycle" --data '{"rules":[{"id":"expire","enabled":true,"conditions":{"prefix":"tmp/"},"deleteObjectsTransition":{"condition":{"type":"Age","maxAge":86400}}}]}'
expect 200
req GET "$A/r2/buckets/logs/lifecycle"; expect 200; is '[r["id"] for r in d["result"]["rules"]]' '["expire"]'
req PUT "$A/r2/buckets/logs/lifecycle" --data '{"rules":[{"enabled":true}]}'; expect 400 10040

# CORS
req GET "$A/r2/buckets/logs/cors"; expect 404 10059
req PUT "$A/r2/buckets/logs/cors" --data '{"rules":[{"allowed":{"methods":["GET"],"origins":["https://example.com"]},"maxAgeSeconds":3600}]}'
expect 200
req GET "$A/r2/buckets/logs/cors"; expect 200; is 'd["result"]["rules"][0]["allowed"]["methods"]' '["GET"]'
req PUT "$A/r2/buckets/logs/cors" --data '{"rules":[{"allowed":{"methods":["FETCH"],"origins":["x"]}}]}'; expect 400
req DELETE "$A/r2/buckets/logs/cors"; expect 200
req GET "$A/r2/buckets/logs/cors"; expect 404 10059

# non-empty delete, then lifecycle expiry of seeded objects with the clock
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST --data '[{"key":"tmp/a","size":10},{"key":"tmp/b","size":20}]' "$U/__emu/r2/logs/objects")
expect 200; is 'd["objects"]' 2
req DELETE "$A/r2/buckets/logs"; expect 409 10008
req GET "$A/r2/buckets/logs/objects"; expect 200; is '[o["key"] for o in d["result"]]' '["tmp/a", "tmp/b"]'
curl -s -X POST --data '{"advance":86401}' "$U/__emu/clock" >/dev/null
req GET "$A/r2/buckets/logs/objects"; expect 200; is 'len(d["result"])' 0
req DELETE "$A/r2/buckets/logs"; expect 200
req GET "$A/r2/buckets/logs"; expect 404 10006
req POST "$A/r2/buckets" --data '{"name":"logs","locationHint":"apac"}'; expect 200
is 'd["result"]["location"]' WEUR # the first location sticks to the name
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST --data '[{"key":"x","size":1}]' "$U/__emu/r2/logs/objects?jurisdiction=eu")
expect 200
req DELETE "$A/r2/buckets/logs" -H 'cf-r2-jurisdiction: eu'; expect 409 10008

# ---- KV ----
ids=()
for t in alpha beta gamma; do
	req POST "$A/storage/kv/namespaces" --data "{\"title\":\"$t\"}"; expect 200
	py 'd["result"]["id"]'; ids+=("$R")
done
NS=${ids[0]}
req POST "$A/storage/kv/namespaces" --data '{"title":"beta"}'; expect 400 10014
req GET "$A/storage/kv/namespaces?per_page=2&page=1&order=title&direction=desc"; expect 200
is '[n["title"] for n in d["result"]]' '["gamma", "beta"]'
is 'd["result_info"]["total_count"]' 3
req GET "$A/storage/kv/namespaces?per_page=2&page=2&order=title"; expect 200; is '[n["title"] for n in d["result"]]' '["gamma"]'
req GET "$A/storage/kv/namespaces?per_page=2&page=3"; expect 200; is 'd["result"]' '[]'
req PUT "$A/storage/kv/namespaces/${ids[2]}" --data '{"title":"delta"}'; expect 200
req GET "$A/storage/kv/namespaces/${ids[2]}"; expect 200; is 'd["result"]["title"]' delta
req DELETE "$A/storage/kv/namespaces/${ids[1]}"; expect 200
req GET "$A/storage/kv/namespaces/${ids[1]}"; expect 404

req PUT "$A/storage/kv/namespaces/$NS/values/dir%2Fkey%20one" --data-binary 'hello world'; expect 200
req GET "$A/storage/kv/namespaces/$NS/values/dir%2Fkey%20one"; expect 200
checks=$((checks + 1)); [ "$(cat "$tmp/body")" = "hello world" ] || fail "raw value"
req PUT "$A/storage/kv/namespaces/$NS/values/withmeta" -F 'value=v1' -F 'metadata={"h":"abc"}'; expect 200
req GET "$A/storage/kv/namespaces/$NS/values/withmeta"; expect 200
checks=$((checks + 1)); [ "$(cat "$tmp/body")" = "v1" ] || fail "multipart value"
req GET "$A/storage/kv/namespaces/$NS/metadata/withmeta"; expect 200; is 'd["result"]' '{"h": "abc"}'
req GET "$A/storage/kv/namespaces/$NS/values/missing"; expect 404 10009
req PUT "$A/storage/kv/namespaces/$NS/values/short?expiration_ttl=30" --data 'x'; expect 400
req PUT "$A/storage/kv/namespaces/$NS/values/short?expiration_ttl=120" --data 'x'; expect 200
req GET "$A/storage/kv/namespaces/$NS/keys?prefix=short"; expect 200
is 'd["result"][0]["name"]' short
is '"expiration" in d["result"][0]' true
curl -s -X POST --data '{"advance":121}' "$U/__emu/clock" >/dev/null
req GET "$A/storage/kv/namespaces/$NS/values/short"; expect 404 10009
req GET "$A/storage/kv/namespaces/$NS/keys?prefix=short"; expect 200; is 'd["result"]' '[]'
python3 -c 'import json; print(json.dumps([{"key":"bulk%02d"%i,"value":"v%d"%i,"metadata":{"i":i}} for i in range(25)]))' >"$tmp/bulk.json"
req PUT "$A/storage/kv/namespaces/$NS/bulk" -H 'content-type: application/json' --data-binary @"$tmp/bulk.json"
expect 200; is 'd["result"]["successful_key_count"]' 25
keys=0 cursor=
for _ in 1 2 3 4 5; do
	req GET "$A/storage/kv/namespaces/$NS/keys?prefix=bulk&limit=10${cursor:+&cursor=$cursor}"; expect 200
	py 'len(d["result"])'; keys=$((keys + R))
	py 'd["result_info"]["cursor"]'; cursor=$R
	[ -z "$cursor" ] && break
done
checks=$((checks + 1)); [ "$keys" = 25 ] || fail "paged keys: $keys"
req GET "$A/storage/kv/namespaces/$NS/keys?limit=5"; expect 400
req GET "$A/storage/kv/namespaces/$NS/keys?prefix=bulk07"; expect 200; is 'd["result"][0]["metadata"]' '{"i": 7}'
req POST "$A/storage/kv/namespaces/$NS/bulk/delete" --data '["bulk00","bulk01","nothere"]'; expect 200
req GET "$A/storage/kv/namespaces/$NS/keys?prefix=bulk"; expect 200; is 'len(d["result"])' 23
req DELETE "$A/storage/kv/namespaces/$NS/values/withmeta"; expect 200
req GET "$A/storage/kv/namespaces/$NS/values/withmeta"; expect 404 10009

# ---- Secrets Store ----
req GET "$A/secrets_store/quota"; expect 200; is 'd["result"]["secrets"]["usage"]' 0
req POST "$A/secrets_store/stores" -H 'content-type: text/plain;charset=UTF-8' --data '{"name":"main"}'; expect 200
py 'd["result"]["id"]'; SID=$R
req POST "$A/secrets_store/stores" --data '{"name":"second"}'; expect 400
req GET "$A/secrets_store/stores"; expect 200; is '[s["name"] for s in d["result"]]' '["main"]'
req POST "$A/secrets_store/stores/$SID/secrets" --data '[{"name":"K_V1","value":"s3cr3t-one","scopes":["workers"]},{"name":"K_V2","value":"s3cr3t-two","scopes":["workers"],"comment":"v2"}]'
expect 200; is 'len(d["result"])' 2; is '"value" in d["result"][0]' false
py 'd["result"][0]["id"]'; S1=$R; py 'd["result"][1]["id"]'; S2=$R
req POST "$A/secrets_store/stores/$SID/secrets" --data '[{"name":"K_V1","value":"x","scopes":["workers"]}]'; expect 409
req GET "$A/secrets_store/stores/$SID/secrets"; expect 200; is 'sorted(s["name"] for s in d["result"])' '["K_V1", "K_V2"]'
is 'any("value" in s for s in d["result"])' false
req PATCH "$A/secrets_store/stores/$SID/secrets/$S1" --data '{"value":"rotated","comment":"r"}'; expect 200
is 'd["result"]["comment"]' r
status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$U/__emu/secret-values"); expect 200
is "d[\"secretsStore\"][\"$SID\"][\"K_V1\"]" rotated
req DELETE "$A/secrets_store/stores/$SID/secrets/$S1"; expect 202
req GET "$A/secrets_store/stores/$SID/secrets/$S1"; expect 404
req DELETE "$A/secrets_store/stores/$SID"; expect 409
req DELETE "$A/secrets_store/stores/$SID/secrets" --data "{\"ids\":[\"$S2\"]}"; expect 202
req GET "$A/secrets_store/quota"; expect 200; is 'd["result"]["secrets"]["usage"]' 0
req POST "$A/secrets_store/stores/$SID/secrets" --data '[{"name":"Z","value":"z","scopes":["workers"]}]'; expect 200
req DELETE "$A/secrets_store/stores/$SID?force=true"; expect 200

# ---- Worker scripts and their secrets ----
req PUT "$A/workers/scripts/app/secrets" --data '{"name":"API_KEY","text":"t0p","type":"secret_text"}'; expect 404 10007
req PUT "$A/workers/scripts/app" -F 'metadata={"main_module":"index.js"}' -F 'index.js=export default {}'; expect 200
req PUT "$A/workers/scripts/app/secrets" --data '{"name":"API_KEY","text":"t0p","type":"secret_text"}'; expect 200
is 'd["result"]' '{"name": "API_KEY", "type": "secret_text"}'
req GET "$A/workers/scripts/app/secrets"; expect 200; is '[s["name"] for s in d["result"]]' '["API_KEY"]'
req GET "$A/workers/scripts/app/secrets/API_KEY"; expect 200; is '"text" in d["result"]' false
req GET "$A/workers/scripts"; expect 200; is '[s["id"] for s in d["result"]]' '["app"]'
status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$U/__emu/secret-values"); expect 200
is 'd["workers"]["app"]["API_KEY"]' t0p
req DELETE "$A/workers/scripts/app/secrets/API_KEY?url_encoded=true"; expect 200
req GET "$A/workers/scripts/app/secrets/API_KEY"; expect 404
req DELETE "$A/workers/scripts/app"; expect 200

# ---- per-route fault rules ----
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST \
	--data '[{"method":"GET","route":"/accounts/{account_id}/r2/buckets","status":503,"count":1},{"route":"/accounts/{account_id}/storage/kv/namespaces","drop":true}]' \
	"$U/__emu/faults")
expect 200; is 'len(d["rules"])' 2
req GET "$A/r2/buckets"; expect 503
req GET "$A/r2/buckets"; expect 200
req GET "$A/storage/kv/namespaces" 2>/dev/null; checks=$((checks + 1)); [ "$status" = 000 ] || fail "expected a dropped connection, got $status"
req GET "$A/storage/kv/namespaces"; expect 200

# ---- concurrent clients: 300 transfers, 16 at a time ----
req POST "$A/storage/kv/namespaces" --data '{"title":"concurrent"}'; expect 200
py 'd["result"]["id"]'; CNS=$R
python3 - "$U$A" "$CNS" "$TOKEN" >"$tmp/par.cfg" <<'PYEOF'
import sys
u, ns, tok = sys.argv[1:4]
for i in range(300):
    if i % 3 == 2:
        print('url = "%s/r2/buckets?per_page=5"' % u)
    else:
        print('url = "%s/storage/kv/namespaces/%s/values/c%03d"\nrequest = "PUT"\ndata = "v%d"' % (u, ns, i, i))
    print('header = "Authorization: Bearer %s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"' % tok)
    if i != 299:
        print("next")
PYEOF
curl -s -Z --parallel-max 16 -K "$tmp/par.cfg" >"$tmp/par.out" 2>/dev/null
checks=$((checks + 1))
[ "$(grep -c '^200$' "$tmp/par.out")" = 300 ] || fail "concurrent calls: $(sort "$tmp/par.out" | uniq -c | tr '\n' ' ')"
req GET "$A/storage/kv/namespaces/$CNS/keys"; expect 200; is 'len(d["result"])' 200

# ---- stats: the shape README's cfemu section documents ----
status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$U/__emu/stats"); expect 200
is 'sorted(d.keys())' '["reads", "requests", "routes", "s3_requests", "writes"]'
is 'd["requests"] == d["reads"] + d["writes"] and d["requests"] == sum(r["count"] for r in d["routes"])' true
is 'all(sorted(r.keys()) == ["count","method","route","status"] for r in d["routes"])' true
is '[r["count"] for r in d["routes"] if r["method"]=="POST" and r["route"]=="/accounts/{account_id}/r2/buckets" and r["status"]==409]' '[1]'
is 'any(r["route"].startswith("/__emu") for r in d["routes"])' false
is 'any(r["route"]=="/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}" for r in d["routes"])' true
status=$(curl -s -o "$tmp/body" -w '%{http_code}' -X POST "$U/__emu/reset"); expect 200
status=$(curl -s -o "$tmp/body" -w '%{http_code}' "$U/__emu/stats"); expect 200; is 'd["requests"]' 0
req GET "$A/r2/buckets"; expect 200; is 'd["result"]["buckets"]' '[]'
stop

# ---- rate limiting ----
start --rate-limit 3/60
for _ in 1 2 3; do req GET "$A/r2/buckets"; expect 200; done
curl -s -D "$tmp/headers" -o "$tmp/body" -H "Authorization: Bearer $TOKEN" "$U$A/r2/buckets" >/dev/null
status=$(sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' "$tmp/headers"); expect 429 971
checks=$((checks + 1)); grep -qi '^retry-after: [1-9]' "$tmp/headers" || fail "no Retry-After header"
curl -s -X POST --data '{"advance":60}' "$U/__emu/clock" >/dev/null
req GET "$A/r2/buckets"; expect 200
stop

# ---- token from the environment, flags ----
CFEMU_TOKEN=envtok start
TOKEN=envtok req GET "$A/r2/buckets"; expect 200
req GET "$A/r2/buckets"; expect 403 10000
stop
checks=$((checks + 1))
if "$BIN/cfemu" --listen 0.0.0.0:0 >/dev/null 2>"$tmp/e1"; then fail "non-loopback listen accepted"; fi
grep -q 'listen-any' "$tmp/e1" || fail "no hint about --listen-any"
checks=$((checks + 1))
rc=0; "$BIN/cfemu" --bogus >/dev/null 2>"$tmp/e2" || rc=$?
[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/e2")" = 1 ] || fail "bad flag: rc=$rc"
checks=$((checks + 1))
rc=0; "$BIN/cfemu" --rate-limit 5 >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "bad --rate-limit accepted"

echo "emu_basic: $checks checks passed"
