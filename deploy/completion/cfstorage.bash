# bash completion for cfstorage. `make install` puts it where bash-completion
# finds it (share/bash-completion/completions/cfstorage); or source it.
# The candidates come from the binary itself (`cfstorage __complete WORD...`:
# commands, each command's flags, -o formats, kinds, and the names of the
# resources in the -f manifests already on the line); when it offers none,
# bash completes file names.
_cfstorage() {
	local out
	COMPREPLY=()
	# bash splits "--kind=K" into "--kind" "=" "K"; __complete joins them again
	out=$(command "${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return 0
	[ -n "$out" ] || return 0
	mapfile -t COMPREPLY <<< "$out"
}
complete -o default -F _cfstorage cfstorage
