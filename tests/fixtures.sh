#!/usr/bin/env bash
# Manifest fixtures: runs `cfstorage validate` on every case under
# tests/data/manifest/{valid,invalid,hostile} (a .yaml file or a directory) and
# compares its output with the golden NAME.out beside it; valid cases must exit
# 0, the others 3. Hostile cases must also be refused in under 1 s and 64 MB
# (checked on the plain build; sanitizers change both). Two hostile inputs are
# generated here rather than committed: a 17 MiB file and a 100 MB scalar on
# stdin.
#   tests/fixtures.sh BINDIR [--update]
set -u
bindir=$(cd "$1" && pwd) update=${2:-}
cfs="$bindir/cfstorage"
cd "$(dirname "$0")/data/manifest"
pass=0 fail=0
plain=0; [ "${FLAVOUR:-plain}" = plain ] && plain=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# check NAME EXPECTED_EXIT HOSTILE OUTFILE -- command...
check() {
  local name=$1 want=$2 hostile=$3 golden=$4; shift 5
  local got rc secs kb
  if [ "$hostile" = 1 ] && [ $plain = 1 ] && [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$tmp/time" -f '%e %M' "$@" >"$tmp/out" 2>&1; rc=$?
    read -r secs kb < <(tail -n1 "$tmp/time")
    if awk -v s="$secs" 'BEGIN{exit !(s >= 1.0)}' || [ "$kb" -ge 65536 ]; then
      echo "FAIL $name: took ${secs}s and ${kb} KB (limits: 1 s, 64 MB)"; fail=$((fail+1)); return
    fi
  else
    "$@" >"$tmp/out" 2>&1; rc=$?
  fi
  if [ -n "$update" ]; then
    cp "$tmp/out" "$golden"
  elif ! diff -u "$golden" "$tmp/out" >"$tmp/diff" 2>&1; then
    echo "FAIL $name: output differs from $golden"; cat "$tmp/diff"; fail=$((fail+1)); return
  fi
  if [ "$rc" != "$want" ]; then
    echo "FAIL $name: exit $rc, want $want"; fail=$((fail+1)); return
  fi
  pass=$((pass+1))
}

for group in valid invalid hostile; do
  want=3; [ $group = valid ] && want=0
  hostile=0; [ $group = hostile ] && hostile=1
  for c in "$group"/*; do
    case "$c" in *.out) continue ;; esac
    [ -d "$c" ] || [ "${c%.yaml}" != "$c" ] || continue
    check "$c" $want $hostile "${c%.yaml}.out" -- "$cfs" validate -f "$c"
  done
done

# generated hostile inputs (goldens under hostile/generated-*.out)
head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'a' > "$tmp/big-file.yaml"
check hostile/generated-big-file 3 1 hostile/generated-big-file.out -- \
  sh -c "cd \"$tmp\" && exec \"$cfs\" validate -f big-file.yaml"
python3 -c 'import sys; sys.stdout.write("apiVersion: cfstorage.dev/v1alpha1\nkind: KVNamespace\nmetadata: {name: a}\nspec:\n  entries:\n    - key: k\n      value: "); sys.stdout.flush(); [sys.stdout.write("x" * 1048576) for _ in range(100)]' 2>/dev/null > "$tmp/stdin.yaml"
check hostile/generated-stdin-100mb 3 1 hostile/generated-stdin-100mb.out -- sh -c "exec \"$cfs\" validate -f - < \"$tmp/stdin.yaml\""

echo "manifest fixtures: $pass passed, $fail failed"
[ "$fail" = 0 ]
