# What a crash leaves behind, swept at start: bangerd is killed with
# SIGKILL, orphans are forged as a crash would leave them (a disk with a
# loop device, a marked tap, a jail, a half-written record, a creation
# cut short), and the next bangerd removes them, says so in its log,
# and leaves alone a kept VM, an unmarked tap and a live Firecracker.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "sweep" "needs root to start bangerd"
	t_done
fi

LOOPS=
FCPID=
JPID=
sweep_cleanup() {
	local l
	[ -n "$FCPID" ] && kill -KILL "$FCPID" 2>/dev/null
	[ -n "$JPID" ] && kill -KILL "$JPID" 2>/dev/null
	# Only loop devices of ours: backed by a file under $T.
	for l in $LOOPS; do
		case $(cat "/sys/block/${l#/dev/}/loop/backing_file" \
		    2>/dev/null) in
		"$T"/*)	losetup -d "$l" ;;
		esac
	done
	daemon_cleanup
}

daemon_setup
trap sweep_cleanup EXIT
vm_env
printf '%s\n' "$VM_CONF" >>"$CONF"
if ! daemon_start; then
	fail "sweep: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

ctl vm create keep --disk 128M >/dev/null
kid=$(vm_id keep)
ctl vm create mid --disk 128M >/dev/null
mid=$(vm_id mid)
ctl vm create half --disk 128M >/dev/null
hid=$(vm_id half)
ctl vm create gone --disk 128M >/dev/null
gid=$(vm_id gone)

vm_id_of() { case $1 in half) echo "$hid" ;; gone) echo "$gid" ;; esac; }

# The crash: SIGKILL to the parent; its workers follow it out.
wpids=$(ctl status --json | jq -r '.workers[] | select(.pid > 0) | .pid')
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
DPID=
workers_gone() {
	local p
	for p in $wpids; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
check "sweep: the workers end with the killed parent" wait_for 10 workers_gone

# "mid" was being created: the parent's record says so, the vm
# worker's too, and a loop device holds its disk (as a crash between
# attaching one and recording it would leave).
priv_sed "$mid" 's/^state .*/state 3/'
vmrec_jq "$mid" '.state = "creating"'
lmid=$(losetup -f --show "$STATE/disks/$mid.ext4")
LOOPS="$LOOPS $lmid"
# "half" was made by the parent but not yet provisioned by the vm
# worker; "gone" was being removed.  Only the vm worker's records say so.
for v in half:creating gone:removing; do
	vmrec_jq "$(vm_id_of "${v%:*}")" ".state = \"${v#*:}\""
done

# Orphans of ids with no record at all.
o1=0bad0001 o2=0bad0002 o3=0bad0003 o4=0bad0004
o5=0bad0005 o6=0bad0006 o7=0bad0007
truncate -s 16M "$STATE/disks/$o1.ext4" "$STATE/disks/$o1.ext4.new"
chmod 0600 "$STATE/disks/$o1.ext4" "$STATE/disks/$o1.ext4.new"
lo1=$(losetup -f --show "$STATE/disks/$o1.ext4")
LOOPS="$LOOPS $lo1"
in_ns ip tuntap add dev "fc-tap-$o1" mode tap
in_ns ip link set "fc-tap-$o1" alias banger
in_ns ip tuntap add dev "fc-tap-$o2" mode tap		# not banger's mark
mkdir -p "$STATE/jail/firecracker/$o3/root/run" \
    "$STATE/jail/firecracker/$o4/root/run"
touch "$STATE/jail/firecracker/$o3/root/rootfs"
echo "id $o1" >"$STATE/priv/$o1.tmp"
# A Firecracker still running for o4, whose record is lost.
env PATH="$T/bin" firecracker --api-sock "$T/o4.sock" --id "$o4" \
    >/dev/null 2>&1 &
FCPID=$!
wait_for 5 test -S "$T/o4.sock"

# A loop device marked as an orphan id's of this state directory, on a
# file outside STATE/disks (as device-mapper's origin on the image), and
# one marked as another state directory's.
sdev=$(printf '%x:%x' $(stat -c '%d %i' "$STATE"))
lo5=$("$HELPERS/storage-drive" attach "$T/img/rootfs.ext4" ro \
    "banger $o5 $sdev")
lo6=$("$HELPERS/storage-drive" attach "$T/img/rootfs.ext4" ro \
    "banger $o6 1:1")
LOOPS="$LOOPS $lo5 $lo6"
# A Firecracker running in an orphan's jail.
mkdir -p "$STATE/jail/firecracker/$o7/root/run"
cp "$T/bin/firecracker" "$STATE/jail/firecracker/$o7/root/firecracker"
chroot "$STATE/jail/firecracker/$o7/root" /firecracker --api-sock \
    /run/firecracker.socket --id "$o7" >/dev/null 2>&1 &
JPID=$!
wait_for 5 test -S "$STATE/jail/firecracker/$o7/root/run/firecracker.socket"

if ! daemon_start; then
	fail "sweep: daemon starts again" "$(tail -5 "$DLOG")"
	t_done
fi
log=$(cat "$DLOG")

# The orphans are gone, each named in the log.
expect_eq "sweep: an orphan tap with banger's mark is removed" \
    "$(in_ns ip -br link show "fc-tap-$o1" 2>/dev/null)" ""
expect_match "sweep: its removal is logged" "$log" \
    "sweep: removed orphan tap fc-tap-$o1 \(no record\)"
expect_eq "sweep: an orphan loop device is detached" \
    "$(cat "/sys/block/${lo1#/dev/}/loop/backing_file" 2>/dev/null)" ""
expect_match "sweep: its detaching is logged" "$log" \
    "sweep: detached orphan loop device $lo1 \(backed by $STATE/disks/$o1.ext4, no record\)"
expect_eq "sweep: orphan disk files are removed" \
    "$(ls "$STATE/disks" | grep "^$o1" || true)" ""
expect_match "sweep: the disk's removal is logged" "$log" \
    "sweep: removed orphan disk $STATE/disks/$o1.ext4 \(no record\)"
expect_match "sweep: so is a half-made disk's" "$log" \
    "sweep: removed orphan disk $STATE/disks/$o1.ext4.new \(no record\)"
expect_eq "sweep: an orphan jail is removed" \
    "$(ls -d "$STATE/jail/firecracker/$o3" 2>/dev/null)" ""
expect_match "sweep: its removal is logged" "$log" \
    "sweep: removed orphan jail $STATE/jail/firecracker/$o3 \(no record\)"
expect_eq "sweep: a loop device marked as an orphan's is detached" \
    "$(cat "/sys/block/${lo5#/dev/}/loop/backing_file" 2>/dev/null)" ""
expect_match "sweep: ... whatever backs it, and logged" "$log" \
    "sweep: detached loop device $lo5 \(marked \"banger $o5 $sdev\", no record\)"
expect_eq "sweep: one marked as another state directory's stays" \
    "$(cat "/sys/block/${lo6#/dev/}/loop/backing_file" 2>/dev/null)" \
    "$T/img/rootfs.ext4"
wait "$JPID" 2>/dev/null
expect_eq "sweep: a firecracker in an orphan's jail is killed" \
    "$(kill -0 "$JPID" 2>/dev/null && echo alive)" ""
expect_match "sweep: ... and logged" "$log" \
    "sweep: killed orphan firecracker pid $JPID of vm $o7 \(no record\)"
expect_eq "sweep: ... and its jail removed" \
    "$(ls -d "$STATE/jail/firecracker/$o7" 2>/dev/null)" ""
expect_eq "sweep: a half-written record is removed" \
    "$(ls "$STATE/priv/$o1.tmp" 2>/dev/null)" ""

# What is not banger's, or still in use, stays.
expect_eq "sweep: a tap without banger's mark stays" \
    "$(in_ns ip -br link show "fc-tap-$o2" | awk '{print $1}')" "fc-tap-$o2"
expect_match "sweep: and the log says why" "$log" \
    "sweep: tap fc-tap-$o2 has no record but not banger's mark"
expect_eq "sweep: the jail of a live firecracker stays" \
    "$(ls -d "$STATE/jail/firecracker/$o4")" "$STATE/jail/firecracker/$o4"
check "sweep: and that firecracker still runs" kill -0 "$FCPID"
expect_match "sweep: the log names it" "$log" \
    "sweep: vm $o4 has no record but a firecracker \(pid $FCPID\) outside its jail names it"

# The creation cut short is undone, and nothing of it is left: not
# on the host, not in either record, not in vm ls, not as a lease.
expect_match "sweep: the interrupted creation is undone" "$log" \
    "vm $mid: its creation was interrupted; undoing it"
expect_match "sweep: ... all of it" "$log" \
    "vm $mid: removed \(tap, disk, address and record\)"
expect_eq "sweep: its tap is gone" \
    "$(in_ns ip -br link show "fc-tap-$mid" 2>/dev/null)" ""
expect_eq "sweep: its disk is gone" \
    "$(ls "$STATE/disks" | grep "^$mid" || true)" ""
expect_eq "sweep: its loop device is detached" \
    "$(cat "/sys/block/${lmid#/dev/}/loop/backing_file" 2>/dev/null)" ""
expect_eq "sweep: the parent's record of it is gone" \
    "$(ls "$STATE/priv/$mid" 2>/dev/null)" ""
expect_eq "sweep: so is the vm worker's" \
    "$(ls -d "$STATE/vms/$mid" 2>/dev/null)" ""
expect_match "sweep: vm show says there is no such VM" \
    "$(ctl vm show mid 2>&1)" "no VM named mid"
# The net worker writes its table a moment after the release, or not
# at all if nothing it held changed: no table holds no lease.
lease_of() { cat "$STATE/net/ipam.table" 2>/dev/null | grep -c "^$1 "; }
wait_for 5 sh -c "! grep -qs '^$mid ' '$STATE/net/ipam.table'"
expect_eq "sweep: its address is given back" "$(lease_of "$mid")" 0
expect_match "sweep: its name is free again" "$(ctl vm create mid 2>&1)" \
    "^vm mid created"
ctl vm rm mid >/dev/null

# Cut short on the vm worker's side only (the parent holds the VM
# whole): the creation is undone, the removal finished.
for v in half:creation gone:removal; do
	n=${v%:*}
	i=$(vm_id_of "$n")
	wait_for 10 sh -c "! ls -d '$STATE/priv/$i' '$STATE/vms/$i'"
	expect_match "sweep: a VM whose ${v#*:} was cut short is removed" \
	    "$(ctl vm show "$n" 2>&1)" "no VM named $n"
	expect_eq "sweep: ... its disk" \
	    "$(ls "$STATE/disks" | grep "^$i" || true)" ""
	expect_eq "sweep: ... its tap" \
	    "$(in_ns ip -br link show "fc-tap-$i" 2>/dev/null)" ""
	expect_eq "sweep: ... both records" \
	    "$(ls -d "$STATE/priv/$i" "$STATE/vms/$i" 2>/dev/null)" ""
	wait_for 5 sh -c "! grep -qs '^$i ' '$STATE/net/ipam.table'"
	expect_eq "sweep: ... its lease" "$(lease_of "$i")" 0
done

# The kept VM is whole and starts.
expect_eq "sweep: the kept VM's record stays" \
    "$(ls "$STATE/priv/$kid")" "$STATE/priv/$kid"
expect_eq "sweep: its disk stays" \
    "$(ls "$STATE/disks/$kid.ext4")" "$STATE/disks/$kid.ext4"
expect_eq "sweep: its tap stays, marked" \
    "$(in_ns ip -j link show "fc-tap-$kid" | jq -r '.[0].ifalias')" "banger"
expect_eq "sweep: it still starts" "$(ctl vm start keep)" "vm keep started"
ctl vm stop -f keep >/dev/null

# Idempotent: the next start finds nothing more to remove.
daemon_stop
if ! daemon_start; then
	fail "sweep: daemon starts a third time" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "sweep: a second start removes nothing" \
    "$(grep -c 'sweep: removed\|sweep: detached' "$DLOG")" 0
expect_eq "sweep: the unmarked tap is still there" \
    "$(in_ns ip -br link show "fc-tap-$o2" | awk '{print $1}')" "fc-tap-$o2"
expect_eq "sweep: the kept VM is still there" \
    "$(ctl vm show --json keep | jq -r .state)" "stopped"

kill -KILL "$FCPID"
wait "$FCPID" 2>/dev/null
FCPID=
rm -rf "$STATE/jail/firecracker/$o4"
ctl vm rm keep >/dev/null
in_ns ip link del "fc-tap-$o2"
expect_eq "sweep: nothing of any VM is left" "$(host_traces)" ""
t_done
