# After a crash, one truth: what bangerd records, what the host holds
# and what vm ls shows agree again.  Each case forges, as a SIGKILL at
# the wrong moment would leave it, one state the records did not
# account for, restarts bangerd, and checks what a user sees and what
# the host holds.  Also: failures never keep what they took (addresses,
# the disk's owner).
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "crash" "needs root to start bangerd"
	t_done
fi

daemon_setup 'bridge "br-fc" {
	address 10.78.0.1/29
}'
trap daemon_cleanup EXIT
vm_daemon_start crash

# A /29: five addresses for VMs.
ctl_as_user_fails() { ! user vm create "$1" --disk 1M >/dev/null 2>&1; }
n=0
for i in $(seq 1 20); do
	ctl_as_user_fails "tiny$i" && n=$((n + 1))
done
expect_eq "crash: twenty creates with a disk too small fail" "$n" 20
# The net worker writes releases to its table once those at hand are
# dealt with: the last may land just after the client's answer.  A
# lease taken and released in one batch may never be written at all:
# no table is an empty one.
leases() { cat "$STATE/net/ipam.table" 2>/dev/null | grep -vc '^#'; }
wait_for 5 sh -c "! grep -qsv '^#' '$STATE/net/ipam.table'"
expect_eq "crash: ... and hold no address" "$(leases)" 0
expect_eq "crash: ... and leave no record" \
    "$(ls "$STATE/priv" "$STATE/vms")" "$STATE/priv:

$STATE/vms:"
for i in 1 2 3 4 5; do
	user vm create "fits$i" >/dev/null 2>&1
done
expect_eq "crash: all five addresses are still there to take" \
    "$(user vm ls --json | jq length)" 5
expect_match "crash: a sixth is refused, naming the subnet" \
    "$(user vm create sixth 2>&1)" "no free address in 10.78.0.0/29"
for i in 1 2 3 4 5; do
	user vm rm "fits$i" >/dev/null
done

# A start that fails after the jail gave the disk to the VM's uid gives
# it back: the next start is not refused.
ctl vm create fails >/dev/null
fid=$(vm_id fails)
head -c 4096 /dev/urandom >"$T/bin/garbage"
chmod 0755 "$T/bin/garbage"
sed -i "s,^firecracker .*,firecracker \"$T/bin/garbage\"," "$CONF"
ctl reload >/dev/null
expect_match "crash: a start that cannot execute firecracker fails" \
    "$(ctl vm start fails 2>&1)" "firecracker: Exec format error"
expect_eq "crash: ... and the disk is root's again" \
    "$(stat -c %u "$STATE/disks/$fid.ext4")" 0
expect_eq "crash: ... no jail is left" \
    "$(ls "$STATE/jail/firecracker")" ""
sed -i "s,^firecracker .*,firecracker \"$T/bin/firecracker\"," "$CONF"
ctl reload >/dev/null
expect_eq "crash: ... and the next start works" "$(ctl vm start fails)" \
    "vm fails started"
ctl vm rm -f fails >/dev/null

restart() {
	if ! daemon_start; then
		fail "crash: $1: daemon starts again" "$(tail -5 "$DLOG")"
		t_done
	fi
	wait_for 10 ctl vm ls
}
# set_state ID PARENT_STATE VM_STATE: as a crash would leave the records.
set_state() {
	priv_sed "$1" "s/^state .*/state $2/"
	vmrec_jq "$1" ".state = \"$3\""
}
fc_pid() { ctl vm show --json "$1" | jq -r .pid; }

# The net worker's table of addresses is never synced: a power cut may
# leave it torn.  A table that cannot be read is set aside, and the
# parent's records name every VM's address again: the VMs keep theirs,
# and a new VM gets another.
user vm create ta1 >/dev/null
user vm create ta2 >/dev/null
addrs=$(user vm ls --json | jq -r '[.[] | .address] | sort | join(" ")')
daemon_kill
printf '# banger ipam: vm id, address\n%s 10.78.0' "$(vm_id ta1)" \
    >"$STATE/net/ipam.table"
restart "torn address table"
expect_match "crash: a torn address table is set aside, logged" \
    "$(cat "$DLOG")" \
    "addresses: ipam.table:2: no newline at end; set aside as ipam.table.bad: the parent names every VM's address again"
expect_eq "crash: ... kept for a look" "$(tail -c 8 "$STATE/net/ipam.table.bad")" \
    " 10.78.0"
expect_eq "crash: ... the VMs keep their addresses" \
    "$(user vm ls --json | jq -r '[.[] | .address] | sort | join(" ")')" \
    "$addrs"
wait_for 5 sh -c "[ \$(grep -vc '^#' '$STATE/net/ipam.table') -eq 2 ]"
expect_eq "crash: ... the table holds them again" \
    "$(grep -v '^#' "$STATE/net/ipam.table" | awk '{ print $2 }' | sort | tr '\n' ' ')" \
    "$(echo $addrs | tr ' ' '\n' | sort | tr '\n' ' ')"
user vm create ta3 >/dev/null
a3=$(user vm show --json ta3 | jq -r .address)
expect_match "crash: ... a new VM gets another address" \
    "$(case " $addrs " in *" $a3 "*) echo "taken $a3" ;; *) echo "free $a3" ;; esac)" \
    "^free 10\.78\.0\.[0-9]+$"
for n in ta1 ta2 ta3; do
	user vm rm "$n" >/dev/null
done
rm -f "$STATE/net/ipam.table.bad"

# Spare taps (the removed VMs' above, kept for the next creations) that
# a crash leaves are deleted by the next start's sweep.
nsp=$(spare_taps | wc -l)
expect_match "crash: removals left spare taps" "$nsp" "^[1-9][0-9]*$"
daemon_kill
expect_eq "crash: ... a crash leaves them" "$(spare_taps | wc -l)" "$nsp"
restart "spare taps left"
expect_eq "crash: ... the next start deletes them" "$(spare_taps)" ""
expect_match "crash: ... logged" "$(cat "$DLOG")" \
    "spare taps: $nsp deleted"
# "alive" if pid $1 runs (a zombie no longer does: killed orphans wait
# for whoever adopted them to reap them).
alive() {
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ] &&
	    kill -0 "$1" 2>/dev/null && echo alive
}

# 1. Killed between Firecracker's spawn and the record that it runs: the
#    parent's record says starting.  Nothing told that process to boot:
#    it goes, and the VM says its start was cut short.
ctl vm create s1 --start >/dev/null
id=$(vm_id s1)
pid=$(fc_pid s1)
daemon_kill
set_state "$id" 4 starting
priv_sed "$id" 's/^pid .*/pid 0/'
restart "start cut short"
expect_eq "crash: a start cut short: its firecracker is killed" \
    "$(alive "$pid")" ""
js=$(ctl vm show --json s1)
expect_eq "crash: ... the VM is in error" "$(echo "$js" | jq -r .state)" error
expect_match "crash: ... saying why" "$(echo "$js" | jq -r .error)" \
    "its start was cut short"
expect_eq "crash: ... its jail is gone" \
    "$(ls "$STATE/jail/firecracker")" ""
expect_match "crash: ... the parent logs it" "$(cat "$DLOG")" \
    "vm $id: firecracker pid $pid runs though its record \(starting\) does not account for it; killing it"
expect_eq "crash: ... it starts again" "$(ctl vm start s1)" "vm s1 started"

# 2. The vm worker recorded "starting", but Firecracker took
#    InstanceStart: it is running, and adopted as such.
pid=$(fc_pid s1)
daemon_kill
set_state "$id" 2 starting
restart "started, not recorded"
expect_eq "crash: a start that reached the guest is adopted as running" \
    "$(ctl vm show --json s1 | jq -r '.state, .pid' | tr '\n' ' ')" \
    "running $pid "

# 3. A Firecracker the parent's record says is not running (the old
#    hole: a record left at created): killed, so its uid is never
#    handed to another VM while it lives.
daemon_kill
set_state "$id" 1 running
restart "running, recorded as created"
expect_eq "crash: an unrecorded firecracker is killed" \
    "$(alive "$pid")" ""
expect_eq "crash: ... and the VM is not shown running" \
    "$(ctl vm show --json s1 | jq -r .state)" stopped
ctl vm create s2 --start >/dev/null
expect_eq "crash: ... a new VM does not get a live process's uid" \
    "$(ps -o uid= -p "$(fc_pid s2)" | tr -d ' ')" \
    "$(ctl vm show --json s2 | jq -r .uid)"
ctl vm rm -f s2 >/dev/null

# 4. Firecracker ended while bangerd was down: stopped, and when.
ctl vm start s1 >/dev/null
pid=$(fc_pid s1)
daemon_kill
kill -KILL "$pid"
wait_for 5 sh -c "[ -z \"\$(awk '{print \$3}' /proc/$pid/stat 2>/dev/null | grep -v Z)\" ]"
restart "ended while down"
js=$(ctl vm show --json s1)
expect_eq "crash: a VM whose firecracker ended meanwhile is stopped" \
    "$(echo "$js" | jq -r .state)" stopped
expect_match "crash: ... saying when" "$(echo "$js" | jq -r .error)" \
    "firecracker ended; found ended at [0-9T:-]+Z, while bangerd was not running"
expect_eq "crash: ... its jail is gone" \
    "$(ls "$STATE/jail/firecracker")" ""

# 5. A removal cut short in the parent (its record says destroying):
#    finished, and the vm worker's record goes too.
daemon_kill
set_state "$id" 5 removing
restart "removal cut short"
wait_for 10 sh -c "! ls -d '$STATE/vms/$id' 2>/dev/null"
expect_match "crash: a removal cut short is finished" \
    "$(ctl vm show s1 2>&1)" "no VM named s1"
expect_eq "crash: ... nothing of it is left" \
    "$(ls "$STATE/priv" "$STATE/disks"; vm_taps)" \
    "$STATE/disks:

$STATE/priv:"

# 6. The vm worker killed while a creation waits for an address (the
#    net worker does not answer): the creation is undone at once.
net=$(worker_pid net)
vm=$(worker_pid vm)
kill -STOP "$net"
ctl vm create w1 >"$T/w1.out" 2>&1 &
cpid=$!
wait_for 10 sh -c "grep -l '^name w1\$' '$STATE'/priv/*"
kill -KILL "$vm"
wait "$cpid"
expect_match "crash: a client whose vm worker dies is told so" \
    "$(cat "$T/w1.out")" "bangerd closed the connection"
kill -CONT "$net"
wait_for 10 daemon_workers_running
wait_for 10 ctl vm ls
expect_eq "crash: ... the creation is undone: no record" \
    "$(ls "$STATE/priv" "$STATE/vms")" "$STATE/priv:

$STATE/vms:"
wait_for 5 sh -c "! grep -q . '$STATE/net/ipam.table' ||
    [ \$(grep -vc '^#' '$STATE/net/ipam.table') = 0 ]"
expect_eq "crash: ... no lease" \
    "$(grep -vc '^#' "$STATE/net/ipam.table")" 0
expect_match "crash: ... and the name is free" "$(ctl vm create w1)" \
    "^vm w1 created"
w1=$(vm_id w1)
ctl vm rm w1 >/dev/null
# The net worker writes its table a quarter of a second after a change:
# once w1's lease is out of it, the table is the net worker's last.
wait_for 5 sh -c "! grep -q '^$w1 ' '$STATE/net/ipam.table'"

# 7. A lease no VM holds (a crash after the net worker wrote it): gone
#    at the net worker's next start.
echo "0badbeef 10.78.0.6" >>"$STATE/net/ipam.table"
kill -KILL "$(worker_pid net)"
wait_for 10 daemon_workers_running
wait_for 5 sh -c "! grep -q 0badbeef '$STATE/net/ipam.table'"
expect_eq "crash: a lease no VM holds is released" \
    "$(grep -c 0badbeef "$STATE/net/ipam.table")" 0
expect_match "crash: ... and logged" "$(cat "$DLOG")" \
    "addresses: 1 lease of VMs bangerd does not hold released"

# A worker that dies is back at once; one in a crash loop waits.
# (The net worker's deaths, as the update worker runs only for an update.)
sleep 10	# the deaths above are out of the crash loop's window
old=$(worker_pid net)
kill -KILL "$old"
wait_for 10 daemon_workers_running
expect_match "crash: a worker killed once restarts at once" \
    "$(cat "$DLOG")" "restarting the net worker$"
for i in 1 2 3 4 5 6; do
	wait_for 10 daemon_workers_running
	kill -KILL "$(worker_pid net)"
done
wait_for 10 grep -q "the net worker died 6 times in 10 s: restarting it in 250 ms" "$DLOG"
expect_match "crash: one that died six times in ten seconds waits" \
    "$(cat "$DLOG")" "the net worker died 6 times in 10 s: restarting it in 250 ms"
wait_for 15 daemon_workers_running

# A reboot takes the taps, or a hand changes them: at the next start each
# VM's tap is there again as its creation left it (one look at all the
# links says which need it), and an unmarked one is left alone.
for n in t1 t2 t3 t4 t5; do ctl vm create "$n" >/dev/null; done
tid() { vm_id "$1"; }
in_ns ip link del "fc-tap-$(tid t1)"
in_ns ip link set "fc-tap-$(tid t2)" nomaster
in_ns ip link set "fc-tap-$(tid t3)" down
in_ns ip tuntap del "fc-tap-$(tid t4)" mode tap
in_ns ip tuntap add "fc-tap-$(tid t4)" mode tap
# t5's is as made but for IPv6, as an older bangerd made taps
in_ns sh -c "echo 0 >/proc/sys/net/ipv6/conf/fc-tap-$(tid t5)/disable_ipv6"
daemon_stop
restart "taps lost"
tapstate() {
	in_ns ip -j -d link show "fc-tap-$(tid "$1")" 2>/dev/null | jq -r \
	    '.[0] | "\(.master) \(.flags | index("UP") != null) \(
	    .linkinfo.info_data.user)"'
}
for n in t1 t2 t3 t5; do
	expect_eq "crash: taps lost: $n's is on the bridge, up, the VM's" \
	    "$(tapstate "$n")" "br-fc true $(ctl vm show --json "$n" |
	    jq -r .uid)"
done
expect_eq "crash: taps lost: a tap adopted as it was has IPv6 disabled" \
    "$(in_ns cat /proc/sys/net/ipv6/conf/fc-tap-$(tid t5)/disable_ipv6)" "1"
expect_match "crash: taps lost: an unmarked one is left alone, and said" \
    "$(cat "$DLOG")" "vm $(tid t4): tap fc-tap-$(tid t4): File exists"
expect_eq "crash: taps lost: ... and stays unmarked, off the bridge" \
    "$(in_ns ip -j -d link show "fc-tap-$(tid t4)" | jq -r \
    '.[0] | "\(.master) \(.ifalias)"')" "null null"
expect_eq "crash: taps lost: a VM whose tap came back starts" \
    "$(ctl vm start t1)" "vm t1 started"
in_ns ip link del "fc-tap-$(tid t4)"
for n in t1 t2 t3 t4 t5; do ctl vm rm -f "$n" >/dev/null; done

# max-vms: a create past it is refused, saying so; at once on reload.
printf 'max-vms 2\n' >>"$CONF"
ctl reload >/dev/null
ctl vm create m1 >/dev/null
ctl vm create m2 >/dev/null
expect_match "crash: a create past max-vms is refused" \
    "$(ctl vm create m3 2>&1)" \
    "vm m3: bangerd holds 2 VMs, its max-vms; remove one, or raise max-vms"
expect_match "crash: ... and leaves nothing" \
    "$(ctl vm show m3 2>&1)" "no VM named m3"
ctl vm rm m1 >/dev/null
ctl vm rm m2 >/dev/null
sed -i '/^max-vms/d' "$CONF"
ctl reload >/dev/null

expect_eq "crash: nothing of any VM is left" "$(host_traces)" ""
t_done
