# The documentation against the code, where the two can drift apart:
# defaults, the unit's capabilities, bangerctl's commands, the workers'
# seccomp lists and the requests the parent answers; the systemd unit and
# the init script themselves.
. "$TOP/regress/lib/lib.sh"

: "${BANGERCTL:?BANGERCTL must name the bangerctl binary}"
: "${BANGERD:?BANGERD must name the bangerd binary}"

MAN=$TOP/man
UNIT=$TOP/etc/bangerd.service
RC=$TOP/etc/rc.bangerd
PRIV=$MAN/banger-privileges.7
TMPD=$(mktemp -d /tmp/banger-drift.XXXXXX)
trap 'rm -rf "$TMPD"' EXIT

# A page as plain text on one line: what a reader sees, whatever the
# macros and line breaks.
flat() { mandoc -Tascii "$1" | sed -e 's/.\x08//g' | tr -s ' \t\n' '   '; }

# A string define of config.h, without its quotes; a number define.
hstr() { sed -n "s/^#define[	 ]*$1[	 ]*\"\(.*\)\".*/\1/p" \
    "$TOP/bangerd/shared/config.h"; }
hnum() { sed -n "s/^#define[	 ]*$1[	 ]*\([0-9][0-9]*\).*/\1/p" \
    "$TOP/bangerd/shared/config.h"; }

# The words between ".\" NAME:begin" and ".\" NAME:end" of a page, sorted,
# taken from its ".Xr WORD 2" lines (KIND xr) or ".It Dv WORD" lines (dv).
region() {
	awk -v b=".\\\\\" $2:begin" -v e=".\\\\\" $2:end" -v k="$3" '
	    $0 == b { on = 1; next }
	    $0 == e { on = 0 }
	    on && k == "xr" && $1 == ".Xr" && $3 ~ /^2/ { print $2 }
	    on && k == "dv" && $1 == ".It" && $2 == "Dv" { print $3 }' "$1" |
	    sort -u
}

# Sets as one line each, for messages.
oneline() { tr '\n' ' ' | sed 's/ $//'; }

#
# Defaults: config.h against the pages that state them.
#
statedir=$(hstr BANGER_STATEDIR)
socket=$(hstr BANGER_SOCKET)
rundir=$(dirname "$socket")
conffile=$(hstr BANGERD_CONF)
defaults="BANGER_STATEDIR=$statedir
BANGER_SOCKET=$socket
BANGER_SOCKGROUP=$(hstr BANGER_SOCKGROUP)
BANGER_USER=$(hstr BANGER_USER)
BANGER_BRIDGE=$(hstr BANGER_BRIDGE)
BANGER_BRIDGE_ADDR/PREFIX=$(hstr BANGER_BRIDGE_ADDR)/$(hnum BANGER_BRIDGE_PREFIX)
BANGER_DOMAIN=$(hstr BANGER_DOMAIN)
BANGER_VM_UID_MIN/MAX=$(hnum BANGER_VM_UID_MIN) to $(hnum BANGER_VM_UID_MAX)"

for page in bangerd.8 bangerd.conf.5 banger-privileges.7; do
	text=$(flat "$MAN/$page")
	while IFS='=' read -r name value; do
		case $value in
		''|*/|' to '*|*' to ')
			fail "drift: $page gives the default $name" \
			    "cannot read $name from config.h"
			continue ;;
		esac
		case $text in
		*"$value"*)
			pass "drift: $page gives the default $name ($value)" ;;
		*)
			fail "drift: $page gives the default $name" \
			    "'$value' not found" ;;
		esac
	done <<EOF
$defaults
EOF
done
for page in bangerd.8 bangerd.conf.5; do
	v=$(hstr BANGER_FIRECRACKER)
	case $(flat "$MAN/$page") in
	*"$v"*)	pass "drift: $page gives the default BANGER_FIRECRACKER ($v)" ;;
	*)	fail "drift: $page gives the default BANGER_FIRECRACKER" \
		    "'$v' not found" ;;
	esac
done

# The descriptor limits the pages give, and the unit's, against the code.
dnum() { sed -n "s/^#define[	 ]*$1[	 ]*\([0-9][0-9]*\).*/\1/p" "$TOP/$2"; }
nbase=$(dnum NOFILE_BASE bangerd/shared/proc.h)
nvm=$(dnum NOFILE_PER_VM_WORKER bangerd/shared/proc.h)
npar=$(dnum NOFILE_PER_VM_PARENT bangerd/shared/proc.h)
vmfixed=$((nbase + $(dnum CONTROL_MAX_CLIENTS bangerd/vm/vm.h) * \
    (1 + $(dnum IMAGE_NFILES common/proto.h))))
netfds=$((nbase + $(dnum DNS_PENDING_MAX bangerd/net/dns.h) + \
    2 * $(dnum DNS_TCP_MAX bangerd/net/dns.h)))
for want in "vm worker may hold $vmfixed plus $nvm per VM" \
    "parent needs $nbase plus $npar per VM"; do
	case $(flat "$MAN/bangerd.conf.5") in
	*"$want"*)	pass "drift: bangerd.conf.5: $want" ;;
	*)		fail "drift: bangerd.conf.5: $want" "not found" ;;
	esac
done
for want in "$vmfixed plus $nvm per VM for vm" "$netfds for net" \
    "$nbase for update"; do
	case $(flat "$PRIV") in
	*"$want"*)	pass "drift: banger-privileges.7: RLIMIT_NOFILE $want" ;;
	*)		fail "drift: banger-privileges.7: RLIMIT_NOFILE $want" \
			    "not found" ;;
	esac
done
unitfds=$(sed -n 's/^LimitNOFILE=//p' "$UNIT")
maxvms=$(hnum BANGER_MAX_VMS)
if [ -n "$unitfds" ] && [ "$unitfds" -ge $((vmfixed + nvm * maxvms)) ]; then
	pass "drift: the unit's LimitNOFILE ($unitfds) holds the default max-vms $maxvms"
else
	fail "drift: the unit's LimitNOFILE holds the default max-vms" \
	    "LimitNOFILE=$unitfds < $((vmfixed + nvm * maxvms))"
fi
case $(flat "$MAN/bangerd.conf.5") in
*"The default is $maxvms"*)
	pass "drift: bangerd.conf.5 gives the default max-vms ($maxvms)" ;;
*)	fail "drift: bangerd.conf.5 gives the default max-vms" \
	    "'The default is $maxvms' not found" ;;
esac

# How long a start waits for Firecracker to listen on its API socket.
ct=$(dnum CONNECT_TIMEOUT bangerd/vm/boot.c)
case $(flat "$MAN/bangerctl.8") in
*"for up to $ct seconds"*"within $ct s"*)
	pass "drift: bangerctl.8 gives the API socket's wait ($ct s)" ;;
*)	fail "drift: bangerctl.8 gives the API socket's wait" \
	    "'for up to ${ct:-?} seconds' ... 'within ${ct:-?} s' not found" ;;
esac

# The boot arguments of an image without boot-args (vm.c), which the
# pages give: a C string, perhaps in pieces over several lines.
bootargs=$(awk '$1 == "#define" && $2 == "DEFAULT_BOOTARGS" { on = 1 }
    on { print; if ($0 !~ /\\$/) exit }' "$TOP/bangerd/vm/vm.c" |
    grep -o '"[^"]*"' | tr -d '"\n')
for page in bangerd.conf.5 bangerctl.8; do
	case $bootargs in
	'')	fail "drift: $page gives the default boot-args" \
		    "cannot read DEFAULT_BOOTARGS from bangerd/vm/vm.c"
		continue ;;
	esac
	case $(flat "$MAN/$page") in
	*"$bootargs"*)
		pass "drift: $page gives the default boot-args ($bootargs)" ;;
	*)	fail "drift: $page gives the default boot-args" \
		    "'$bootargs' not found" ;;
	esac
done

# The default disk size and the boot args' limit the pages give.
gib=$(sed -n 's/^#define[	 ]*BANGER_DEF_DISK[	 ]*(\([0-9][0-9]*\)ULL << 30).*/\1/p' \
    "$TOP/bangerd/shared/config.h")
bootmax=$(( $(hnum BANGER_BOOTARGS_MAX) - 1 ))
for want in "bangerd.conf.5:The default is ${gib}G. A VM created without --disk gets this size, or its image's root file system's if that is larger." \
    "bangerctl.8:Without it, the disk has the default size, disk in the defaults of bangerd.conf(5) (${gib}G unless set there), or the size of the image's root file system if that is larger." \
    "bangerd.conf.5:The kernel command line, at most $bootmax bytes of printable ASCII, 0x20 (space) to 0x7e (tilde)" \
    "bangerctl.8:are at most $bootmax bytes of printable ASCII, 0x20 (space) to 0x7e (tilde)"; do
	page=${want%%:*}
	want=${want#*:}
	case $(flat "$MAN/$page") in
	*"$want"*)	pass "drift: $page: $want" ;;
	*)		fail "drift: $page: $want" "not found (config.h: disk ${gib}G, boot args $bootmax)" ;;
	esac
done
expect_eq "drift: validate.h's boot args limit is config.h's" \
    "$(sed -n 's/^#define[	 ]*VALID_BOOTARGS_MAX[	 ]*\([0-9][0-9]*\).*/\1/p' \
	"$TOP/common/validate.h")" "$bootmax"

# The README's way to run one test gives it what make check does, and
# names stand-ins the Makefile builds.
runone=$(grep -E '^    .*\./regress/run\.sh regress/' "$TOP/README")
for v in $(sed -n '/^TEST_ENV =/,/^$/p' "$TOP/Makefile" |
    grep -Eo '[A-Z]+=' | tr -d =); do
	case $v in
	SANITIZE|VALGRIND)
		# Given in the words around the line: only some runs need them.
		if grep -q "$v=" "$TOP/README"; then
			pass "drift: README says how a test gets $v"
		else
			fail "drift: README says how a test gets $v" "no $v= in README"
		fi ;;
	*)	case $runone in
		*"$v="*) pass "drift: README's one-test command line sets $v" ;;
		*)	fail "drift: README's one-test command line sets $v" \
			    "'$runone'" ;;
		esac ;;
	esac
done
for h in $(grep -Eo 'obj/regress/helpers/[a-z-]+|(fc-standin-[a-z]+|jailer-standin)' \
    "$TOP/README" | sed 's,.*/,,' | sort -u); do
	if grep -qE "\\\$\(OBJDIR\)/regress/helpers/$h( |:|$)" "$TOP/Makefile"
	then
		pass "drift: README's stand-in $h is one make check-build builds"
	else
		fail "drift: README's stand-in $h is one make check-build builds" \
		    "no \$(OBJDIR)/regress/helpers/$h in the Makefile"
	fi
done

# The unit and the init script use the same paths.
expect_eq "drift: the unit's PIDFile is the socket directory's bangerd.pid" \
    "$(sed -n 's/^PIDFile=//p' "$UNIT")" "$rundir/bangerd.pid"
rw=$(sed -n 's/^ReadWritePaths=//p' "$UNIT" | tr ' ' '\n')
if printf '%s\n' "$rw" | grep -qx -- "$statedir" &&
    printf '%s\n' "$rw" | grep -qx -- "$rundir"; then
	pass "drift: the unit may write $statedir and $rundir"
else
	fail "drift: the unit may write $statedir and $rundir" \
	    "ReadWritePaths=$(echo "$rw" | oneline)"
fi
expect_eq "drift: the unit's StateDirectory is the state directory" \
    "/var/lib/$(sed -n 's/^StateDirectory=//p' "$UNIT")" "$statedir"
expect_eq "drift: the unit's RuntimeDirectory is the socket directory" \
    "/run/$(sed -n 's/^RuntimeDirectory=//p' "$UNIT")" "$rundir"
expect_eq "drift: rc.bangerd's default pid file" \
    "$(sed -n 's/^BANGERD_PIDFILE=\${BANGERD_PIDFILE:-\(.*\)}$/\1/p' "$RC")" \
    "$rundir/bangerd.pid"
expect_eq "drift: rc.bangerd's default configuration file" \
    "$(sed -n 's/^BANGERD_CONF=\${BANGERD_CONF:-\(.*\)}$/\1/p' "$RC")" \
    "$conffile"

# bangerd's usage against the synopsis of bangerd.8.
usage=$("$BANGERD" -x 2>&1 | sed -n 's/^usage: //p')
synopsis=$(flat "$MAN/bangerd.8" |
    sed -n 's/.* SYNOPSIS \(bangerd \[.*\]\) DESCRIPTION .*/\1/p')
expect_eq "drift: bangerd.8's synopsis is bangerd's usage" "$synopsis" \
    "$usage"

#
# Capabilities: the unit's bounding set is the list in
# banger-privileges.7.
#
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' |
    grep . | sort -u)
doc_caps=$(region "$PRIV" capabilities dv)
if [ -n "$unit_caps" ] && [ "$unit_caps" = "$doc_caps" ]; then
	pass "drift: the unit's CapabilityBoundingSet is banger-privileges.7's list"
else
	fail "drift: the unit's CapabilityBoundingSet is banger-privileges.7's list" \
	    "unit: $(echo "$unit_caps" | oneline); page: $(echo "$doc_caps" | oneline)"
fi

#
# bangerctl: every command in its table has a section in bangerctl.8,
# and every command the pages and the README show exists.
#
"$BANGERCTL" help >"$TMPD/help" 2>&1
# "  NAME USAGE..." for top-level commands, "  GROUP SUB USAGE" for the
# commands of a group (vm): a group is a name that has such lines.
awk '/^  [a-z]/ { print $1, $2 }' "$TMPD/help" >"$TMPD/pairs"
groups=$(awk 'NR == FNR { n[$1]++; next } n[$1] > 1 { print $1 }' \
    "$TMPD/pairs" "$TMPD/pairs" | sort -u)
tops=$(awk '{ print $1 }' "$TMPD/pairs" | sort -u)
is_group() { printf '%s\n' "$groups" | grep -qx -- "$1"; }
is_top() { printf '%s\n' "$tops" | grep -qx -- "$1"; }
is_sub() { grep -qx -- "$1 $2" "$TMPD/pairs"; }
if [ -z "$tops" ]; then
	fail "drift: bangerctl help lists its commands" "$(head -c 300 "$TMPD/help")"
fi
for t in $tops; do
	if is_group "$t"; then
		for s in $(awk -v g="$t" '$1 == g { print $2 }' "$TMPD/pairs"); do
			case $s in command) continue ;; esac
			if grep -Eq "^\.It (Xo )?Cm $t $s( |$)" "$MAN/bangerctl.8"
			then pass "drift: bangerctl.8 documents $t $s"
			else fail "drift: bangerctl.8 documents $t $s" \
			    "no '.It Cm $t $s' item"; fi
		done
	else
		if grep -Eq "^\.It (Xo )?Cm $t( |$)" "$MAN/bangerctl.8"
		then pass "drift: bangerctl.8 documents $t"
		else fail "drift: bangerctl.8 documents $t" "no '.It Cm $t' item"; fi
	fi
done

# The README's list of commands names each command of a group (a line
# "    bangerctl GROUP ..." with the command among its words).
for t in $groups; do
	for s in $(awk -v g="$t" '$1 == g { print $2 }' "$TMPD/pairs"); do
		case $s in command) continue ;; esac
		if grep -E "^    bangerctl $t " "$TOP/README" |
		    grep -Eq "[ |]$s([ |]|$)"
		then pass "drift: the README lists $t $s"
		else fail "drift: the README lists $t $s" \
		    "no '    bangerctl $t ... $s' line"; fi
	done
done

# Check "bangerctl [options] WORD [WORD]" strings: one per line on stdin.
# Prints those that name no command.
bad_commands() {
	local line w1 w2 rest
	while IFS= read -r line; do
		set -f
		# shellcheck disable=SC2086
		set -- $line
		set +f
		shift	# bangerctl
		while [ $# -gt 0 ]; do
			case $1 in
			-s)	shift; [ $# -gt 0 ] && shift ;;
			\[-s)	while [ $# -gt 0 ] && [ "${1%]}" = "$1" ]; do
					shift; done
				[ $# -gt 0 ] && shift ;;
			-*)	shift ;;
			*)	break ;;
			esac
		done
		w1=${1:-}
		w2=${2:-}
		# Prose, a placeholder or the end of a span: not a command.
		printf '%s' "$w1" | grep -Eq '^[a-z]+$' || continue
		if ! is_top "$w1"; then
			echo "bangerctl $w1"
		elif is_group "$w1" && ! is_sub "$w1" "$w2"; then
			echo "bangerctl $w1 $w2"
		fi
	done
}

# Commands shown in a page: literal displays, .Dl and .Ql lines.
for m in "$MAN"/*.[0-9]; do
	awk '/^\.Bd -literal/ { on = 1; next } /^\.Ed/ { on = 0 }
	    on || /^\.(Dl|Ql) / { print }' "$m" |
	    grep -Eo '(^|[ $(/`])bangerctl( +[^ |;)&`"]+)*' |
	    sed 's/^[ $(\/`]//' >"$TMPD/shown"
	n=$(wc -l <"$TMPD/shown")
	[ "$n" -eq 0 ] && continue
	bad=$(bad_commands <"$TMPD/shown" | sort -u | oneline)
	if [ -z "$bad" ]; then
		pass "drift: the $n bangerctl commands shown in $(basename "$m") exist"
	else
		fail "drift: the bangerctl commands shown in $(basename "$m") exist" \
		    "unknown: $bad"
	fi
done

# Commands shown in the README: indented lines and `quoted spans`.
if [ -f "$TOP/README" ]; then
	{
		grep -E '^    ' "$TOP/README" |
		    grep -Eo '(^|[ $(/])bangerctl( +[^ |;)&`"]+)*'
		tr '\n' ' ' <"$TOP/README" | grep -Eo '`[^`]*`' |
		    grep -Eo '(^|[ $(/`])bangerctl( +[^ |;)&`"]+)*'
	} | sed 's/^[ $(\/`]//' >"$TMPD/shown"
	n=$(wc -l <"$TMPD/shown")
	bad=$(bad_commands <"$TMPD/shown" | sort -u | oneline)
	if [ "$n" -gt 0 ] && [ -z "$bad" ]; then
		pass "drift: the $n bangerctl commands shown in README exist"
	else
		fail "drift: the bangerctl commands shown in README exist" \
		    "found $n; unknown: $bad"
	fi
fi

#
# Seccomp: each allow-list in sandbox.c is the one banger-privileges.7
# gives, and the page gives no list the code lacks.
#
awk '
    /^static const int seccomp_[a-z]+\[\]/ {
	role = $0; sub(/^static const int seccomp_/, "", role)
	sub(/\[.*/, "", role); inarr = 1; san = 0; next }
    inarr && /^#if defined\(__SANITIZE_ADDRESS__\)/ { san = 1; next }
    inarr && /^#endif/ { san = 0; next }
    inarr && /^};/ { inarr = 0; next }
    inarr {
	line = $0
	while (match(line, /SCMP_SYS\([a-z0-9_]+\)/)) {
		name = substr(line, RSTART + 9, RLENGTH - 10)
		print (san ? "sanitizer" : role), name
		line = substr(line, RSTART + RLENGTH)
	} }' "$TOP/bangerd/shared/sandbox.c" >"$TMPD/seccomp"
roles=$(awk '{ print $1 }' "$TMPD/seccomp" | sort -u)
docroles=$(sed -n 's/^\.\\" seccomp-\([a-z]*\):begin$/\1/p' "$PRIV" | sort -u)
if [ -z "$roles" ]; then
	fail "drift: seccomp lists read from sandbox.c" "none found"
fi
for r in $roles; do
	code=$(awk -v r="$r" '$1 == r { print $2 }' "$TMPD/seccomp" | sort -u)
	doc=$(region "$PRIV" "seccomp-$r" xr)
	if [ "$code" = "$doc" ]; then
		pass "drift: banger-privileges.7 lists the $r seccomp allow-list ($(echo "$code" | wc -l) calls)"
	else
		fail "drift: banger-privileges.7 lists the $r seccomp allow-list" \
		    "only in sandbox.c: $(comm -23 <(echo "$code") <(echo "$doc") | oneline); only in the page: $(comm -13 <(echo "$code") <(echo "$doc") | oneline)"
	fi
done
# scmp_array NAME FILE: the calls of FILE's "const int NAME[]".
scmp_array() {
	awk -v want="$1" '$0 ~ "^const int " want "\\[\\]" { on = 1; next }
	    on && /^};/ { on = 0 }
	    on { line = $0
		while (match(line, /SCMP_SYS\([a-z0-9_]+\)/)) {
			print substr(line, RSTART + 9, RLENGTH - 10)
			line = substr(line, RSTART + RLENGTH)
		} }' "$2" | sort -u
}
# What update/fetch.c says a fetch needs is in the update list too.
updcalls=$(scmp_array upd_seccomp_syscalls "$TOP/bangerd/update/fetch.c")
missing=$(comm -23 <(echo "$updcalls") <(region "$PRIV" seccomp-update xr) |
    oneline)
if [ -n "$updcalls" ] && [ -z "$missing" ]; then
	pass "drift: banger-privileges.7's update list has fetch.c's upd_seccomp_syscalls"
else
	fail "drift: banger-privileges.7's update list has fetch.c's upd_seccomp_syscalls" \
	    "missing: ${missing:-none read from fetch.c}"
fi
# The pull worker's list holds what layer.c measured it needs.
laycalls=$(awk '/^const char \*const layer_syscalls\[\]/ { on = 1; next }
    on && /NULL/ { on = 0 }
    on { line = $0
	while (match(line, /"[a-z0-9_]+"/)) {
		print substr(line, RSTART + 1, RLENGTH - 2)
		line = substr(line, RSTART + RLENGTH)
	} }' "$TOP/bangerd/pull/layer.c" | grep -vx ioctl | sort -u)
missing=$(comm -23 <(echo "$laycalls") <(awk '$1 == "common" ||
    $1 == "pull" { print $2 }' "$TMPD/seccomp" | sort -u) | oneline)
if [ -n "$laycalls" ] && [ -z "$missing" ]; then
	pass "drift: sandbox.c's pull list has layer.c's layer_syscalls"
else
	fail "drift: sandbox.c's pull list has layer.c's layer_syscalls" \
	    "missing: ${missing:-none read from layer.c}"
fi
# What pull/registry.c says a registry fetch needs is in the pullnet list.
regcalls=$(scmp_array registry_syscalls "$TOP/bangerd/pull/registry.c")
missing=$(comm -23 <(echo "$regcalls") <(awk '$1 == "common" ||
    $1 == "pull" || $1 == "pullnet" { print $2 }' "$TMPD/seccomp" |
    sort -u) | oneline)
if [ -n "$regcalls" ] && [ -z "$missing" ]; then
	pass "drift: sandbox.c's pull and pullnet lists have registry.c's registry_syscalls"
else
	fail "drift: sandbox.c's pull and pullnet lists have registry.c's registry_syscalls" \
	    "missing: ${missing:-none read from registry.c}"
fi
for r in $docroles; do
	printf '%s\n' "$roles" | grep -qx -- "$r" ||
	    fail "drift: banger-privileges.7's $r seccomp list exists in sandbox.c" \
	    "no seccomp_$r in sandbox.c"
done

#
# Requests: every message the parent answers from a worker (priv.c) is
# in banger-privileges.7, and every message the page names exists.
#
answered=$( { grep -Eo 'case IMSG_[A-Z_]+:' "$TOP/bangerd/parent/priv.c" |
    sed 's/^case //; s/:$//'; echo IMSG_WORKER_READY; } | sort -u)
named=$(grep -Eo 'IMSG_[A-Z_]+' "$PRIV" | sort -u)
missing=$(comm -23 <(echo "$answered") <(echo "$named") | oneline)
if [ -z "$missing" ]; then
	pass "drift: banger-privileges.7 covers the $(echo "$answered" | wc -l) requests the parent answers"
else
	fail "drift: banger-privileges.7 covers the requests the parent answers" \
	    "missing: $missing"
fi
unknown=$(for i in $named; do
	grep -q "^[	 ]*$i[,	 =]" "$TOP/common/proto.h" || echo "$i"; done | oneline)
if [ -z "$unknown" ]; then
	pass "drift: every message banger-privileges.7 names is in proto.h"
else
	fail "drift: every message banger-privileges.7 names is in proto.h" \
	    "not in proto.h: $unknown"
fi

#
# The control socket's limits (vm/vm.h) are the ones the pages give.
#
cnum() { sed -n "s/^#define[	 ]*$1[	 ]*\([0-9][0-9]*\).*/\1/p" \
    "$TOP/bangerd/vm/vm.h"; }
cmax=$(cnum CONTROL_MAX_CLIENTS)
croot=$(cnum CONTROL_ROOT_SLOTS)
cper=$(cnum CONTROL_MAX_PER_UID)
for page in bangerd.8 bangerctl.8 banger-privileges.7; do
	text=$(flat "$MAN/$page")
	for phrase in "at most $cmax clients at once" \
	    "$croot of them kept for root" "at most $cper each"; do
		case $text in
		*"$phrase"*)
			pass "drift: $page gives the control limit \"$phrase\"" ;;
		*)
			fail "drift: $page gives the control limit \"$phrase\"" \
			    "not found (control.c: $cmax clients, $croot for root, $cper per uid)" ;;
		esac
	done
done

#
# Every signal the parent catches (signals.c) is in bangerd.8's SIGNALS.
#
caught=$(awk '/^static const int parent_caught\[\]/ { on = 1; next }
    on && /^};/ { on = 0 }
    on' "$TOP/bangerd/parent/signals.c" | grep -Eo 'SIG[A-Z0-9]+' | sort -u)
documented=$(awk '/^\.Sh SIGNALS/ { on = 1; next } on && /^\.Sh / { on = 0 }
    on' "$MAN/bangerd.8" | grep -Eo 'SIG[A-Z0-9]+' | sort -u)
missing=$(comm -23 <(echo "$caught") <(echo "$documented") | oneline)
if [ -n "$caught" ] && [ -z "$missing" ]; then
	pass "drift: bangerd.8's SIGNALS names the $(echo "$caught" | wc -l) signals signals.c catches"
else
	fail "drift: bangerd.8's SIGNALS names the signals signals.c catches" \
	    "missing: ${missing:-none read from signals.c}"
fi

#
# The systemd unit parses, and its exposure score is what systemd says.
#
if ! command -v systemd-analyze >/dev/null 2>&1; then
	skip "drift: the unit parses (systemd-analyze security)" \
	    "systemd-analyze is not installed"
	skip "drift: the unit passes systemd-analyze verify" \
	    "systemd-analyze is not installed"
else
	systemd-analyze security --offline=yes --no-pager "$UNIT" \
	    >"$TMPD/sec" 2>"$TMPD/sec.err"
	score=$(sed -n 's/.*Overall exposure level for bangerd.service: \([0-9.]* [A-Z]*\).*/\1/p' "$TMPD/sec")
	if [ -s "$TMPD/sec.err" ]; then
		fail "drift: the unit parses (systemd-analyze security)" \
		    "$(tr '\n' ' ' <"$TMPD/sec.err" | cut -c1-300)"
	elif [ -z "$score" ]; then
		fail "drift: the unit parses (systemd-analyze security)" \
		    "no exposure level in its output"
	else
		pass "drift: the unit parses; exposure level $score"
	fi
	# verify can only object that bangerd is not installed here.
	systemd-analyze verify --man=no "$UNIT" 2>&1 |
	    grep -v 'Command /usr/local/sbin/bangerd is not executable' \
	    >"$TMPD/verify"
	if [ -s "$TMPD/verify" ]; then
		fail "drift: the unit passes systemd-analyze verify" \
		    "$(tr '\n' ' ' <"$TMPD/verify" | cut -c1-300)"
	else
		pass "drift: the unit passes systemd-analyze verify (but for the binary's absence)"
	fi
fi

#
# The init script: shell syntax, LSB header and actions; then, as root,
# start, status, reload, restart and stop against a private daemon.
#
check "drift: rc.bangerd is valid sh" sh -n "$RC"
if command -v shellcheck >/dev/null 2>&1; then
	check "drift: rc.bangerd passes shellcheck" shellcheck -s sh "$RC"
else
	skip "drift: rc.bangerd passes shellcheck" "shellcheck is not installed"
fi
hdr=$(sed -n '/^### BEGIN INIT INFO/,/^### END INIT INFO/p' "$RC")
expect_match "drift: rc.bangerd has an LSB header" "$hdr" \
    '# Provides: +bangerd'
for a in start stop restart reload status; do
	expect_match "drift: rc.bangerd handles $a" "$(cat "$RC")" \
	    "^(${a}|[a-z|-]*\|${a}|${a}\|[a-z|-]*)\)"
done

if [ "$(id -u)" -ne 0 ]; then
	skip "drift: rc.bangerd runs the daemon" "needs root"
else
	. "$TOP/regress/lib/daemon.sh"
	daemon_setup
	rc() {
		in_ns env BANGERD="$BANGERD" BANGERD_CONF="$CONF" \
		    BANGERD_FLAGS= BANGERD_PIDFILE="$(dirname "$SOCK")/bangerd.pid" \
		    BANGERD_DEFAULTS=/nonexistent sh "$RC" "$@"
	}
	rc_cleanup() {
		rc stop >/dev/null 2>&1
		daemon_cleanup
		rm -rf "$TMPD"
	}
	trap rc_cleanup EXIT
	# bangerd.8: with or without -d, its pid in bangerd.pid beside the
	# socket, removed when it stops.
	case $(flat "$MAN/bangerd.8") in
	*"With or without -d, it writes its pid to bangerd.pid in the socket's directory, and removes the file when it stops."*)
		pass "drift: bangerd.8 says where the pid file is, -d or not" ;;
	*)	fail "drift: bangerd.8 says where the pid file is, -d or not" \
		    "not found" ;;
	esac
	if daemon_start; then
		expect_eq "drift: bangerd -d writes its pid to bangerd.pid beside the socket" \
		    "$(cat "$(dirname "$SOCK")/bangerd.pid" 2>&1)" "$DPID"
		daemon_stop
		check "drift: ... and removes it when it stops" \
		    test ! -e "$(dirname "$SOCK")/bangerd.pid"
	else
		fail "drift: bangerd -d starts" "$(tail -5 "$DLOG")"
	fi
	out=$(rc status 2>&1); st=$?
	expect_eq "drift: rc.bangerd status of a stopped daemon is 3" "$st" 3
	out=$(rc start 2>&1); st=$?
	expect_eq "drift: rc.bangerd start succeeds" "$st" 0
	pid=$(cat "$(dirname "$SOCK")/bangerd.pid" 2>/dev/null)
	if wait_for 10 daemon_workers_running; then
		pass "drift: rc.bangerd start brings the daemon and its workers up"
	else
		fail "drift: rc.bangerd start brings the daemon and its workers up" "$out"
	fi
	out=$(rc status 2>&1); st=$?
	expect_eq "drift: rc.bangerd status of a running daemon is 0" "$st" 0
	expect_match "drift: rc.bangerd status names the pid" "$out" \
	    "running \(pid $pid\)"
	printf 'defaults { cpus 2 }\n' >>"$CONF"
	out=$(rc reload 2>&1); st=$?
	expect_eq "drift: rc.bangerd reload succeeds" "$st" 0
	if wait_for 5 sh -c "[ \"\$($BANGERCTL -s $SOCK status --json |
	    jq .vm_defaults.cpus)\" = 2 ]"; then
		pass "drift: rc.bangerd reload makes the daemon read its file again"
	else
		fail "drift: rc.bangerd reload makes the daemon read its file again" \
		    "vm defaults not changed"
	fi
	printf 'nonsense\n' >>"$CONF"
	out=$(rc reload 2>&1); st=$?
	expect_eq "drift: rc.bangerd reload refuses a file with errors" "$st" 1
	expect_match "drift: ... and says where" "$out" "$CONF:[0-9]+: "
	expect_eq "drift: ... and the daemon runs on" \
	    "$(cat "$(dirname "$SOCK")/bangerd.pid" 2>/dev/null)" "$pid"
	sed -i '$d' "$CONF"
	out=$(rc restart 2>&1); st=$?
	npid=$(cat "$(dirname "$SOCK")/bangerd.pid" 2>/dev/null)
	expect_eq "drift: rc.bangerd restart succeeds" "$st" 0
	if [ -n "$npid" ] && [ "$npid" != "$pid" ] && kill -0 "$npid" 2>/dev/null
	then pass "drift: rc.bangerd restart starts a new daemon"
	else fail "drift: rc.bangerd restart starts a new daemon" \
	    "pid $pid, then '$npid'"; fi
	out=$(rc stop 2>&1); st=$?
	expect_eq "drift: rc.bangerd stop succeeds" "$st" 0
	if ! kill -0 "$npid" 2>/dev/null &&
	    [ ! -e "$(dirname "$SOCK")/bangerd.pid" ]; then
		pass "drift: rc.bangerd stop ends the daemon and its pid file goes"
	else
		fail "drift: rc.bangerd stop ends the daemon and its pid file goes" \
		    "pid $npid"
	fi
	out=$(rc stop 2>&1); st=$?
	expect_eq "drift: rc.bangerd stop of a stopped daemon succeeds" "$st" 0
fi

#
# make install puts every manual page, the unit and the init script.
#
D=$TMPD/destdir
if make -s -C "$TOP" OBJDIR="${OBJDIR:-obj}" install DESTDIR="$D" \
    PREFIX=/usr/local >"$TMPD/install" 2>&1; then
	for m in "$MAN"/*.[0-9]; do
		b=$(basename "$m")
		f=/usr/local/share/man/man${b##*.}/$b
		[ "$b" = imsg.3 ] && continue	# the library's page, not banger's
		if [ -f "$D$f" ]; then pass "drift: make install puts $f"
		else fail "drift: make install puts $f" "missing"; fi
	done
	for f in /usr/local/lib/systemd/system/bangerd.service \
	    /etc/init.d/bangerd; do
		if [ -f "$D$f" ]; then pass "drift: make install puts $f"
		else fail "drift: make install puts $f" "missing"; fi
	done
else
	fail "drift: make install into a staging directory" \
	    "$(tr '\n' ' ' <"$TMPD/install" | cut -c1-300)"
fi

t_done
