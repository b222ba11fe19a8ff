#!/usr/bin/env bash
# cfemu's D1 (pkg/emu/emu_d1.c) over HTTP: a batch whose second statement
# is a syntax error leaves nothing of the batch; a multi-statement query is
# one transaction too; D1's error shapes and limits; databases and rows
# survive a restart on the same --data; kill -9 in the middle of a large
# batch leaves it all or nothing (the SQLite rollback journal); a row written
# into the file behind cfemu's back is served; a delete survives a restart;
# /__emu/reset removes the files; read-only queries count as reads.
# Seconds, both flavours.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
. tests/lib/common.sh
data="$tmp/data"
emu_start --data "$data"

D1=/d1/database
# jq-free JSON reads: js FILE EXPR (d is the document)
js() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# q UUID JSON-BODY [route]: a query; status echoed, body in $tmp/body
q() { api POST "$D1/$1/${3:-query}" -H 'Content-Type: application/json' --data "$2"; }
count() { # count UUID TABLE: rows in TABLE, or "none" when it does not exist
	local s
	s=$(q "$1" "{\"sql\":\"SELECT count(*) AS n FROM $2\"}")
	if [ "$s" = 200 ]; then js "$tmp/body" 'd["result"][0]["results"][0]["n"]'; else echo none; fi
}

# 1. create, list, get (by uuid and by name), duplicate name
[ "$(api POST "$D1" --data '{"name":"shop","primary_location_hint":"weur"}')" = 200 ] ||
	fail "create: $(cat "$tmp/body")"; ok
ID=$(js "$tmp/body" 'd["result"]["uuid"]')
[[ "$ID" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "uuid '$ID'"; ok
[ "$(js "$tmp/body" 'd["result"]["read_replication"]["mode"]')" = disabled ] || fail "default mode"; ok
[ "$(api POST "$D1" --data '{"name":"shop"}')" = 400 ] || fail "duplicate name accepted"; ok
[ "$(js "$tmp/body" 'd["errors"][0]["code"]')" = 7502 ] || fail "duplicate: $(cat "$tmp/body")"; ok
[ "$(api POST "$D1" --data '{"name":"bad name!"}')" = 400 ] || fail "bad name accepted"; ok
[ "$(api POST "$D1" --data '{"name":"x","primary_location_hint":"mars"}')" = 400 ] || fail "bad hint"; ok
[ "$(api GET "$D1/shop")" = 200 ] && [ "$(js "$tmp/body" 'd["result"]["uuid"]')" = "$ID" ] ||
	fail "get by name"; ok
[ "$(api GET "$D1/$ID?fields=uuid,name")" = 200 ] &&
	[ "$(js "$tmp/body" 'sorted(d["result"])')" = "['name', 'uuid']" ] || fail "fields filter"; ok
for i in 1 2 3 4 5; do api POST "$D1" --data "{\"name\":\"page$i\"}" >/dev/null; done
[ "$(api GET "$D1?per_page=2&page=2")" = 200 ] &&
	[ "$(js "$tmp/body" '[x["name"] for x in d["result"]], d["result_info"]["total_count"]')" = "(['page2', 'page3'], 6)" ] ||
	fail "paging: $(cat "$tmp/body")"; ok
[ "$(api GET "$D1?name=page")" = 200 ] && [ "$(js "$tmp/body" 'len(d["result"])')" = 5 ] ||
	fail "name filter"; ok
[ "$(api GET "$D1?per_page=10001")" = 400 ] || fail "per_page bound"; ok
[ "$(api PATCH "$D1/$ID" --data '{"read_replication":{"mode":"auto"}}')" = 200 ] &&
	[ "$(js "$tmp/body" 'd["result"]["read_replication"]["mode"]')" = auto ] || fail "patch"; ok
[ "$(api PUT "$D1/$ID" --data '{}')" = 400 ] || fail "PUT without read_replication"; ok

# 2. a schema, then a batch whose 2nd statement is a syntax error: nothing of it
[ "$(q "$ID" '{"sql":"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, n INTEGER); INSERT INTO items(name, n) VALUES (?, 1)","params":["seed"]}')" = 200 ] ||
	fail "schema: $(cat "$tmp/body")"; ok
[ "$(js "$tmp/body" 'len(d["result"]), d["result"][1]["meta"]["changes"], d["result"][1]["meta"]["last_row_id"]')" = "(2, 1, 1)" ] ||
	fail "one result per statement: $(cat "$tmp/body")"; ok
[ "$(q "$ID" '{"batch":[{"sql":"INSERT INTO items(name, n) VALUES (?, ?)","params":["a","2"]},{"sql":"INSRT INTO items VALUES (3)"},{"sql":"INSERT INTO items(name) VALUES (\"c\")"}]}')" = 400 ] ||
	fail "bad batch not refused"; ok
[ "$(js "$tmp/body" 'd["success"], d["errors"][0]["code"]')" = "(False, 7500)" ] || fail "error shape: $(cat "$tmp/body")"; ok
grep -q 'syntax error at offset [0-9]*: SQLITE_ERROR' "$tmp/body" || fail "message: $(cat "$tmp/body")"; ok
[ "$(count "$ID" items)" = 1 ] || fail "the batch's first insert stayed"; ok
# the same in one multi-statement sql, and a constraint error at step time
[ "$(q "$ID" '{"sql":"INSERT INTO items(name) VALUES (\"m1\"); INSERT INTO items(name) VALUES (\"seed\")"}')" = 400 ] ||
	fail "unique violation not refused"; ok
grep -q 'UNIQUE constraint failed: items.name: SQLITE_CONSTRAINT' "$tmp/body" || fail "constraint message: $(cat "$tmp/body")"; ok
[ "$(count "$ID" items)" = 1 ] || fail "a multi-statement query was not all-or-nothing"; ok
[ "$(q "$ID" '{"batch":[{"sql":"INSERT INTO items(name, n) VALUES (?, ?)","params":["a",2]},{"sql":"SELECT name, n FROM items ORDER BY id"}]}' raw)" = 200 ] ||
	fail "raw batch: $(cat "$tmp/body")"; ok
[ "$(js "$tmp/body" 'd["result"][1]["results"]')" = "{'columns': ['name', 'n'], 'rows': [['seed', 1], ['a', 2]]}" ] ||
	fail "raw rows: $(cat "$tmp/body")"; ok
# /__emu/stats: a query or raw of read-only statements is a read, one that
# writes (or fails to prepare) a write
r0=$(emu_stat reads); w0=$(emu_stat writes)
q "$ID" '{"batch":[{"sql":"SELECT count(*) FROM items"},{"sql":"SELECT name FROM items"}]}' >/dev/null
q "$ID" '{"sql":"SELECT 1"}' raw >/dev/null
[ "$(emu_stat reads)/$(emu_stat writes)" = "$((r0 + 2))/$w0" ] || fail "read-only queries counted as writes"; ok
q "$ID" '{"batch":[{"sql":"SELECT 1"},{"sql":"UPDATE items SET n = n WHERE 0"}]}' >/dev/null
q "$ID" '{"sql":"SELECT 1 FROM no_such_table"}' >/dev/null
[ "$(emu_stat reads)/$(emu_stat writes)" = "$((r0 + 2))/$((w0 + 2))" ] || fail "a writing or unprepared query counted as a read"; ok

# 3. what D1 refuses: explicit transactions, ATTACH/VACUUM, PRAGMAs off its
# list, too many params, an overlong statement, a non-uuid id
for sql in 'BEGIN' 'COMMIT' "ATTACH 'x.db' AS x" 'PRAGMA journal_mode=WAL' 'PRAGMA writable_schema=1'; do
	[ "$(q "$ID" "{\"sql\":\"$sql\"}")" = 400 ] && grep -q 'not authorized: SQLITE_AUTH' "$tmp/body" ||
		fail "'$sql' not refused: $(cat "$tmp/body")"
	ok
done
[ "$(q "$ID" "{\"sql\":\"VACUUM INTO '$tmp/copy.db'\"}")" = 400 ] && [ ! -e "$tmp/copy.db" ] ||
	fail "VACUUM INTO wrote a file"; ok
[ "$(q "$ID" '{"sql":"PRAGMA table_list"}')" = 200 ] || fail "PRAGMA table_list refused"; ok
params=$(python3 -c 'import json; print(json.dumps({"sql": "SELECT 1", "params": ["x"] * 101}))')
[ "$(q "$ID" "$params")" = 400 ] && [ "$(js "$tmp/body" 'd["errors"][0]["code"]')" = 7400 ] || fail "101 params"; ok
python3 -c 'import json; print(json.dumps({"sql": "SELECT \"" + "x" * 100001 + "\""}))' >"$tmp/long.json"
[ "$(q "$ID" "@$tmp/long.json")" = 400 ] && grep -q SQLITE_TOOBIG "$tmp/body" || fail "overlong statement"; ok
[ "$(q "not-a-uuid" '{"sql":"SELECT 1"}')" = 400 ] && [ "$(js "$tmp/body" 'd["errors"][0]["code"]')" = 7400 ] ||
	fail "non-uuid id"; ok
[ "$(q "$ID" '{"sql":"  -- only a comment"}')" = 400 ] || fail "no statement accepted"; ok

# 4. a restart on the same --data keeps databases, settings and rows
emu_stop
emu_start --data "$data"
[ "$(api GET "$D1/$ID")" = 200 ] && [ "$(js "$tmp/body" 'd["result"]["read_replication"]["mode"], d["result"]["num_tables"]')" = "('auto', 1)" ] ||
	fail "after restart: $(cat "$tmp/body")"; ok
[ "$(count "$ID" items)" = 2 ] || fail "rows lost in a restart"; ok

# 5. kill -9 in the middle of a large batch: once SQLite's rollback journal
# holds data the batch is writing; after the restart it is all or nothing
db="$data/d1/$ID.sqlite3"
api POST "$D1/$ID/query" -H 'Content-Type: application/json' --data \
	'{"batch":[{"sql":"CREATE TABLE big(i INTEGER, pad TEXT)"},{"sql":"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 3000000) INSERT INTO big SELECT i, hex(randomblob(16)) FROM c"}]}' \
	>/dev/null 2>&1 &
qpid=$!
until_ok 20 test -s "$db-journal" || fail "the batch never started writing"
kill -9 "$emu_pid"; wait "$emu_pid" 2>/dev/null; emu_pid=
wait "$qpid" 2>/dev/null
emu_start --data "$data"
n=$(count "$ID" big); echo "d1_emu: after kill -9 mid-batch, table big: $n"
[ "$n" = none ] || [ "$n" = 3000000 ] || fail "kill -9 left $n rows of a 3,000,000-row batch"; ok
[ "$(count "$ID" items)" = 2 ] || fail "earlier rows lost in the crash"; ok
# an acknowledged batch is there after kill -9 right after its answer
[ "$(q "$ID" '{"batch":[{"sql":"INSERT INTO items(name) VALUES (\"k1\")"},{"sql":"INSERT INTO items(name) VALUES (\"k2\")"}]}')" = 200 ] ||
	fail "batch before kill"; ok
kill -9 "$emu_pid"; wait "$emu_pid" 2>/dev/null; emu_pid=
emu_start --data "$data"
[ "$(count "$ID" items)" = 4 ] || fail "an acknowledged batch was lost to kill -9"; ok

# a row written behind cfemu's back, into the SQLite file itself, is served
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("INSERT INTO items(name) VALUES (?)", ("behind",)); c.commit(); c.close()' "$db" ||
	fail "writing the file behind cfemu's back"
[ "$(count "$ID" items)" = 5 ] || fail "a row written into the file behind cfemu's back is not served"; ok

# 6. delete: the database and its file go, and stay gone after a restart
P1=$(api GET "$D1/page1" >/dev/null; js "$tmp/body" 'd["result"]["uuid"]')
[ "$(api DELETE "$D1/$P1")" = 200 ] || fail "delete"; ok
[ ! -e "$data/d1/$P1.sqlite3" ] || fail "deleted database's file remains"; ok
emu_stop
emu_start --data "$data"
[ "$(api GET "$D1/$P1")" = 404 ] && [ "$(js "$tmp/body" 'd["errors"][0]["code"]')" = 7404 ] ||
	fail "deleted database came back: $(cat "$tmp/body")"; ok
[ "$(api GET "$D1")" = 200 ] && [ "$(js "$tmp/body" 'd["result_info"]["total_count"]')" = 5 ] || fail "list after restart"; ok

# 7. /__emu/reset drops every database and its file
curl -sf -X POST "$EMU/__emu/reset" >/dev/null || fail "reset"
[ -z "$(ls "$data/d1")" ] || fail "reset left files: $(ls "$data/d1")"; ok
[ "$(api GET "$D1")" = 200 ] && [ "$(js "$tmp/body" 'len(d["result"])')" = 0 ] || fail "reset left databases"; ok
emu_stop

# 8. without --data every database is in memory
emu_start
[ "$(api POST "$D1" --data '{"name":"mem"}')" = 200 ] || fail "memory create"; ok
M=$(js "$tmp/body" 'd["result"]["uuid"]')
[ "$(q "$M" '{"sql":"CREATE TABLE t(x); INSERT INTO t VALUES (1)"}')" = 200 ] && [ "$(count "$M" t)" = 1 ] ||
	fail "memory query"; ok
emu_stop
echo "d1_emu: $checks passed, 0 failed"
