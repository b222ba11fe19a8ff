#!/usr/bin/env bash
# wrangler@4.86.0 (tests/node_modules, pinned by tests/package-lock.json)
# against cfemu, through Prism validating every request and response against
# docs/cloudflare-api/openapi-storage-subset.json. Started by
# tests/e2e/conformance.sh, which sets:
#   API_URL     Prism's address, given to wrangler as CLOUDFLARE_API_BASE_URL
#   EMU_URL     cfemu itself (only for test-only /__emu/ routes and for
#               creating the Worker script, which the schema does not cover)
#   CF_TOKEN, CF_ACCOUNT, WORK (a scratch directory), RESULT (file for
#   "PASSED FAILED")
# Each wrangler command is one check: its exit code and the meaningful part
# of its output are asserted. Prints "wrangler: N commands checked, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W="$ROOT/tests/node_modules/.bin/wrangler"

: "${API_URL:?}" "${EMU_URL:?}" "${CF_TOKEN:?}" "${CF_ACCOUNT:?}" "${WORK:?}" "${RESULT:?}"

# wrangler sees a fresh user: no config, no login, no metrics, no update check.
mkdir -p "$WORK/home" "$WORK/cwd"
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config"
cd "$WORK/cwd" || exit 1 # no wrangler.toml here: every target is named
. "$ROOT/tests/conformance/wrangler_lib.sh"

sfx=$$
B1="conf-r2-$sfx" BEU="conf-eu-$sfx"

# ---- R2 buckets ---------------------------------------------------------
wr r2 bucket create "$B1" --location weur --storage-class InfrequentAccess
ok; has "Created bucket '$B1' with location hint weur and default storage class of InfrequentAccess"
wr r2 bucket create "$BEU" -J eu
ok; has "Created bucket '$BEU (eu)'"; has "storage class of Standard"
wr r2 bucket create "$B1"
fails; has "10004"
wr r2 bucket list
ok; has "name:           $B1"; lacks "$BEU"
wr r2 bucket list -J eu
ok; has "name:           $BEU"; lacks "$B1"

# ---- R2 lifecycle -------------------------------------------------------
wr r2 bucket lifecycle list "$B1"
ok; has "name:     Default Multipart Abort Rule"; has "Abort incomplete multipart uploads after 7 days"
wr r2 bucket lifecycle add "$B1" expire-logs logs/ --expire-days 30 -y
ok; has "Added lifecycle rule 'expire-logs' to bucket '$B1'"
wr r2 bucket lifecycle add "$B1" to-ia archive/ --ia-transition-days 60 -y
ok; has "Added lifecycle rule 'to-ia' to bucket '$B1'"
wr r2 bucket lifecycle add "$BEU" eu-expire --expire-date 2030-01-01 -J eu -y
ok; has "Added lifecycle rule 'eu-expire' to bucket '$BEU'"
wr r2 bucket lifecycle list "$B1"
ok; has "Default Multipart Abort Rule"; has "name:     expire-logs"; has "prefix:   logs/"
has "Expire objects after 30 days"; has "name:     to-ia"; has "Transition to Infrequent Access after 60 days"
wr r2 bucket lifecycle list "$BEU" -J eu
ok; has "name:     eu-expire"; has "prefix:   (all prefixes)"; has "Expire objects on 2030-01-01"
wr r2 bucket lifecycle remove "$B1" --name expire-logs
ok; has "Lifecycle rule 'expire-logs' removed from bucket '$B1'"
wr r2 bucket lifecycle list "$B1"
ok; lacks "expire-logs"; has "name:     to-ia"; has "Default Multipart Abort Rule"

# ---- R2 CORS ------------------------------------------------------------
cat >"$WORK/cors.json" <<'EOF'
{"rules":[{"allowed":{"origins":["https://app.example.com"],"methods":["GET","PUT"],"headers":["x-upload-id"]},"exposeHeaders":["ETag"],"maxAgeSeconds":3600}]}
EOF
wr r2 bucket cors list "$B1"
fails; has "The CORS configuration does not exist. [code: 10059]"
wr r2 bucket cors set "$B1" --file "$WORK/cors.json" -y
ok; has "Set CORS configuration for bucket '$B1'"
wr r2 bucket cors list "$B1"
ok; has "allowed_origins:  https://app.example.com"; has "allowed_methods:  GET, PUT"
has "allowed_headers:  x-upload-id"; has "exposed_headers:  ETag"; has "max_age_seconds:  3600"
wr r2 bucket cors set "$BEU" --file "$WORK/cors.json" -J eu -y
ok; has "Set CORS configuration for bucket '$BEU'"
wr r2 bucket cors list "$BEU" -J eu
ok; has "allowed_origins:  https://app.example.com"
wr r2 bucket cors delete "$B1" -y
ok; has "CORS configuration deleted for bucket '$B1'"
wr r2 bucket cors list "$B1"
fails; has "[code: 10059]"

# ---- R2 delete ----------------------------------------------------------
emu POST "/__emu/r2/$B1/objects" '[{"key":"logs/a.txt","size":12}]' >/dev/null
wr r2 bucket delete "$B1"
fails; has "[code: 10008]"
emu DELETE "/__emu/r2/$B1/objects" >/dev/null
wr r2 bucket delete "$B1"
ok; has "Deleted bucket $B1."
wr r2 bucket delete "$BEU" -J eu
ok; has "Deleted bucket $BEU (eu)."
wr r2 bucket list
ok; lacks "$B1"
wr r2 bucket list -J eu
ok; lacks "$BEU"
wr r2 bucket delete "$B1"
fails; has "[code: 10006]"

# ---- KV namespaces ------------------------------------------------------
T1="conf-kv-$sfx" T2="conf-kv-renamed-$sfx"
wr kv namespace create "$T1"
ok; has "Creating namespace with title \"$T1\""; has "Success!"
NS=$(grep -o '"id": "[0-9a-f]\{32\}"' <<<"$OUT" | grep -o '[0-9a-f]\{32\}' | head -1)
[ -n "$NS" ] || bad "no namespace id in the output"
wr kv namespace create "$T1" # wrangler says this only on error code 10014
fails; has "A KV namespace with the title \"$T1\" already exists."
wr kv namespace list
ok; json "any(n['id'] == '$NS' and n['title'] == '$T1' for n in d)"
wr kv namespace rename "$T1" --new-name "$T2"
ok; has "Successfully renamed namespace to \"$T2\""
wr kv namespace list
ok; json "any(n['id'] == '$NS' and n['title'] == '$T2' for n in d) and not any(n['title'] == '$T1' for n in d)"

# ---- KV keys ------------------------------------------------------------
wr kv key put greeting hello --namespace-id "$NS" --metadata '{"owner":"conformance","n":1}' --ttl 3600 --remote
ok; has "Writing the value \"hello\" to key \"greeting\""
wr kv key put "dir/a key?x=1" "value two" --namespace-id "$NS" --remote
ok; has "to key \"dir/a key?x=1\""
wr kv key put expiring soon --namespace-id "$NS" --ttl 30 --remote
fails; has "[code: "
wr kv key get greeting --namespace-id "$NS" --text --remote
ok; [ "$OUT" = "hello" ] || bad "value is '$OUT', want 'hello'"
wr kv key get "dir/a key?x=1" --namespace-id "$NS" --text --remote
ok; [ "$OUT" = "value two" ] || bad "value is '$OUT', want 'value two'"
wr kv key list --namespace-id "$NS" --remote
ok; json "sorted(k['name'] for k in d) == ['dir/a key?x=1', 'greeting']"
json "[k for k in d if k['name'] == 'greeting'][0]['metadata'] == {'owner': 'conformance', 'n': 1}"
json "abs([k for k in d if k['name'] == 'greeting'][0]['expiration'] - (now + 3600)) < 300"
json "'expiration' not in [k for k in d if k['name'] == 'dir/a key?x=1'][0]"
wr kv key list --namespace-id "$NS" --prefix dir/ --remote
ok; json "[k['name'] for k in d] == ['dir/a key?x=1']"

# ---- KV bulk ------------------------------------------------------------
cat >"$WORK/bulk.json" <<'EOF'
[{"key":"b1","value":"one"},
 {"key":"b2","value":"dHdv","base64":true,"metadata":{"n":2}},
 {"key":"b3","value":"three","expiration_ttl":600}]
EOF
echo '["b1","b2"]' >"$WORK/bulk-delete.json"
wr kv bulk put "$WORK/bulk.json" --namespace-id "$NS" --remote
ok; has "Success!"
wr kv key get b2 --namespace-id "$NS" --text --remote
ok; [ "$OUT" = "two" ] || bad "value is '$OUT', want 'two' (base64-decoded)"
wr kv key list --namespace-id "$NS" --prefix b --remote
ok; json "[k['name'] for k in d] == ['b1', 'b2', 'b3']"
json "d[1].get('metadata') == {'n': 2} and abs(d[2]['expiration'] - (now + 600)) < 300"
wr kv bulk delete "$WORK/bulk-delete.json" --namespace-id "$NS" --remote -f
ok; has "Success!"
wr kv key list --namespace-id "$NS" --prefix b --remote
ok; json "[k['name'] for k in d] == ['b3']"
wr kv key delete greeting --namespace-id "$NS" --remote
ok; has "Deleting the key \"greeting\""
wr kv key get greeting --namespace-id "$NS" --text --remote
fails; has "404"
wr kv namespace delete --namespace-id "$NS" -y
ok; has "Deleted KV namespace id: \"$NS\""
wr kv namespace list
ok; json "not any(n['id'] == '$NS' for n in d)"

# ---- Worker script secrets ----------------------------------------------
# The script itself is uploaded straight to cfemu: the schema subset (and so
# Prism) covers only the secrets routes, not script upload.
SCRIPT="conf-worker-$sfx"
curl -sS -o /dev/null -X PUT -H "Authorization: Bearer $CF_TOKEN" \
  -F 'metadata={"main_module":"index.js","compatibility_date":"2025-01-01"};type=application/json' \
  -F 'index.js=export default { fetch() { return new Response("ok"); } };filename=index.js;type=application/javascript+module' \
  "$EMU_URL/accounts/$CF_ACCOUNT/workers/scripts/$SCRIPT"
wr --stdin 's3cr3t-value' secret put API_KEY --name "$SCRIPT"
ok; has "Success! Uploaded secret API_KEY"
vals=$(curl -sS "$EMU_URL/__emu/secret-values")
python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["workers"]["'"$SCRIPT"'"]["API_KEY"] == "s3cr3t-value" else 1)' <<<"$vals" ||
  bad "cfemu did not store the value wrangler sent: $vals"
wr --stdin 'other-value' secret put DB_URL --name "$SCRIPT"
ok; has "Success! Uploaded secret DB_URL"
wr secret list --name "$SCRIPT"
ok; json "sorted((s['name'], s['type']) for s in d) == [('API_KEY', 'secret_text'), ('DB_URL', 'secret_text')]"
lacks "s3cr3t-value"
wr secret delete API_KEY --name "$SCRIPT"
ok; has "Success! Deleted secret API_KEY"
wr secret list --name "$SCRIPT"
ok; json "[s['name'] for s in d] == ['DB_URL']"
wr secret delete API_KEY --name "$SCRIPT"
fails; has "[code: 10056]"
wr secret list --name "no-such-worker-$sfx" # only on code 10007 (or 10090)
fails; has "Worker \"no-such-worker-$sfx\" not found."

# ---- Secrets Store ------------------------------------------------------
STORE="conf-store-$sfx"
wr secrets-store store create "$STORE" --remote
ok; has "Created store! (Name: $STORE, ID: "
SID=$(grep -o 'ID: [0-9a-f]\{32\}' <<<"$OUT" | grep -o '[0-9a-f]\{32\}' | head -1)
[ -n "$SID" ] || bad "no store id in the output"
wr secrets-store store list --remote
ok; has "$STORE"; has "$SID"; has "$CF_ACCOUNT"
wr secrets-store secret create "$SID" --name DB_PASSWORD --value hunter2-value --scopes workers --comment conformance --remote
ok; has "Created secret! (ID: "; lacks "hunter2-value"
XID=$(grep -o 'Created secret! (ID: [0-9a-f]\{32\}' <<<"$OUT" | grep -o '[0-9a-f]\{32\}')
[ -n "$XID" ] || bad "no secret id in the output"
wr secrets-store secret list "$SID" --remote
ok; has "DB_PASSWORD"; has "$XID"; has "conformance"; has "workers"; has "active"; lacks "hunter2-value"
wr secrets-store secret delete "$SID" --secret-id "$XID" --remote
ok; has "Deleted secret! (ID: $XID)"
wr secrets-store secret list "$SID" --remote
fails; has "List request returned no secrets."
finish

echo "wrangler: $((passed + failed)) commands checked, $failed failed"
echo "$passed $failed" >"$RESULT"
[ "$failed" -eq 0 ]
