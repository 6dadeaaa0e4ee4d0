# The layout keeps its promises (README, "Layout"): each folder of
# bangerd/ is one process's room and includes no other room's header;
# the code that runs as root (make tcb) calls no worker's function but
# the roles' event loops, entered after the sandbox; no source file is
# over the size a reader takes in at once; and the root figure the
# README and banger-privileges(7) give is the one make tcb prints.
. "$TOP/regress/lib/lib.sh"

OBJDIR=${OBJDIR:-obj}
B=$TOP/$OBJDIR/build
TMPD=$(mktemp -d /tmp/banger-layout.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT
cd "$TOP" || exit 1

ROOMS="parent vm net update pull shared"
oneline() { tr '\n' ' ' | sed 's/ $//'; }
MAXLINES=1200

# --- rooms: every file in one, and no include across them --------------

stray=$(find bangerd -maxdepth 1 -type f ! -name roles.c | sort | oneline)
if [ -z "$stray" ]; then
	pass "layout: bangerd/ holds the rooms and roles.c, nothing else"
else
	fail "layout: bangerd/ holds the rooms and roles.c, nothing else" \
	    "outside a room: $stray"
fi
for d in bangerd/*/; do
	r=$(basename "$d")
	case " $ROOMS " in
	*" $r "*) ;;
	*)	fail "layout: bangerd/$r is a known room" \
		    "not one of: $ROOMS" ;;
	esac
done

# A quoted include resolves in the file's own room, then in shared/ or
# common/ (-Ibangerd/shared -Icommon); pubkey.h is generated.
bad=
for r in $ROOMS; do
	for f in bangerd/$r/*.[chy]; do
		for h in $(sed -n 's/^#[ 	]*include[ 	]*"\([^"]*\)".*/\1/p' \
		    "$f"); do
			if [ "$h" = pubkey.h ]; then
				continue
			fi
			case $h in
			*/*)	bad="$bad $f:$h" ;;
			*)	if [ -f "bangerd/$r/$h" ] ||
				    [ -f "bangerd/shared/$h" ] ||
				    [ -f "common/$h" ]; then
					:
				else
					bad="$bad $f:$h"
				fi
				if [ "$r" = shared ] &&
				    [ ! -f "bangerd/shared/$h" ] &&
				    [ ! -f "common/$h" ]; then
					bad="$bad $f:$h"
				fi ;;
			esac
		done
	done
done
if [ -z "$bad" ]; then
	pass "layout: no room includes another room's header"
else
	fail "layout: no room includes another room's header" \
	    "across rooms:$bad"
fi

# Each room's tests are in regress/ROOM; make check ROOMS= takes only
# rooms, and says which it does not know.
for r in parent vm net update pull; do
	if ls "regress/$r/"*.sh >/dev/null 2>&1; then
		pass "layout: regress/$r holds the $r room's tests"
	else
		fail "layout: regress/$r holds the $r room's tests" "none there"
	fi
done
out=$(make -s -n -C "$TOP" check ROOMS="vm nosuch" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && expr "$out" : '.*ROOMS names no such room: nosuch' \
    >/dev/null; then
	pass "layout: make check ROOMS= refuses a room it does not know, naming it"
else
	fail "layout: make check ROOMS= refuses a room it does not know, naming it" \
	    "exit $rc: $(echo "$out" | tail -n 1)"
fi

# --- sizes -------------------------------------------------------------

big=$(wc -l bangerd/*/*.[ch] bangerd/roles.c common/*.[ch] bangerctl/*.[ch] |
    awk -v m="$MAXLINES" '$2 != "total" && $1 > m { printf " %s (%d)", $2, $1 }')
if [ -z "$big" ]; then
	pass "layout: no source file over $MAXLINES lines (the grammar aside)"
else
	fail "layout: no source file over $MAXLINES lines (the grammar aside)" \
	    "over:$big"
fi

# --- the root base calls into no worker --------------------------------

if [ ! -f "$B/bangerd/parent/bangerd.o" ]; then
	skip "layout: root code calls no worker's function" \
	    "no objects in $B (run make first)"
	skip "layout: the root figure in the docs" "no objects in $B"
	t_done
fi
# The root objects as make tcb counts them; every other object of the
# workers' rooms runs sandboxed.
sh scripts/tcb.sh -o "$OBJDIR" >"$TMPD/rootobjs" ||
    fail "layout: make tcb names the root objects" "scripts/tcb.sh -o failed"
rootobjs=$(cat "$TMPD/rootobjs")
workobjs=$(ls "$OBJDIR"/build/bangerd/vm/*.o "$OBJDIR"/build/bangerd/net/*.o \
    "$OBJDIR"/build/bangerd/update/*.o "$OBJDIR"/build/bangerd/pull/*.o |
    grep -vxF -f "$TMPD/rootobjs")
# shellcheck disable=SC2086
nm -u --format=posix $rootobjs | awk '{ print $1 }' | sort -u >"$TMPD/need"
# shellcheck disable=SC2086
nm -g --defined-only --format=posix $workobjs | awk '{ print $1 }' |
    sort -u >"$TMPD/work"
called=$(comm -12 "$TMPD/need" "$TMPD/work" | oneline)
if [ "$called" = "net_worker pull_worker update_worker vm_provisioner vm_worker" ]; then
	pass "layout: root code calls no worker's function but the four event loops and the provisioner's"
else
	fail "layout: root code calls no worker's function but the four event loops and the provisioner's" \
	    "it calls: $called"
fi

# --- each program loads only the libraries its room uses ---------------

# The root-only libraries (bridge, taps, nftables, device-mapper) are in
# the parent alone, and the net worker, which serves DNS, has neither
# libcurl nor jansson: a worker linked like the parent would list them.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | oneline; }
# lacks NAME PROGRAM PATTERN: PROGRAM loads libraries, none of them
# libPATTERN (an extended regular expression).
lacks() {
	local libs bad
	libs=$(needed "$OBJDIR/$2")
	bad=$(echo " $libs " | grep -oE " lib($3)[^ ]*" | oneline)
	if [ -n "$libs" ] && [ -z "$bad" ]; then
		pass "layout: $1"
	else
		fail "layout: $1" "it needs: ${bad:-nothing it should not} (all: ${libs:-none read})"
	fi
}
for p in bangerd-vm bangerd-net bangerd-update bangerd-pull; do
	lacks "$p loads no root-only library" "$p" 'nl-[a-z-]*3|nftables|devmapper'
done
lacks "bangerd-net loads neither libcurl, jansson, libext2fs nor libsodium" \
    bangerd-net 'curl|jansson|ext2fs|sodium'
lacks "bangerd (the parent) loads neither ldns, libext2fs nor libcurl (curlurl.c loads it at the first update)" \
    bangerd 'ldns|ext2fs|curl'
# ... and has no curl_* in its dynamic symbol table: curlurl.c's stand-ins
# are not exported, so a libcurl loaded later binds its calls to itself.
dyn=$(nm -D "$OBJDIR/bangerd" 2>&1 | grep -i curl | oneline)
expect_eq "layout: bangerd imports or exports no curl_* symbol" "$dyn" ""
# The vm worker loads libcurl once its provisioner is forked
# (curlload.c), so the provisioner and its disk children map none of it.
lacks "bangerd-vm loads neither libcurl nor OpenSSL (curlload.c loads them after the provisioner's fork)" \
    bangerd-vm 'curl|ssl|crypto'
dyn=$(nm -D "$OBJDIR/bangerd-vm" 2>&1 | grep -i 'curl\|openssl' | oneline)
expect_eq "layout: bangerd-vm imports or exports no curl_* or OpenSSL symbol" "$dyn" ""

# --- the figure the docs give ------------------------------------------

sh scripts/tcb.sh "$OBJDIR" >"$TMPD/tcb" 2>&1 ||
    fail "layout: make tcb runs" "$(tail -n 1 "$TMPD/tcb")"
files=$(sed -n 's/^\([0-9]*\) files, \([0-9]*\) lines.*/\1/p' "$TMPD/tcb")
lines=$(sed -n 's/^\([0-9]*\) files, \([0-9]*\) lines.*/\2/p' "$TMPD/tcb")
if [ -z "$files" ] || [ -z "$lines" ]; then
	fail "layout: make tcb prints its total" "$(tail -n 1 "$TMPD/tcb")"
	t_done
fi
pass "layout: make tcb prints $files files, $lines lines"
# The docs round to the hundred: "NN files and about N,N00 lines".
for doc in README man/banger-privileges.7; do
	said=$(tr -s ' \n' '  ' <"$doc" | sed 's/\\f[BIR]//g' |
	    grep -o '[0-9][0-9]* files and about [0-9,]* lines run as root' |
	    head -n 1 | awk '{ print $1, $5 }')
	sf=${said% *}
	sl=$(echo "${said#* }" | tr -d ,)
	if [ -z "$said" ]; then
		fail "layout: $doc gives the root figure" \
		    "no \"N files and about N lines run as root\""
	elif [ "$sf" -eq "$files" ] &&
	    [ $((sl - lines)) -le 100 ] && [ $((lines - sl)) -le 100 ]; then
		pass "layout: $doc gives the root figure ($sf files, about $sl lines)"
	else
		fail "layout: $doc gives the root figure" \
		    "it says $sf files and about $sl lines; make tcb: $files files, $lines lines"
	fi
done
t_done
