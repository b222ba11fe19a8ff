#!/usr/bin/env bash
# Packaging: `make install DESTDIR=... PREFIX=/usr` puts both binaries, the man
# pages cfstorage(1) and cfemu(1) and the bash and zsh completion in place; the
# pages render without a warning and say what --help says (and the README's
# exit status table); the completion scripts parse, and their candidates
# (commands, flags, -o formats, kinds, names from -f) come back through them.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
BIN=$(cd "${BIN:-bin}" && pwd)
. tests/lib/common.sh
dest=$tmp/root
usr=$dest/usr

# The binaries of this flavour, as they are (no rebuild).
make -C "$root" --no-print-directory install DESTDIR="$dest" PREFIX=/usr INSTALL_FROM="$BIN" \
	> "$tmp/make.out" 2>&1 || { cat "$tmp/make.out"; fail "make install failed"; }
ok
for f in bin/cfstorage bin/cfemu; do
	[ -x "$usr/$f" ] || fail "$f not installed"; ok
done
for f in share/man/man1/cfstorage.1 share/man/man1/cfemu.1 \
	share/bash-completion/completions/cfstorage share/zsh/site-functions/_cfstorage; do
	[ -s "$usr/$f" ] || fail "$f not installed"; ok
	[ "$(stat -c %a "$usr/$f")" = 644 ] || fail "$f: mode $(stat -c %a "$usr/$f"), want 644"; ok
done
"$usr/bin/cfstorage" --version | grep -q '^cfstorage ' || fail "installed cfstorage does not run"; ok

# The pages render, with every groff warning on, and man(1) says nothing on stderr.
for page in cfstorage cfemu; do
	f=$usr/share/man/man1/$page.1
	w=$(groff -man -Tutf8 -ww -z "$f" 2>&1)
	[ -z "$w" ] || fail "groff warns on $page.1: $w"; ok
	MANWIDTH=80 man -l "$f" > "$tmp/$page.txt" 2> "$tmp/$page.err" || fail "man -l $page.1 failed"; ok
	[ ! -s "$tmp/$page.err" ] || fail "man -l $page.1: $(cat "$tmp/$page.err")"; ok
done
for s in NAME SYNOPSIS DESCRIPTION COMMANDS 'GLOBAL FLAGS' 'EXIT STATUS' ENVIRONMENT FILES 'SEE ALSO'; do
	grep -qx "$s" "$tmp/cfstorage.txt" || fail "cfstorage(1) has no $s section"; ok
done
for v in CLOUDFLARE_API_TOKEN CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_API_BASE_URL NO_COLOR; do
	grep -q "^       $v\$" "$tmp/cfstorage.txt" || fail "cfstorage(1) ENVIRONMENT lacks $v"; ok
done
grep -q '\.cfstorage/state\.json' "$tmp/cfstorage.txt" || fail "cfstorage(1) FILES lacks the state"; ok

# One source: every command's usage lines (from --help) are in the synopsis,
# and every flag its help lists is in the page.
norm() { tr -s ' ' | sed 's/^ //'; }
norm < "$tmp/cfstorage.txt" > "$tmp/cfstorage.norm"
while read -r cmd; do
	"$BIN/cfstorage" "$cmd" --help > "$tmp/help" || fail "$cmd --help failed"
	sed -n '1s/^usage: //p' "$tmp/help" | norm > "$tmp/u"
	grep -qxF -f "$tmp/u" "$tmp/cfstorage.norm" || fail "cfstorage(1) lacks the usage of $cmd: $(cat "$tmp/u")"; ok
	awk '/^  -/ { s = substr($0, 3); i = index(s, "  "); print (i ? substr(s, 1, i - 1) : s) }' \
		"$tmp/help" | while read -r flag; do
		grep -qF -- "$flag" "$tmp/cfstorage.norm" || fail "cfstorage(1) lacks $cmd's '$flag'"
	done || exit 1
	ok
done < <("$BIN/cfstorage" __complete '')
[ "$("$BIN/cfstorage" __complete '' | wc -l)" = 9 ] || fail "expected 9 commands"; ok
grep -qF "cfemu --listen 127.0.0.1:PORT" "$tmp/cfemu.txt" || fail "cfemu(1) lacks the synopsis"; ok
grep -qF "$("$BIN/cfemu" --help | grep -o "token '[^']*'")" "$tmp/cfemu.txt" || fail "cfemu(1) lacks the default token"; ok

# The exit status section says what the README's table says, cell by cell.
"$BIN/cfstorage" --man | sed 's/\\-/-/g' > "$tmp/man.roff"
cells=0
while IFS= read -r cell; do
	grep -qxF -- "$cell" "$tmp/man.roff" || fail "cfstorage(1) EXIT STATUS lacks the README's '$cell'"
	cells=$((cells+1))
done < <(sed -n '/^| exit |/,/^$/p' README.md | tail -n +3 | grep '^|' |
	awk -F'|' '{for (i = 3; i < NF; i++) print $i}' | sed 's/^ *//; s/ *$//; s/`//g' | grep -v '^—$')
[ "$cells" -ge 12 ] || fail "read only $cells cells of the README's exit table"; ok

# The completion scripts parse.
bash -n "$usr/share/bash-completion/completions/cfstorage" || fail "bash -n of the completion"; ok
if command -v zsh >/dev/null 2>&1; then
	zsh -n "$usr/share/zsh/site-functions/_cfstorage" || fail "zsh -n of the completion"; ok
fi

# The engine: __complete WORD... prints the candidates for the last word.
comp() { "$usr/bin/cfstorage" __complete "$@" 2>&1 | tr '\n' ' ' | sed 's/ $//'; }
[ "$(comp plan --pru)" = "--prune" ] || fail "plan --pru: '$(comp plan --pru)'"; ok
[ "$(comp import '')" = "R2Bucket KVNamespace Secret D1Database" ] || fail "import kinds: '$(comp import '')'"; ok
[ "$(comp export --kind '')" = "R2Bucket KVNamespace Secret D1Database" ] || fail "export --kind"; ok
[ "$(comp va)" = "validate" ] || fail "command prefix: '$(comp va)'"; ok
[ "$(comp --local pl)" = "plan" ] || fail "command after a global flag: '$(comp --local pl)'"; ok
[ "$(comp plan -o '')" = "text json markdown" ] || fail "plan -o: '$(comp plan -o '')'"; ok
[ "$(comp export -o '')" = "yaml" ] || fail "export -o: '$(comp export -o '')'"; ok
comp apply -- | grep -qw -- --dry-run || fail "apply flags lack --dry-run"; ok
comp apply --y | grep -qx -- --yes || fail "apply --y does not complete to --yes"; ok
comp plan --no- | grep -qx -- --no-color || fail "plan --no- does not complete to --no-color"; ok
if comp plan -- | grep -qw -- --yes; then fail "plan offers --yes, which it refuses"; fi; ok
grep -qF -- '--no-color' "$tmp/cfstorage.norm" && grep -qF -- '--yes' "$tmp/cfstorage.norm" &&
	grep -qF 'NO_COLOR' "$tmp/cfstorage.norm" || fail "cfstorage(1) lacks --no-color, --yes or NO_COLOR"; ok
if comp plan -- | grep -qw -- --dry-run; then fail "plan offers --dry-run, which it refuses"; fi; ok
# the Secret names declared in manifests/examples, read independently
want=$(python3 - manifests/examples <<'EOF'
import glob, re, sys
names = []
for f in sorted(glob.glob(sys.argv[1] + "/**/*.y*ml", recursive=True)):
    for doc in open(f).read().split("\n---"):
        if re.search(r"^kind:\s*Secret\s*$", doc, re.M):
            m = re.search(r"^metadata:\s*\n(?:\s+#.*\n)*\s+name:\s*(\S+)", doc, re.M)
            names.append(m.group(1))
print(" ".join(names))
EOF
)
[ -n "$want" ] || fail "no Secret in manifests/examples"
[ "$(comp rotate -f manifests/examples '')" = "$want" ] || fail "rotate names: '$(comp rotate -f manifests/examples '')', want '$want'"; ok
[ "$(comp import R2Bucket --filename=manifests/examples '')" = "app-logs build-cache" ] ||
	fail "import R2Bucket names: '$(comp import R2Bucket --filename=manifests/examples '')'"; ok
# quiet on any failure, and never reads standard input
[ -z "$(comp rotate -f "$tmp/nonexistent" '')" ] || fail "a missing -f path is not quiet"; ok
[ -z "$(timeout 5 "$usr/bin/cfstorage" __complete rotate -f - '' 2>&1)" ] || fail "-f - completes"; ok

# Through the bash script itself, as bash-completion calls it.
got=$(bash -c 'source "$1"; COMP_WORDS=("$2" plan --pru); COMP_CWORD=2; _cfstorage; echo "${COMPREPLY[*]}"
	COMP_WORDS=("$2" export --kind =); COMP_CWORD=3; _cfstorage; echo "${COMPREPLY[*]}"
	COMP_WORDS=("$2" apply ""); COMP_CWORD=2; _cfstorage; echo "${#COMPREPLY[@]}"' _ \
	"$usr/share/bash-completion/completions/cfstorage" "$usr/bin/cfstorage")
[ "$got" = $'--prune\nR2Bucket KVNamespace Secret D1Database\n0' ] || fail "bash completion: $got"; ok
# And the zsh one, with compadd and _files stood in for.
if command -v zsh >/dev/null 2>&1; then
	got=$(cd "$root" && zsh -fc 'compadd() { print -r -- "${(@P)2}"; }; _files() { print FILES; }
		words=("$1" rotate -f manifests/examples ""); CURRENT=5; source "$2"
		words=("$1" apply ""); CURRENT=3; source "$2"' _ "$usr/bin/cfstorage" \
		"$usr/share/zsh/site-functions/_cfstorage")
	[ "$got" = "$want"$'\nFILES' ] || fail "zsh completion: $got"; ok
fi

echo "install: $checks passed, 0 failed"
