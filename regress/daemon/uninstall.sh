# The removal recipes in banger-privileges(7), run as written against
# what a real bangerd made: first through the daemon, then by hand after
# the daemon has stopped with VMs still running.  Paths are the test's
# (the page's /var/lib/banger and /run/banger become the test daemon's
# state and runtime directories); everything else is the page's text.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "uninstall" "needs root to start bangerd"
	t_done
fi

PAGE=$TOP/man/banger-privileges.7

# Run one recipe block: those that change links or the firewall in the
# test's network namespace, the rest on the host.
run_block() {	# text
	case $1 in
	*"ip "*|*"nft "*) in_ns sh -c "$1" ;;
	*) sh -c "$1" ;;
	esac
}

# Each step: steps that this test cannot take as written say why.
run_recipe() {	# marker name
	local b n=0 out was
	while IFS= read -r -d '' b; do
		n=$((n + 1))
		case $b in
		"systemctl "*|"/etc/init.d/"*)
			# The test's daemon is no service: it is stopped by
			# its pid (SIGTERM, as the unit and the script do), or
			# was killed before the manual recipe.
			was=${DPID:-}
			daemon_stop
			expect_eq "$2: step $n ($b): the daemon is not running" \
			    "$([ -n "$was" ] && kill -0 "$was" 2>/dev/null &&
			    echo running)" ""
			continue ;;
		"make uninstall")
			# Against an install into a scratch DESTDIR.
			make -s -C "$TOP" OBJDIR="${OBJDIR:-obj}" install \
			    DESTDIR="$T/dest" >/dev/null 2>&1
			b="cd $TOP && $b OBJDIR=${OBJDIR:-obj} DESTDIR=$T/dest" ;;
		esac
		case $b in
		*userdel*|*groupdel*)
			# The suite itself runs as those; check the names the
			# step removes are the ones banger made.
			expect_eq "$2: the user the page removes exists" \
			    "$(getent passwd _banger | cut -d: -f1)" "_banger"
			expect_eq "$2: the group the page removes exists" \
			    "$(getent group banger | cut -d: -f1)" "banger"
			b=$(printf '%s\n' "$b" | grep -v -e userdel -e groupdel)
			[ -n "$b" ] || continue
			;;
		esac
		if out=$(run_block "$b" 2>&1); then
			pass "$2: step $n runs: $(printf '%s' "$b" | head -1)"
		else
			fail "$2: step $n runs: $(printf '%s' "$b" | head -1)" "$out"
		fi
	done < <(recipe_blocks "$1")
}

# The shell commands between a pair of markers: each command of a
# .Bd -literal block (it starts with the page's "# " prompt; indented
# lines continue it) and each .Dl line, NUL-terminated so multi-line ones
# stay whole, with the prompt and roff escapes taken off.
recipe_blocks() {	# marker
	awk -v m="$1" '
	$0 ~ "^\\.\\\\\" " m ":begin" { on = 1; next }
	$0 ~ "^\\.\\\\\" " m ":end" { on = 0 }
	!on { next }
	/^\.Bd -literal/ { lit = 1; cmd = ""; next }
	/^\.Ed/ { if (lit && cmd != "") printf "%s%c", cmd, 0; lit = 0; next }
	lit && /^# / {	# a new command; indented lines continue it
		if (cmd != "") printf "%s%c", cmd, 0
		cmd = substr($0, 3); next
	}
	lit { cmd = cmd "\n" $0; next }
	/^\.Dl # / { sub(/^\.Dl # /, ""); printf "%s%c", $0, 0 }
	' "$PAGE" | sed -z 's/\\e/\\/g; s/\\-/-/g' |
	    sed -z "s|/var/lib/banger|$STATE|g; s|/run/banger|$T/run|g"
}

# Egress set, so that the NAT table exists: a veth into an "upstream"
# namespace.
daemon_setup 'bridge "br-fc" {
	address 10.79.0.1/29
	egress "up0"
}'
UP=banger-up-$$
trap 'daemon_cleanup; ip netns delete "$UP" 2>/dev/null' EXIT
upstream_ns "$UP" 10.80.0.1/24
vm_daemon_start uninstall

expect_match "uninstall: the page has the recipe through the daemon" \
    "$(recipe_blocks removal-daemon | tr '\0' '\n')" "vm rm -f"
expect_match "uninstall: the page has the recipe by hand" \
    "$(recipe_blocks removal-manual | tr '\0' '\n')" "nft delete table ip banger"

# Through the daemon: the page's loop calls bangerctl; ours is the test's.
mkdir -p "$T/path"
printf '#!/bin/sh\nexec %s -s %s "$@"\n' "$BANGERCTL" "$SOCK" \
    >"$T/path/bangerctl"
chmod 0755 "$T/path/bangerctl"
ctl vm create a1 --start >/dev/null
ctl vm create a2 >/dev/null
expect_eq "uninstall: two VMs before the daemon recipe" \
    "$(ctl vm ls --json | jq length)" 2
PATH=$T/path:$PATH run_recipe removal-daemon "uninstall (daemon)"
expect_eq "uninstall: make uninstall leaves no installed file" \
    "$(find "$T/dest" -type f 2>/dev/null | head -3)" ""
expect_eq "uninstall: the daemon recipe leaves nothing of them on the host" \
    "$(host_traces)" ""

# By hand: VMs running, the daemon gone without cleaning up.
if ! daemon_start; then
	fail "uninstall: daemon starts again" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "uninstall: the daemon recipe left no VM for the next daemon" \
    "$(ctl vm ls --json | jq length)" 0
ctl vm create b1 --start >/dev/null
ctl vm create b2 --start >/dev/null
ctl vm create b3 >/dev/null
# A removed VM's tap, kept as a spare.
ctl vm create b4 >/dev/null
ctl vm rm b4 >/dev/null
id1=$(vm_id b1)
id2=$(vm_id b2)
fcpids=$(pgrep -f -- "--id ($id1|$id2)" | tr '\n' ' ')
expect_match "uninstall: two Firecrackers run before the manual recipe" \
    "$fcpids" "^[0-9]+ [0-9]+ $"
# The case the manual recipe is for: a daemon that cannot clean up
# (killed), leaving its VMs, network and records behind.
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
for p in $fcpids; do
	kill -0 "$p" 2>/dev/null ||
	    fail "uninstall: VM process $p survives the daemon's stop" ""
done
expect_match "uninstall: taps and the bridge are there before" \
    "$(in_ns ip -o link show | grep -cE 'fc-tap-|br-fc')" "^[4-9]$"
expect_eq "uninstall: a spare tap is there before" \
    "$(spare_taps | wc -l)" 1
in_ns nft list table ip banger >/dev/null 2>&1 &&
    pass "uninstall: the NAT table is there before" ||
    fail "uninstall: the NAT table is there before" ""

run_recipe removal-manual "uninstall (manual)"

for p in $fcpids; do
	wait_for 5 sh -c "! kill -0 $p 2>/dev/null" &&
	    pass "uninstall: VM process $p is gone" ||
	    fail "uninstall: VM process $p is gone" "$(ps -o pid,args -p "$p")"
done
expect_eq "uninstall: no tap or bridge left" \
    "$(in_ns ip -o link show | grep -cE 'fc-tap-|fc-spare-|br-fc')" "0"
in_ns nft list table ip banger >/dev/null 2>&1 &&
    fail "uninstall: no NAT table left" "$(in_ns nft list table ip banger)" ||
    pass "uninstall: no NAT table left"
expect_eq "uninstall: no loop device backed by a VM disk" \
    "$(losetup -n -l -O BACK-FILE | grep -c "^$STATE/")" "0"
[ -e "$STATE" ] && fail "uninstall: no state directory left" \
    "$(find "$STATE" | head)" || pass "uninstall: no state directory left"
cg=$(awk '/ - cgroup2 / && $4 == "/" { print $5; exit }' /proc/self/mountinfo)
[ -n "$cg" ] && [ -e "$cg/banger/$id1" ] &&
    fail "uninstall: no VM cgroup left" "$cg/banger/$id1" ||
    pass "uninstall: no VM cgroup left"
t_done
