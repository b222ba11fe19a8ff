#!/usr/bin/env bash
# schema/cfstorage.schema.json, the JSON Schema (2020-12) editors use through the
# yaml-language-server modeline, checked against the manifest fixtures (issue 8):
# every document of tests/data/manifest/valid/*.yaml and manifests/examples/*.yaml
# passes; the invalid fixtures in tests/schema/expressible.txt fail it where
# cfstorage reports them; those in tests/schema/not-expressible.txt (with the
# reason) are refused by the YAML parser or pass; every invalid fixture is in
# exactly one list. The validator is Ajv and the YAML parser is yaml, both
# pinned in tests/package-lock.json (installed by `make deps`).
# Env: SCHEMA_VERBOSE=1 lists every case. BIN is not used (no binary needed).
# Ends with "schema: N passed, M failed".
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NM="$ROOT/tests/node_modules"

missing() {
  echo "schema: $1; run 'make deps' (npm ci in tests/)"
  echo "schema: 0 passed, 1 failed"
  exit 1
}
command -v node >/dev/null 2>&1 || missing "node is missing"
for pkg in ajv yaml; do
  [ -f "$NM/$pkg/package.json" ] || missing "$NM/$pkg is missing"
done

exec node "$ROOT/tests/schema/check.mjs" "$ROOT"
