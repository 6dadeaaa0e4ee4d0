# The man pages are clean mdoc, and the documented defaults match the code.
. "$TOP/regress/lib/lib.sh"

for m in "$TOP"/man/*.[0-9]; do
	out=$(mandoc -Tlint -W warning "$m" 2>&1)
	expect_eq "docs: mandoc -Tlint is clean on $(basename "$m")" "$out" ""
done

# Defaults in bangerd.conf.5 against config.h.
h=$TOP/bangerd/config.h
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

t_done
