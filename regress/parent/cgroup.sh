# The VMs' cgroups.  bangerd started inside a group delegated to it (as
# systemd's Delegate=yes leaves it: the group carries trusted.delegate=1)
# moves itself and its workers into GROUP/supervisor and puts each VM in
# GROUP/vms/ID, removed when the VM stops, and an orphan there is swept
# at start; status says so.  Started in a group that is not delegated, it
# uses MOUNT/banger/ID and sweeps nothing there.  The test groups are
# made under the cgroup2 mount and removed at the end.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "cgroup" "needs root to start bangerd"
	t_done
fi
CG2=$(awk '$0 ~ / - cgroup2 / && $4 == "/" { print $5; exit }' \
    /proc/self/mountinfo)
if [ -z "$CG2" ]; then
	skip "cgroup" "no cgroup2 mount here"
	t_done
fi
if ! command -v setfattr >/dev/null; then
	skip "cgroup" "setfattr missing (package attr; scripts/deps.sh)"
	t_done
fi

G=$CG2/banger-test-$$
P=$CG2/banger-test-$$-plain
O2=0bad00c2
O3=0bad00c3
O4=0bad00c4
[ -d "$CG2/banger" ] || BMADE=1
cg_cleanup() {
	local d p
	daemon_cleanup
	# Processes out of the test groups first, then the groups, deepest
	# first.
	for d in "$G" "$P"; do
		[ -d "$d" ] || continue
		for p in $(find "$d" -name cgroup.procs -exec cat {} +); do
			echo "$p" >"$CG2/cgroup.procs" 2>/dev/null
		done
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	rmdir "$CG2/banger/$O2" "$CG2/banger/$O3" "$CG2/banger/$O4" 2>/dev/null
	[ -n "${BMADE:-}" ] && rmdir "$CG2/banger" 2>/dev/null
	return 0
}

# bangerd started from a wrapper that first joins group $1, as a
# service manager starts it in the service's group.  nsenter, not ip
# netns exec: that mounts a new /sys, without the cgroup2 mount in it.
daemon_start_in() {
	local grp=$1
	nsenter --net="/run/netns/$NS" sh -c 'echo $$ >"$1/cgroup.procs" &&
	    exec "$2" -d -f "$3"' sh "$grp" "$BANGERD" "$CONF" \
	    >"$DLOG" 2>&1 &
	DPID=$!
	wait_for 10 daemon_workers_running
}

cg_of() { sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null; }
# The Firecracker of VM id $1 (ids are unique: no other daemon's).
fc_of() { pgrep -f -- "--api-sock /run/firecracker.socket --id $1\$"; }

daemon_setup
trap cg_cleanup EXIT
vm_env
printf '%s\n' "$VM_CONF" >>"$CONF"

# --- delegated --------------------------------------------------------

mkdir "$G"
setfattr -n trusted.delegate -v 1 "$G"
if ! daemon_start_in "$G"; then
	fail "delegated: daemon starts in its group" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "delegated: the parent moves into GROUP/supervisor" \
    "$(cg_of "$DPID")" "/banger-test-$$/supervisor"
w=
for r in vm net; do
	w="$w $(cg_of "$(worker_pid $r)")"
done
expect_eq "delegated: so do its workers" "$w" \
    " /banger-test-$$/supervisor /banger-test-$$/supervisor"
expect_eq "delegated: GROUP itself holds no process" \
    "$(cat "$G/cgroup.procs")" ""
st=$(ctl status --json)
expect_eq "delegated: status --json gives mode and root" \
    "$(echo "$st" | jq -r '.cgroup.mode + " " + .cgroup.root')" \
    "delegated $G/vms"
expect_match "delegated: and why" "$(echo "$st" | jq -r .cgroup.reason)" \
    "^bangerd's group /banger-test-$$ is delegated to it$"
expect_match "delegated: status says where VMs go" "$(ctl status)" \
    "^vm cgroups +$G/vms \(delegated: bangerd's group /banger-test-$$ is delegated to it\)$"

if ! ctl vm create web --disk 128M --start >/dev/null 2>"$T/err"; then
	fail "delegated: a VM starts" "$(cat "$T/err"; tail -5 "$DLOG")"
else
	id=$(vm_id web)
	fc=$(fc_of "$id")
	expect_eq "delegated: its firecracker runs in GROUP/vms/ID" \
	    "$(cg_of "$fc")" "/banger-test-$$/vms/$id"
	expect_eq "delegated: the VM's group holds only it" \
	    "$(cat "$G/vms/$id/cgroup.procs")" "$fc"
	expect_match "delegated: a limit without its controller is skipped, and logged" \
	    "$(cat "$DLOG")" \
	    "vm $id: cgroup2 at $G has no (cpu|memory|pids) controller: no (cpu|memory|pids) limit"
	ctl vm stop -f web >/dev/null 2>&1
	expect_eq "delegated: vm stop removes GROUP/vms/ID" \
	    "$(ls -d "$G/vms/$id" 2>/dev/null)" ""
	ctl vm rm -f web >/dev/null 2>&1
fi

# A crash, an orphan VM group with no record; the next bangerd, started
# straight into GROUP/supervisor (as after a re-exec, or systemd's
# DelegateSubgroup=), still finds its delegated group and sweeps it.
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
O1=0bad00c1
mkdir "$G/vms/$O1"
if ! daemon_start_in "$G/supervisor"; then
	fail "delegated: daemon starts in GROUP/supervisor" \
	    "$(tail -5 "$DLOG")"
else
	expect_eq "delegated: started in GROUP/supervisor, GROUP is still its tree" \
	    "$(ctl status --json | jq -r '.cgroup.mode + " " + .cgroup.root')" \
	    "delegated $G/vms"
	expect_eq "delegated: an orphan VM group is swept at start" \
	    "$(ls -d "$G/vms/$O1" 2>/dev/null)" ""
	expect_match "delegated: and its removal logged" "$(cat "$DLOG")" \
	    "sweep: removed orphan cgroup $G/vms/$O1 \(no record\)"
fi
daemon_stop

# --- not delegated ----------------------------------------------------

mkdir "$P"
mkdir -p "$CG2/banger/$O2"
# Marked as this state directory's (as jailspawn.c marks a VM's cgroup),
# and as another bangerd's.
mkdir -p "$CG2/banger/$O3" "$CG2/banger/$O4"
setfattr -n trusted.banger -v "$STATE" "$CG2/banger/$O3"
setfattr -n trusted.banger -v "/var/lib/another-banger" "$CG2/banger/$O4"
if ! daemon_start_in "$P"; then
	fail "plain: daemon starts in a group not delegated" \
	    "$(tail -5 "$DLOG")"
else
	expect_eq "plain: the parent stays in its group" \
	    "$(cg_of "$DPID")" "/banger-test-$$-plain"
	st=$(ctl status --json)
	expect_eq "plain: status gives the mount's banger group" \
	    "$(echo "$st" | jq -r '.cgroup.mode + " " + .cgroup.root')" \
	    "mount $CG2/banger"
	expect_eq "plain: and why" "$(echo "$st" | jq -r .cgroup.reason)" \
	    "bangerd's group /banger-test-$$-plain is not delegated to it; the cgroup2 mount $CG2 is writable"
	expect_eq "plain: an id in MOUNT/banger may be another bangerd's: not swept" \
	    "$(ls -d "$CG2/banger/$O2" 2>/dev/null)" "$CG2/banger/$O2"
	expect_eq "plain: one marked as another's is not swept either" \
	    "$(ls -d "$CG2/banger/$O4" 2>/dev/null)" "$CG2/banger/$O4"
	expect_eq "plain: one marked as this state directory's is swept" \
	    "$(ls -d "$CG2/banger/$O3" 2>/dev/null)" ""
	expect_match "plain: and its removal logged" "$(cat "$DLOG")" \
	    "sweep: removed orphan cgroup $CG2/banger/$O3 \(no record\)"
	if ! ctl vm create web --disk 128M --start >/dev/null 2>"$T/err"
	then
		fail "plain: a VM starts" "$(cat "$T/err"; tail -5 "$DLOG")"
	else
		id=$(vm_id web)
		expect_eq "plain: its firecracker runs in MOUNT/banger/ID" \
		    "$(cg_of "$(fc_of "$id")")" "/banger/$id"
		expect_eq "plain: which names this state directory" \
		    "$(getfattr --only-values -n trusted.banger \
		    "$CG2/banger/$id" 2>/dev/null)" "$STATE"
		ctl vm stop -f web >/dev/null 2>&1
		expect_eq "plain: vm stop removes MOUNT/banger/ID" \
		    "$(ls -d "$CG2/banger/$id" 2>/dev/null)" ""
		ctl vm rm -f web >/dev/null 2>&1
	fi
fi
daemon_stop

tmpT=$T
cg_cleanup
trap - EXIT
expect_eq "after: no test group left" \
    "$(ls -d "$G" "$P" 2>/dev/null)" ""
expect_eq "after: temp dir removed" "$(ls -d "$tmpT" 2>/dev/null)" ""
t_done
