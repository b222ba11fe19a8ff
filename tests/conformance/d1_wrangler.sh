#!/usr/bin/env bash
# wrangler@4.86.0's D1 commands (tests/node_modules) against cfemu, through
# Prism validating every request and response against
# docs/cloudflare-api/openapi-storage-subset.json (whose D1 operations come
# from the official SDK's d1 resources). Started by tests/e2e/conformance.sh
# with the environment tests/conformance/wrangler.sh gets. Covers d1 create,
# list, info, execute --remote --command and --file (the import flow: init,
# upload to cfemu's upload URL, ingest), migrations list/apply --remote with
# a wrangler.json naming the database, and delete; plus what wrangler alone
# does not show: a migration whose 2nd statement is a syntax error leaves
# nothing and is not recorded, a migration applied behind wrangler's back
# (curl through Prism) counts as applied, a batch with an error in its 2nd
# statement leaves nothing, /raw, and the read replication update.
# Prints "d1: N checks, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W="$ROOT/tests/node_modules/.bin/wrangler"

: "${API_URL:?}" "${EMU_URL:?}" "${CF_TOKEN:?}" "${CF_ACCOUNT:?}" "${WORK:?}" "${RESULT:?}"

# wrangler sees a fresh user; its project is $WORK/d1 (wrangler.json below)
mkdir -p "$WORK/d1home" "$WORK/d1/migrations"
export HOME="$WORK/d1home" XDG_CONFIG_HOME="$WORK/d1home/.config"
cd "$WORK/d1" || exit 1
. "$ROOT/tests/conformance/wrangler_lib.sh"

# check NAME CMD...: one check that is not a wrangler command.
check() {
  local name=$1; shift
  finish
  LAST="$name" BAD=0 OUT=""
  "$@" || bad "$name"
}
# d1api METHOD PATH [BODY]: a D1 call through Prism; body in $OUT, status in $CODE.
d1api() {
  OUT=$(curl -sS -o - -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $CF_TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"} \
    "$API_URL/accounts/$CF_ACCOUNT/d1/database$2")
  CODE=$(tail -n 1 <<<"$OUT"); OUT=$(sed '$d' <<<"$OUT")
}
code() { [ "$CODE" = "$1" ] || bad "HTTP $CODE, want $1"; }
# sql NAME SQL: one query through Prism, checked with `json` on the result
# envelope (d) as wrangler's commands are (each wrangler run costs a second).
sql() {
  local name=$1 body
  body=$(python3 -c 'import json,sys; print(json.dumps({"sql": sys.argv[1]}))' "$2")
  check "$name" d1api POST "/$ID/query" "$body"
  code 200
}

DB="conf-d1-$$"

# ---- create, list ------------------------------------------------------------
wr d1 create "$DB" --location weur
ok; has "Successfully created DB '$DB' in region WEUR"; has "\"database_name\": \"$DB\""
ID=$(grep -o '"database_id": "[0-9a-f-]*"' <<<"$OUT" | grep -o '[0-9a-f]\{8\}-[0-9a-f-]*')
[ -n "$ID" ] || bad "no database_id in the output"
wr d1 list --json
ok; json "[x['uuid'] for x in d if x['name'] == '$DB'] == ['$ID']"

# ---- a project naming the database, with three migrations --------------------
printf '{"name": "d1-conformance", "compatibility_date": "2025-01-01",
 "d1_databases": [{"binding": "DB", "database_name": "%s", "database_id": "%s",
                   "migrations_dir": "migrations"}]}\n' "$DB" "$ID" >wrangler.json
printf 'CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT UNIQUE NOT NULL);\n' \
  >migrations/0001_users.sql
printf 'CREATE TABLE posts(id INTEGER PRIMARY KEY,\n  user_id INTEGER NOT NULL REFERENCES users(id), body TEXT);\nCREATE INDEX posts_user ON posts(user_id);\n' \
  >migrations/0002_posts.sql
printf "INSERT INTO users(email) VALUES ('a@example.com');\nINSERT INTO posts(user_id, body) VALUES (1, 'hello');\n" \
  >migrations/0003_seed.sql

wr d1 info "$DB" --json
ok; json "d['uuid'] == '$ID' and d['name'] == '$DB' and d['read_replication']['mode'] == 'disabled' and d['read_queries_24h'] == 0"

# ---- execute --command ---------------------------------------------------------
wr d1 execute DB --remote --command "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('one'), ('two'); SELECT body FROM notes ORDER BY id"
ok; json "len(d) == 3 and d[1]['meta']['changes'] == 2 and d[2]['results'] == [{'body': 'one'}, {'body': 'two'}]"
wr d1 execute DB --remote --command "SELEC 1"
fails; has 'near "SELEC": syntax error at offset 0: SQLITE_ERROR [code: 7500]'
check "a multi-statement query failing in its 2nd statement" d1api POST "/$ID/query" \
  '{"sql":"INSERT INTO notes(body) VALUES (\"three\"); INSERT INTO nosuch VALUES (1)"}'
code 400; has 'no such table: nosuch'
sql "it left nothing" "SELECT count(*) AS n FROM notes"
json "d['result'][0]['results'] == [{'n': 2}]"

# ---- execute --file (import: init, upload, ingest) ------------------------------
printf "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE tags(name TEXT);\nINSERT INTO tags VALUES ('a'), ('b'), ('c');\nCOMMIT;\n" >dump.sql
wr d1 execute DB --remote --file dump.sql
ok; has "Uploading complete"; has "Executed 3 queries"; has "3 rows written"
sql "the imported rows" "SELECT count(*) AS n FROM tags"
json "d['result'][0]['results'] == [{'n': 3}]"
printf 'CREATE TABLE half(x INTEGER);\nINSERT INTO nosuch VALUES (1);\n' >bad.sql
wr d1 execute DB --remote --file bad.sql
fails; has "no such table: nosuch: SQLITE_ERROR"
sql "the failed import left nothing" "SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'"
json "d['result'][0]['results'] == [{'n': 0}]"

# ---- migrations ----------------------------------------------------------------
wr d1 migrations list DB --remote
ok; has "0001_users.sql"; has "0002_posts.sql"; has "0003_seed.sql"
wr d1 migrations apply DB --remote
ok; has "0003_seed.sql"
[ "$(grep -c '✅' <<<"$OUT")" -ge 3 ] || bad "three migrations not marked applied"
sql "the migrations table" "SELECT name FROM d1_migrations ORDER BY id"
json "[r['name'] for r in d['result'][0]['results']] == ['0001_users.sql', '0002_posts.sql', '0003_seed.sql']"
# a fourth whose 2nd statement is a syntax error: nothing of it, not recorded
printf 'CREATE TABLE audit(id INTEGER PRIMARY KEY);\nCREAT INDEX audit_id ON audit(id);\n' \
  >migrations/0004_audit.sql
wr d1 migrations apply DB --remote
fails; has "0004_audit.sql"; has "SQLITE_ERROR"
sql "nothing of 0004, not recorded" "SELECT (SELECT count(*) FROM sqlite_master WHERE name = 'audit') AS t, (SELECT count(*) FROM d1_migrations) AS m"
json "d['result'][0]['results'] == [{'t': 0, 'm': 3}]"
# behind wrangler's back (curl through Prism): someone applies 0004 by hand
check "0004 applied behind the back" d1api POST "/$ID/query" \
  '{"batch":[{"sql":"CREATE TABLE audit(id INTEGER PRIMARY KEY, at TEXT)"},{"sql":"INSERT INTO d1_migrations(name) VALUES (?)","params":["0004_audit.sql"]}]}'
code 200
wr d1 migrations list DB --remote
ok; has "No migrations to apply"

# ---- the HTTP API itself, through Prism -----------------------------------------
check "batch with a syntax error in its 2nd statement" d1api POST "/$ID/query" \
  '{"batch":[{"sql":"INSERT INTO notes(body) VALUES (?)","params":["four"]},{"sql":"INSRT INTO notes(body) VALUES (1)"}]}'
code 400; has '"code":7500'; has 'near \"INSRT\": syntax error'
check "the batch left nothing" d1api POST "/$ID/raw" '{"sql":"SELECT count(*) AS n FROM notes"}'
code 200; has '"columns":["n"],"rows":[[2]]'
check "read replication auto (PATCH)" d1api PATCH "/$ID" '{"read_replication":{"mode":"auto"}}'
code 200; has '"mode":"auto"'
check "get shows the mode" d1api GET "/$ID"
code 200; json "d['result']['read_replication']['mode'] == 'auto' and d['result']['num_tables'] >= 6"
check "read replication disabled (PUT)" d1api PUT "/$ID" '{"read_replication":{"mode":"disabled"}}'
code 200; has '"mode":"disabled"'
check "list filtered by name, paged" d1api GET "?name=$DB&per_page=5&page=1"
code 200; has "\"uuid\":\"$ID\""; has '"total_count":1'

# ---- delete --------------------------------------------------------------------
wr d1 delete "$DB" -y
ok; has "Deleted '$DB' successfully."
check "deleted" d1api GET "/$ID"
code 404; has '"code":7404'
finish

echo "d1: $((passed + failed)) checks, $failed failed"
echo "$passed $failed" >"$RESULT"
[ "$failed" -eq 0 ]
