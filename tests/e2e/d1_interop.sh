#!/usr/bin/env bash
# D1 migrations shared with wrangler 4.86 (against cfemu): migrations that
# `wrangler d1 migrations apply --remote` applied first count as applied for
# cfstorage (it plans clean and records their hashes), and those cfstorage
# applied are applied for `wrangler d1 migrations list --remote`. Both use
# the d1_migrations table (id, name, applied_at).
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${BIN:-bin}
NM="$ROOT/tests/node_modules"
[ -e "$NM/.bin/wrangler" ] || { echo "FAIL: $NM/.bin/wrangler is missing; run 'make deps'" >&2; exit 1; }
. tests/lib/common.sh
emu_start
w="$tmp/project"
mkdir -p "$w/migrations" "$tmp/home"
# wr ARGS...: wrangler as a fresh user in the project folder (its wrangler.toml)
wr() {
	(cd "$w" && HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home/.config" \
		WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false WRANGLER_HIDE_BANNER=true \
		CI=true NO_COLOR=1 timeout 60 "$NM/.bin/wrangler" "$@") >"$tmp/wr.out" 2>&1 ||
		{ cat "$tmp/wr.out" >&2; fail "wrangler $*"; }
	ok
}
rows() {
	api POST "/d1/database/$1/query" -H 'Content-Type: application/json' \
		--data '{"sql":"SELECT name FROM d1_migrations ORDER BY id"}' >/dev/null
	python3 -c "import json; print(' '.join(r['name'] for r in json.load(open('$tmp/body'))['result'][0]['results']))"
}
st=(--state "$tmp/state.json")
cat > "$w/db.yaml" <<'EOF'
apiVersion: cfstorage.dev/v1alpha1
kind: D1Database
metadata:
  name: shop-db
spec:
  migrations:
    dir: migrations
EOF
printf -- '-- wrangler splits this file itself\nCREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT);\nCREATE TRIGGER items_name AFTER INSERT ON items BEGIN\n  UPDATE items SET name = upper(new.name) WHERE id = new.id;\nEND;\n' > "$w/migrations/0001_items.sql"
printf 'CREATE INDEX items_name_idx ON items (name);\n' > "$w/migrations/0002_index.sql"

# cfstorage creates the database and applies 0001 and 0002
cfs apply "${st[@]}" -f "$w/db.yaml"
expect_rc 0 "cfstorage apply"
db=$(python3 -c "import json; print(json.load(open('$tmp/state.json'))['resources'][0]['id'])")
cat > "$w/wrangler.toml" <<EOF
name = "shop"
compatibility_date = "2025-01-01"
[[d1_databases]]
binding = "DB"
database_name = "shop-db"
database_id = "$db"
migrations_dir = "migrations"
EOF

# 1. wrangler sees cfstorage's migrations as applied
wr d1 migrations list shop-db --remote
grep -q 'No migrations to apply' "$tmp/wr.out" || fail "wrangler lists cfstorage's migrations as unapplied: $(cat "$tmp/wr.out")"; ok

# 2. wrangler applies 0003 first; cfstorage plans clean and records it
printf 'ALTER TABLE items ADD COLUMN price INTEGER;\n' > "$w/migrations/0003_price.sql"
wr d1 migrations apply shop-db --remote
[ "$(rows "$db")" = "0001_items.sql 0002_index.sql 0003_price.sql" ] || fail "rows after wrangler: $(rows "$db")"; ok
cfs plan "${st[@]}" -f "$w/db.yaml"
expect_rc 0 "cfstorage plans clean after wrangler applied 0003"
expect_out '1 migration applied outside cfstorage \(0003_price.sql\)' "the plan says it was found"
cfs apply "${st[@]}" -f "$w/db.yaml"
expect_rc 0 "apply records it"
python3 - "$tmp/state.json" <<'PY' || fail "0003 not recorded as found"
import json, sys
m = json.load(open(sys.argv[1]))["resources"][0]["migrations"]
assert [x["name"] for x in m] == ["0001_items.sql", "0002_index.sql", "0003_price.sql"], m
assert [x["origin"] for x in m] == ["applied", "applied", "found"], m
PY
ok

# 3. cfstorage applies 0004; wrangler has nothing left to apply
printf 'CREATE TABLE orders (id INTEGER PRIMARY KEY, item INTEGER REFERENCES items (id));\n' > "$w/migrations/0004_orders.sql"
cfs apply "${st[@]}" -f "$w/db.yaml"
expect_rc 0 "cfstorage applies 0004"
wr d1 migrations apply shop-db --remote
grep -q 'No migrations to apply' "$tmp/wr.out" || fail "wrangler would apply again: $(cat "$tmp/wr.out")"; ok
[ "$(rows "$db")" = "0001_items.sql 0002_index.sql 0003_price.sql 0004_orders.sql" ] || fail "rows: $(rows "$db")"; ok
cfs plan "${st[@]}" -f "$w/db.yaml"
expect_rc 0 "clean at the end"

echo "d1_interop: $checks passed, 0 failed"
