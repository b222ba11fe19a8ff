#!/usr/bin/env bash
# D1Database against cfemu: apply creates the database and applies 3
# migrations, one batch each; the plan is clean after; a fourth file is one
# migration; an edited applied file is refused by name; a syntax error in a
# migration's second statement is reported at file:line, nothing of it stays,
# later migrations do not run and the state says so; kill -9 during a batch
# leaves each migration wholly applied with its row or not at all; a second
# checkout with no state imports and plans clean; a run from inside the
# manifests folder; a no-op plan over 5 databases costs 1 list + 5 reads;
# --prune keeps a database with tables unless allowDataLoss.
set -u
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
CFS=$(cd "$BIN" && pwd)/cfstorage # for runs from other folders
. tests/lib/common.sh
emu_start
st=(--state "$tmp/state.json")
m="$tmp/manifests"
mkdir -p "$m/migrations"
# routes METHOD SUFFIX STATUS: requests cfemu served on such routes
routes() {
	curl -s "$EMU/__emu/stats" | python3 -c "
import json,sys; print(sum(r['count'] for r in json.load(sys.stdin)['routes'] if r['method']=='$1' and r['route'].endswith('$2') and str(r.get('status', 200)).startswith('$3')))"
}
# sql UUID SQL: one statement through the API; rows as JSON on stdout
sql() {
	api POST "/d1/database/$1/query" -H 'Content-Type: application/json' \
		--data "$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$2")" >/dev/null
	python3 -c "import json; d=json.load(open('$tmp/body')); print(json.dumps(d['result'][0]['results']) if d['success'] else 'ERROR '+d['errors'][0]['message'])"
}
tables() { sql "$1" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name" | python3 -c "import json,sys; print(' '.join(r['name'] for r in json.load(sys.stdin)))"; }
rows() { sql "$1" "SELECT name FROM d1_migrations ORDER BY id" | python3 -c "import json,sys; print(' '.join(r['name'] for r in json.load(sys.stdin)))"; }
uuid_of() { python3 -c "import json,sys; print([r['id'] for r in json.load(open(sys.argv[1]))['resources'] if r['name']==sys.argv[2]][0])" "$@"; }
recorded() { python3 -c "import json,sys; print(' '.join(x['name'] for r in json.load(open(sys.argv[1]))['resources'] if r['name']==sys.argv[2] for x in r.get('migrations', [])))" "$@"; }

cat > "$m/db.yaml" <<'EOF'
apiVersion: cfstorage.dev/v1alpha1
kind: D1Database
metadata:
  name: app-db
spec:
  locationHint: weur
  readReplication: disabled
  migrations:
    dir: migrations
EOF
cat > "$m/migrations/0001_users.sql" <<'EOF'
-- users; with a ';' in a string and a trigger body
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, note TEXT DEFAULT 'a;b');
CREATE TABLE audit (id INTEGER PRIMARY KEY, what TEXT);
CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN
  INSERT INTO audit (what) VALUES ('insert; ' || new.email);
END;
EOF
printf 'ALTER TABLE users ADD COLUMN name TEXT;\n' > "$m/migrations/0002_add_name.sql"
printf '/* an index */\nCREATE INDEX users_email ON users (email);\n' > "$m/migrations/0003_add_index.sql"

# 1. create + 3 migrations, one batch each
q0=$(routes POST /query 2)
cfs apply "${st[@]}" -f "$m/db.yaml"
expect_rc 0 "first apply"
expect_out '\+ migration 0003_add_index.sql' "plan lists the migrations"
[ "$(( $(routes POST /query 2) - q0 ))" = 3 ] || fail "3 migrations took $(( $(routes POST /query 2) - q0 )) query requests, want 3 batches"; ok
db=$(uuid_of "$tmp/state.json" app-db)
[ "$(rows "$db")" = "0001_users.sql 0002_add_name.sql 0003_add_index.sql" ] || fail "rows: $(rows "$db")"; ok
[ "$(tables "$db")" = "audit d1_migrations users" ] || fail "tables: $(tables "$db")"; ok
[ "$(recorded "$tmp/state.json" app-db)" = "0001_users.sql 0002_add_name.sql 0003_add_index.sql" ] || fail "state: $(recorded "$tmp/state.json" app-db)"; ok
sql "$db" "INSERT INTO users (email) VALUES ('x@example.com')" >/dev/null
[ "$(sql "$db" "SELECT what FROM audit")" = '[{"what": "insert; x@example.com"}]' ] || fail "trigger body split"; ok

# 2. clean after
cfs plan "${st[@]}" -f "$m/db.yaml"
expect_rc 0 "plan after apply"
expect_out '^No changes' "clean plan"

# 3. a fourth file: one migration
printf 'CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));\n' > "$m/migrations/0004_posts.sql"
cfs plan "${st[@]}" -f "$m/db.yaml"
expect_rc 2 "plan with a fourth file"
[ "$(grep -c '+ migration' "$tmp/cfs.out")" = 1 ] || fail "want exactly one migration line"; ok
expect_out '\+ migration 0004_posts.sql' "the fourth migration"
q0=$(routes POST /query 2)
cfs apply "${st[@]}" -f "$m/db.yaml"
expect_rc 0 "apply the fourth"
[ "$(( $(routes POST /query 2) - q0 ))" = 2 ] || fail "want 1 table read + 1 batch"; ok
[ "$(rows "$db")" = "0001_users.sql 0002_add_name.sql 0003_add_index.sql 0004_posts.sql" ] || fail "rows: $(rows "$db")"; ok

# 4. an applied file edited: refused, by name
cp "$m/migrations/0002_add_name.sql" "$tmp/0002.bak"
printf 'ALTER TABLE users ADD COLUMN nickname TEXT;\n' > "$m/migrations/0002_add_name.sql"
cfs plan "${st[@]}" -f "$m/db.yaml"
expect_rc 2 "plan with an edited migration"
expect_out "refused.*" "refused"
expect_out "migration '0002_add_name.sql' changed after it was applied" "the edited file named"
cfs apply "${st[@]}" -f "$m/db.yaml"
[ "$(rows "$db")" = "0001_users.sql 0002_add_name.sql 0003_add_index.sql 0004_posts.sql" ] || fail "an edited migration ran"; ok
cp "$tmp/0002.bak" "$m/migrations/0002_add_name.sql"

# 5. a syntax error in the second statement: file:line, nothing of it, later not run
printf -- '-- two statements, the second broken\nCREATE TABLE tags (id INTEGER PRIMARY KEY);\n\nCREATE TABLE broken (id INTEGER PRIMARY KEY,, x);\n' > "$m/migrations/0005_bad.sql"
printf 'CREATE TABLE later (x);\n' > "$m/migrations/0006_later.sql"
cfs apply "${st[@]}" -f "$m/db.yaml"
expect_rc 1 "apply with a broken migration"
expect_out "migration 0005_bad.sql failed at $m/migrations/0005_bad.sql:4: .*syntax error" "file:line of the failing statement"
expect_out "1 later migration not run" "later migrations not run"
[ "$(tables "$db")" = "audit d1_migrations posts users" ] || fail "tables after the failure: $(tables "$db")"; ok
[ "$(rows "$db")" = "0001_users.sql 0002_add_name.sql 0003_add_index.sql 0004_posts.sql" ] || fail "rows after the failure: $(rows "$db")"; ok
python3 - "$tmp/state.json" <<'PY' || fail "the state does not record the failure"
import json, sys
r = [r for r in json.load(open(sys.argv[1]))["resources"] if r["name"] == "app-db"][0]
assert r["condition"].startswith("Failed: migration 0005_bad.sql failed at"), r["condition"]
assert [m["name"] for m in r["migrations"]][-1] == "0004_posts.sql", r["migrations"]
PY
ok
cfs status "${st[@]}" -f "$m/db.yaml"
expect_out "0005_bad.sql" "status shows the failure"
printf 'CREATE TABLE tags (id INTEGER PRIMARY KEY);\nCREATE TABLE fixed (id INTEGER PRIMARY KEY, x);\n' > "$m/migrations/0005_bad.sql"
cfs apply "${st[@]}" -f "$m/db.yaml"
expect_rc 0 "the fixed migration and the later one"
[ "$(tables "$db")" = "audit d1_migrations fixed later posts tags users" ] || fail "tables: $(tables "$db")"; ok

# 6. a second checkout with no state: import records ownership and every row,
# then the plan is clean; also from inside the manifests folder
cp -r "$m" "$tmp/checkout2"
(cd "$tmp/checkout2" && "$CFS" import D1Database app-db --state "$tmp/state2.json" -f db.yaml) > "$tmp/cfs.out" 2>&1 || fail "import in a second checkout: $(cat "$tmp/cfs.out")"; ok
[ "$(recorded "$tmp/state2.json" app-db | wc -w)" = 6 ] || fail "import recorded: $(recorded "$tmp/state2.json" app-db)"; ok
(cd "$tmp/checkout2" && "$CFS" plan --state "$tmp/state2.json" -f db.yaml) > "$tmp/cfs.out" 2>&1; rc=$?
expect_rc 0 "second checkout plans clean"
(cd "$m" && "$CFS" plan --state "$tmp/state.json" -f db.yaml) > "$tmp/cfs.out" 2>&1; rc=$?
expect_rc 0 "plan from inside the manifests folder (relative migrations dir)"

# 7. readReplication is mutable; locationHint is not
sed -i 's/readReplication: disabled/readReplication: auto/' "$m/db.yaml"
cfs plan "${st[@]}" -f "$m/db.yaml"
expect_rc 2 "replication change"
expect_out '~ readReplication: disabled → auto' "replication line"
cfs apply "${st[@]}" -f "$m/db.yaml"
expect_rc 0 "replication applied"
api GET "/d1/database/$db" >/dev/null
grep -q '"mode":"auto"' "$tmp/body" || fail "replication not auto: $(cat "$tmp/body")"; ok
sed -i 's/locationHint: weur/locationHint: enam/' "$m/db.yaml"
cfs plan "${st[@]}" -f "$m/db.yaml"
expect_rc 2 "location change"
expect_out 'requires replacement: locationHint weur → enam' "immutable locationHint refused"
sed -i 's/locationHint: enam/locationHint: weur/' "$m/db.yaml"

# export: a D1Database manifest without migrations, valid as it is
cfs export --kind D1Database
expect_rc 0 "export"
cp "$tmp/cfs.out" "$tmp/exported.yaml"
expect_out '^  readReplication: auto$' "export shows read replication"
expect_no_out '^  migrations:' "export writes no migrations"
cfs validate -f "$tmp/exported.yaml"
expect_rc 0 "the export validates"

# 8. a no-op plan over 5 databases: 1 list + 1 table read each (footer)
for i in 1 2 3 4 5; do
	printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: D1Database\nmetadata: {name: many-%s}\nspec:\n  deletionPolicy: Delete\n  migrations: {dir: migrations}\n' "$i"
done > "$m/many.yaml"
cfs apply --state "$tmp/many.json" -f "$m/many.yaml"
expect_rc 0 "5 databases"
cfs plan --state "$tmp/many.json" -f "$m/many.yaml"
expect_rc 0 "no-op plan over 5 databases"
expect_out 'No changes.* 6 API requests \(0 writes\)' "footer: 1 list + 5 migrations-table reads"
echo "d1: no-op plan over 5 databases: $(grep -o '[0-9]* API requests' "$tmp/cfs.out")"

# 9. --prune: a database with tables is kept unless allowDataLoss
head -n 7 "$m/many.yaml" > "$m/one.yaml" # many-1 only
cfs apply --state "$tmp/many.json" --prune -f "$m/one.yaml"
expect_rc 1 "prune of databases with tables"
expect_out "database holds 6 tables of its own: not deleted" "refused without allowDataLoss"
many() { api GET "/d1/database?per_page=100" >/dev/null; grep -o '"name":"many-' "$tmp/body" | wc -l; }
[ "$(many)" = 5 ] || fail "a database was deleted"; ok
sed -i 's/deletionPolicy: Delete/deletionPolicy: Delete\n  allowDataLoss: true/' "$m/many.yaml"
cfs apply --state "$tmp/many.json" -f "$m/many.yaml"
expect_rc 0 "allowDataLoss recorded"
cfs apply --state "$tmp/many.json" --prune -f "$m/one.yaml"
expect_rc 0 "prune with allowDataLoss"
[ "$(many)" = 1 ] || fail "$(many) databases left, want 1"; ok

# 9b. the splitter follows sqlite3_complete (a trigger on columns named begin
# and end), a UTF-8 BOM is skipped; a BOM-only file and a 999-statement file
# are invalid; a COMMIT failure (deferred foreign key) is named as one; a
# refusal that is not SQL (no 7500) is reported as the server's, not probed
fx="$tmp/fx"; mkdir -p "$fx/migrations"
fxdb() { printf -- '---\napiVersion: cfstorage.dev/v1alpha1\nkind: D1Database\nmetadata: {name: %s}\nspec:\n  deletionPolicy: Delete\n  migrations: {dir: %s%s}\n' "$@"; }
fxdb fx-db migrations '' > "$fx/db.yaml"
printf '\xef\xbb\xbfCREATE TABLE ev(id INTEGER PRIMARY KEY, begin INT, end INT);\nCREATE TRIGGER tr AFTER INSERT ON ev BEGIN UPDATE ev SET end = 1 WHERE id = new.id; END;\n' > "$fx/migrations/0001_ev.sql"
cfs apply --state "$tmp/fx.json" -f "$fx/db.yaml"
expect_rc 0 "a BOM and a trigger over columns begin/end"
fdb=$(uuid_of "$tmp/fx.json" fx-db)
sql "$fdb" "INSERT INTO ev (id) VALUES (7)" >/dev/null
[ "$(sql "$fdb" "SELECT end FROM ev")" = '[{"end": 1}]' ] || fail "trigger: $(sql "$fdb" "SELECT end FROM ev")"; ok
printf '\xef\xbb\xbf\n-- nothing here\n' > "$fx/migrations/0002_empty.sql"
cfs validate -f "$fx/db.yaml"
expect_rc 3 "a BOM-only migration is invalid"
expect_out "migration '0002_empty.sql' holds no SQL statement" "no statement"
python3 -c "print(''.join('CREATE TABLE s%d (x);\n' % i for i in range(999)))" > "$fx/migrations/0002_empty.sql"
cfs validate -f "$fx/db.yaml"
expect_rc 3 "999 statements are invalid"
expect_out "db.yaml:[0-9]+:[0-9]+: .*migration '0002_empty.sql' has 999 statements; at most 998" "the cap, at file:line:col"
rm "$fx/migrations/0002_empty.sql"
printf 'CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO c VALUES (1, 99);\n' > "$fx/migrations/0002_fk.sql"
cfs apply --state "$tmp/fx.json" -f "$fx/db.yaml"
expect_rc 1 "a deferred foreign key fails the batch"
expect_out "migration 0002_fk.sql: $fx/migrations/0002_fk.sql: failed at commit: FOREIGN KEY constraint failed" "blamed on the COMMIT, not the INSERT"
expect_no_out "recording it in the table" "the INSERT is not blamed"
rm "$fx/migrations/0002_fk.sql"
fxdb fx-new migrations '' > "$fx/new.yaml"
curl -s -X POST "$EMU/__emu/faults" -d '{"method":"POST","route":"/accounts/{account_id}/d1/database/{database_id}/query","status":400,"count":1}' >/dev/null
q0=$(routes POST /query '')
cfs apply --state "$tmp/fx.json" -f "$fx/new.yaml"
expect_rc 1 "a refused batch"
expect_out "migration 0001_ev.sql was refused: injected fault" "the server's message"
[ "$(( $(routes POST /query '') - q0 ))" = 1 ] || fail "a non-SQL refusal sent $(( $(routes POST /query '') - q0 )) query requests, want 1 (no probe)"; ok
curl -s -X DELETE "$EMU/__emu/faults" >/dev/null

# 9c. one unreadable migrations table refuses its database only; a table
# with a NULL name refuses too (which migrations ran is ambiguous)
{ fxdb fx-good migrations ''; fxdb fx-bad migrations ', table: migs'; } > "$fx/two.yaml"
cfs apply --state "$tmp/two.json" -f "$fx/two.yaml"
expect_rc 0 "two databases"
bad=$(uuid_of "$tmp/two.json" fx-bad)
sql "$bad" "DROP TABLE migs" >/dev/null
sql "$bad" "CREATE TABLE migs (id INTEGER PRIMARY KEY, file TEXT)" >/dev/null
printf 'CREATE TABLE more (x);\n' > "$fx/migrations/0002_more.sql"
cfs plan --state "$tmp/two.json" -f "$fx/two.yaml"
expect_rc 2 "plan with one unreadable migrations table"
expect_out '\+ migration 0002_more.sql' "the other database's pending migration"
expect_out "its migrations table 'migs' does not have wrangler's columns \(id, name, applied_at\)" "the broken one refused with the reason"
sql "$bad" "DROP TABLE migs" >/dev/null
sql "$bad" "CREATE TABLE migs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)" >/dev/null
sql "$bad" "INSERT INTO migs (name) VALUES ('0001_ev.sql'), (NULL)" >/dev/null
cfs apply --state "$tmp/two.json" -f "$fx/two.yaml"
expect_rc 1 "apply with a NULL row refuses that database"
expect_out "its migrations table 'migs' has a row whose name is NULL" "the NULL row named"
[ "$(rows "$(uuid_of "$tmp/two.json" fx-good)")" = "0001_ev.sql 0002_more.sql" ] || fail "the good database was not migrated"; ok

# 9d. --prune: a database holding only its own (non-default) migrations
# table holds no table of its own, and is deleted
mkdir -p "$fx/noop"; printf 'SELECT 1;\n' > "$fx/noop/0001_noop.sql"
{ fxdb fx-hist noop ', table: hist'; fxdb fx-keep noop ''; } > "$fx/hist.yaml"
fxdb fx-keep noop '' > "$fx/keep.yaml"
cfs apply --state "$tmp/hist.json" -f "$fx/hist.yaml"
expect_rc 0 "a database with a custom migrations table"
cfs apply --state "$tmp/hist.json" --prune -f "$fx/keep.yaml"
expect_rc 0 "prune of a database holding only its migrations table"
expect_no_out "holds [0-9]+ table" "its migrations table is not a table of its own"
api GET "/d1/database?name=fx-hist" >/dev/null
python3 -c "import json; assert json.load(open('$tmp/body'))['result'] == []" || fail "fx-hist was not deleted"; ok

# 10. the daemon: a new migration file is applied; a failing one is reported
# and backs off (1 s, 2 s, ...), never retried in a tight loop
mkdir -p "$tmp/dm/migrations"
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: D1Database\nmetadata: {name: daemon-db}\nspec:\n  migrations: {dir: migrations}\n' > "$tmp/dm/db.yaml"
printf 'CREATE TABLE d1 (x);\n' > "$tmp/dm/migrations/0001_d1.sql"
run_daemon "$tmp/daemon.json" --interval 1h -f "$tmp/dm/db.yaml"
daemon_ready 10 || fail "daemon not ready"; ok
ddb() { python3 -c "import json; print([r.get('id','') for r in json.load(open('$tmp/daemon.json'))['resources']][0])" 2>/dev/null; }
until_ok 10 sh -c "[ -n \"\$(python3 -c \"import json; print(json.load(open('$tmp/daemon.json'))['resources'][0]['migrations'][0]['name'])\" 2>/dev/null)\" ]" || fail "the daemon did not apply 0001"; ok
# the migrations read is a part of the daemon's rotation, with its age exported
[ -n "$(daemon_metric 'cfstorage_observation_age_seconds{kind="D1Database",part="migrations"}')" ] ||
	fail "no observation age for D1 migrations: $(curl -s "$D/metrics" | grep observation_age)"; ok
printf 'CREATE TABLE d2 (x);\n' > "$tmp/dm/migrations/0002_d2.sql"
until_ok 10 sh -c "[ \"\$(python3 -c \"import json; print(len(json.load(open('$tmp/daemon.json'))['resources'][0]['migrations']))\")\" = 2 ]" || fail "the daemon did not apply a new migration file"; ok
dq0=$(routes POST /query 4)
printf 'CREATE TABLE d3 (x,,);\n' > "$tmp/dm/migrations/0003_bad.sql"
until_ok 10 sh -c "grep -c 'resource backing off\" kind=D1Database name=daemon-db' '$tmp/d.err' | grep -q '^[2-9]'" || fail "a failing migration does not back off"; ok
grep -q 'level=warn msg="apply failure" kind=D1Database name=daemon-db.*0003_bad.sql' "$tmp/d.err" || grep -q '0003_bad.sql' "$tmp/d.err" || fail "the failure is not reported"; ok
grep 'resource backing off" kind=D1Database name=daemon-db' "$tmp/d.err" | sed -n 's/.*retry_in_ms=\([0-9]*\).*/\1/p' | head -2 | tr '\n' ' ' > "$tmp/bo"
[ "$(cat "$tmp/bo")" = "1000 2000 " ] || fail "backoff not doubling: $(cat "$tmp/bo")"; ok
# each attempt is one batch and 2 rollback-only probes (the bisection)
failed_q=$(( $(routes POST /query 4) - dq0 ))
[ "$failed_q" -le 9 ] || fail "the failing migration was sent $failed_q times (3 requests an attempt) in ~3 s"; ok
stop_daemon

# 11. kill -9 during a migration batch (200 ms of latency on every call)
emu_stop
emu_start --latency-ms 200
mkdir -p "$tmp/kill/migrations"
for i in 1 2 3 4 5 6 7 8; do
	printf 'CREATE TABLE k%s (x);\nINSERT INTO k%s VALUES (%s);\n' "$i" "$i" "$i" > "$tmp/kill/migrations/000${i}_k$i.sql"
done
printf 'apiVersion: cfstorage.dev/v1alpha1\nkind: D1Database\nmetadata: {name: killed}\nspec:\n  migrations: {dir: migrations}\n' > "$tmp/kill/db.yaml"
w0=$(emu_stat writes)
"$BIN/cfstorage" apply --state "$tmp/kill.json" -f "$tmp/kill/db.yaml" > "$tmp/cfs.out" 2>&1 &
pid=$!
batches() { [ "$(emu_stat writes)" -ge $((w0 + 2)) ]; } # the create and one batch answered
until_ok 20 batches || fail "no migration batch"
kill -9 "$pid"; wait "$pid" 2>/dev/null
kdb=$(api GET "/d1/database?name=killed" >/dev/null; python3 -c "import json; print(json.load(open('$tmp/body'))['result'][0]['uuid'])")
python3 - "$(rows "$kdb")" "$(tables "$kdb")" <<'PY' || fail "a migration is applied but unrecorded, or recorded but not applied"
import sys
rows, tables = sys.argv[1].split(), sys.argv[2].split()
for i in range(1, 9):
    assert (f"000{i}_k{i}.sql" in rows) == (f"k{i}" in tables), (rows, tables)
assert rows == sorted(rows) and rows == [f"000{i}_k{i}.sql" for i in range(1, len(rows) + 1)], rows
PY
ok
echo "d1: kill -9 after $(rows "$kdb" | wc -w) of 8 migrations: each wholly applied with its row, or not at all"
cfs apply --state "$tmp/kill.json" -f "$tmp/kill/db.yaml"
expect_rc 0 "apply after the kill"
all8="0001_k1.sql 0002_k2.sql 0003_k3.sql 0004_k4.sql 0005_k5.sql 0006_k6.sql 0007_k7.sql 0008_k8.sql"
[ "$(rows "$kdb")" = "$all8" ] || fail "rows after the kill: $(rows "$kdb")"; ok
[ "$(recorded "$tmp/kill.json" killed)" = "$all8" ] || fail "state after the kill: $(recorded "$tmp/kill.json" killed)"; ok

echo "d1: $checks passed, 0 failed"
