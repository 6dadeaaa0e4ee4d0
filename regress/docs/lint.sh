# The man pages are clean mdoc, the documented defaults match the code,
# and make, the README, the pages and CI run each script of the tree
# with the interpreter its #! line names.
. "$TOP/regress/lib/lib.sh"

for m in "$TOP"/man/*.[0-9]; do
	out=$(mandoc -Tlint -W warning "$m" 2>&1)
	expect_eq "docs: mandoc -Tlint is clean on $(basename "$m")" "$out" ""
done

# Defaults in bangerd.conf.5 against config.h.
h=$TOP/bangerd/shared/config.h
m=$TOP/man/bangerd.conf.5
for d in BANGER_STATEDIR BANGER_SOCKET BANGER_SOCKGROUP BANGER_USER \
    BANGER_BRIDGE BANGER_BRIDGE_ADDR BANGER_DOMAIN BANGER_FIRECRACKER; do
	v=$(sed -n "s/^#define[	 ]*$d[	 ]*\"\(.*\)\".*/\1/p" "$h")
	if [ -n "$v" ] && grep -qF -- "$v" "$m"; then
		pass "docs: bangerd.conf.5 gives the default $d ($v)"
	else
		fail "docs: bangerd.conf.5 gives the default $d" \
		    "'$v' not found in $m"
	fi
done

# "INTERPRETER path" and "./path" where path is a script of the tree:
# the interpreter must be the one its #! line names (sh runs a bash
# script as dash, which fails at the first bashism), and a script run
# by itself must have a #! line and be executable.
interp_of() {
	sed -n '1s/^#![	 ]*//p' "$1" |
	    awk '{ print ($1 ~ /\/env$/) ? $2 : $1 }' | sed 's,.*/,,'
}
nscripts=0
for f in "$TOP/Makefile" "$TOP/README" "$TOP"/man/*.[0-9] "$TOP/.ci/run"; do
	[ -f "$f" ] || continue
	rel=${f#"$TOP"/}
	while read -r interp script; do
		# Not there, or a program built here: not a script.
		[ -f "$TOP/$script" ] || continue
		[ "$(head -c 4 "$TOP/$script" | tail -c 3)" = ELF ] && continue
		nscripts=$((nscripts + 1))
		want=$(interp_of "$TOP/$script")
		if [ "$interp" = "." ]; then
			if [ -n "$want" ] && [ -x "$TOP/$script" ]; then
				pass "docs: $rel runs $script by itself ($want)"
			else
				fail "docs: $rel runs $script by itself" \
				    "no #! line, or not executable"
			fi
		else
			expect_eq "docs: $rel runs $script with its #! interpreter" \
			    "$interp" "$want"
		fi
	done <<EOF
$(grep -Eo '(^|[[:space:]@;&|(`$])((sh|bash|dash|ksh|zsh|python3|perl)[[:space:]]+|\./)[a-z][^[:space:];&|)`]*' "$f" |
    sed -E 's/^[[:space:]@;&|(`$]*//; s,^\./,. ,' | sort -u)
EOF
done
if [ "$nscripts" -gt 0 ]; then
	pass "docs: $nscripts script runs checked for their interpreter"
else
	fail "docs: script runs checked for their interpreter" "none found"
fi

t_done
