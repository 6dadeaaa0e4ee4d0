# The provisioner: the vm worker forks it once as it starts, and it
# forks each new VM's disk child (guestfs.c), so no disk child copies
# the worker's memory.  At rest it keeps one disk child waiting, the
# standby, which the next disk goes to.  It runs sandboxed as the
# worker does, writes the same files, leaves with the worker, and if it
# is gone the worker forks the disk children itself: creation goes on.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "provision" "needs root to start bangerd"
	t_done
fi
for tool in debugfs jq; do
	command -v $tool >/dev/null || { skip "provision" "no $tool"; t_done; }
done

daemon_setup
trap 'kill $SP 2>/dev/null; [ -n "${pp:-}" ] && kill -CONT "$pp" 2>/dev/null; daemon_cleanup' EXIT
# An image whose file system has no free inode: provisioning its disk
# fails.
truncate -s 4M "$T/full.ext4"
mkfs.ext4 -q -F -N 16 "$T/full.ext4"
for i in 1 2 3 4 5 6 7 8; do
	debugfs -w -R "mkdir d$i" "$T/full.ext4" >/dev/null 2>&1
done
chmod 0644 "$T/full.ext4"
vm_daemon_start provision "image \"full\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/full.ext4\"
}"

provisioner() { pgrep -P "$(worker_pid vm)" -f '^bangerd: vm provisioner'; }
# standby: the provisioner's one child at rest.
standby() { pgrep -P "$pp" -f '^bangerd: vm disk child'; }
# only_sockets PID: its descriptors past 2, as "N socket" each.
only_sockets() {
	local f
	for f in $(ls /proc/$1/fd | sort -n); do
		[ "$f" -gt 2 ] || continue
		printf '%s %s\n' "$f" "$(readlink /proc/$1/fd/$f | sed 's/:.*//')"
	done
}
# disk_file NAME PATH: a file in the VM's disk, as the guest will see it.
disk_file() {
	debugfs -R "cat $2" "$STATE/disks/$(vm_id "$1").ext4" 2>/dev/null |
	    tr -d '\0'
}
# gone PID...: none of them is a process any more (nor a zombie).
gone() {
	local p
	for p in "$@"; do
		[ -e "/proc/$p" ] && return 1
	done
	return 0
}

vw=$(worker_pid vm)
pp=$(provisioner)
expect_eq "provision: the vm worker has one child at rest, the provisioner" \
    "$(pgrep -P "$vw" | wc -l) $(echo "$pp" | wc -w)" "1 1"
if [ -n "$pp" ]; then
	worker_sandbox_check "provision: the provisioner" vm "$pp"
	# 0-2, the worker's socket and the standby's.
	expect_match "provision: the provisioner holds only 0-2 and two sockets" \
	    "$(ls /proc/$pp/fd | sort -n | head -3 | tr '\n' ' ')$(only_sockets $pp | awk '{ print $2 }' | tr '\n' ' ')" \
	    "^0 1 2 socket socket $"
	wait_for 10 sh -c "pgrep -P $pp >/dev/null"
	sb=$(standby)
	expect_eq "provision: the provisioner has one child at rest, the standby" \
	    "$(pgrep -P "$pp" | tr '\n' ' ')" "$sb "
	[ -n "$sb" ] && worker_sandbox_check "provision: the standby" vm "$sb"
	expect_match "provision: the standby holds only 0-2 and a socket" \
	    "$(ls /proc/$sb/fd | sort -n | head -3 | tr '\n' ' ')$(only_sockets $sb | awk '{ print $2 }' | tr '\n' ' ')" \
	    "^0 1 2 socket $"
	# Waiting in ppoll: nothing blocked, SIGPIPE ignored, SIGCHLD
	# caught (its children reaped).  Signals 32 and 33 are glibc's,
	# which sigaction() refuses to change: they stay as bangerd was
	# started (make ignores 32), and are left out.
	sigs=
	for v in $(awk '/^Sig(Cgt|Ign|Blk):/ {print $2}' /proc/$pp/status); do
		sigs="$sigs$(printf '%016x' $((0x$v & ~0x180000000))) "
	done
	expect_eq "provision: the provisioner's signals, blocked ignored caught" \
	    "$sigs" "0000000000000000 0000000000001000 0000000000010000 "
fi

# Disk children come from the provisioner: a VM created, its files in.
ctl vm create p1 >/dev/null
expect_eq "provision: a VM created through the provisioner is created" \
    "$(ctl vm show --json p1 | jq -r .state)" "created"
expect_eq "provision: its disk has its hostname" "$(disk_file p1 /etc/hostname)" "p1"
expect_match "provision: and its host key" \
    "$(disk_file p1 /etc/ssh/ssh_host_ed25519_key.pub)" "^ssh-ed25519 "
expect_eq "provision: the provisioner is still the worker's one child" \
    "$(pgrep -P "$vw" | tr '\n' ' ')" "$pp "
if [ -n "$pp" ]; then
	# The standby took the disk, and ended; a new one waits.
	wait_for 10 sh -c "[ ! -e /proc/$sb ] && pgrep -P $pp >/dev/null"
	expect_eq "provision: its disk went to the standby, which was reaped" \
	    "$(test -e /proc/$sb && echo "$sb still there")" ""
	sb2=$(standby)
	expect_eq "provision: a new standby waits" \
	    "$(echo "$sb2" | wc -w) $(test "$sb2" != "$sb" && echo new)" "1 new"
	sb=$sb2
fi

# The disk child loads its filter (compiled once by the provisioner)
# before it reads the disk, and then writes it under the filter.
if command -v strace >/dev/null 2>&1 && [ -n "$pp" ]; then
	strace -f -qq -p "$pp" -p "$sb" -e trace=prctl,seccomp,pread64,pwrite64,write,fsync \
	    -o "$T/child.trace" &
	sp=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$pp/status"
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$sb/status"
	ctl vm create pt >/dev/null
	kill "$sp"
	wait "$sp" 2>/dev/null
	expect_match "provision: the disk child loads its seccomp program first" \
	    "$(grep -v -e PDEATHSIG -e DUMPABLE "$T/child.trace" | head -1)" \
	    "prctl\(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, \{len=[0-9]+, .*\) = 0"
	expect_match "provision: ...then reads and writes the disk" \
	    "$(grep -c -E 'p(read|write)64\(.* = [0-9]+$' "$T/child.trace")" \
	    "^[1-9][0-9]*$"
	# One sync, once every block and the superblock are written (the
	# superblock's bytes go by write(); the report, too, after it).
	# libext2fs syncs once more at its close, before it writes: the
	# disk, as the parent made it, is clean then.
	expect_eq "provision: ...syncs it once after its first write" \
	    "$(sed -n '/pwrite64(/,$p' "$T/child.trace" | grep -c 'fsync(')" 1
	expect_match "provision: ...after all its writes to the disk, before its report" \
	    "$(grep -E ' (p?write(64)?|fsync)\(' "$T/child.trace" | grep -v ' write([0-9]*, "ssh-' |
	        sed -E 's/^[0-9]+ +([a-z0-9]+)\(([0-9]+).*/\1 \2/' | uniq | tail -3 | tr '\n' ' ')" \
	    "^write [0-9]+ fsync [0-9]+ write [0-9]+ $"
	expect_eq "provision: ...which the provisioner did not touch" \
	    "$(grep "^$pp " "$T/child.trace" | grep -vc -- ' --- SIG')" 0
	expect_eq "provision: ...and its files are in" \
	    "$(disk_file pt /etc/hostname)" "pt"
else
	skip "provision: the disk child's filter" "no strace"
fi

# A burst: requests that come while their group's disk child runs (here,
# while the provisioner is stopped) wait, and the group's next child
# takes them all; another owner's VMs of the same image are a group of
# their own, with a child of its own.  One group's child is the
# standby, the other's is forked.
if command -v strace >/dev/null 2>&1 && [ -n "$pp" ]; then
	wait_for 10 sh -c "pgrep -P $pp >/dev/null"
	sb=$(standby)
	kill -STOP "$pp"
	strace -f -qq -p "$pp" -p "$sb" -e trace=clone,clone3,fork,vfork,close_range,prlimit64,sync_file_range,fsync,write \
	    -o "$T/batch.trace" &
	sp=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$pp/status"
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$sb/status"
	n0=$(grep -c ': created for uid' "$DLOG")
	cpids=
	for n in b1 b2 b3; do ctl vm create "$n" >"$T/$n.out" 2>&1 & cpids="$cpids $!"; done
	for n in u1 u2; do user vm create "$n" >"$T/$n.out" 2>&1 & cpids="$cpids $!"; done
	# Each asked of the provisioner once the parent has made its disk.
	wait_for 30 sh -c "[ \$(grep -c ': created for uid' $DLOG) -ge $((n0 + 5)) ]"
	sleep 1
	kill -CONT "$pp"
	# Not a bare wait: bangerd is a child of this shell too.
	wait $cpids
	kill "$sp"
	wait "$sp" 2>/dev/null
	for n in b1 b2 b3; do
		expect_eq "provision: burst: $n is created" \
		    "$(ctl vm show --json "$n" | jq -r .state)" "created"
		expect_eq "provision: burst: $n's disk has its hostname" \
		    "$(disk_file "$n" /etc/hostname)" "$n"
	done
	for n in u1 u2; do
		expect_eq "provision: burst: the other owner's $n is created" \
		    "$(user vm show --json "$n" | jq -r .state)" "created"
		expect_eq "provision: burst: $n's disk has its hostname" \
		    "$(disk_file "$n" /etc/hostname)" "$n"
	done
	# The disk children: the pids the trace names that limit their
	# CPU (the standby that follows them only waits).
	kids=$(grep -E '^[0-9]+ +prlimit64\(0, RLIMIT_CPU' "$T/batch.trace" |
	    awk '{ print $1 }' | sort -u | tr '\n' ' ')
	kids=${kids% }
	expect_eq "provision: burst: five disks, two owners: two disk children" \
	    "$(echo $kids | wc -w)" 2
	expect_eq "provision: burst: ... one of them the standby" \
	    "$(echo " $kids " | grep -c " $sb ")" 1
	# Each child first closes every descriptor but its own disks' and
	# pipes' (the other group's, waiting, among them); the standby did
	# as it was forked, and held nothing but 0-2 and its socket (above).
	forked=$(echo $kids | tr ' ' '\n' | grep -vx "$sb")
	expect_eq "provision: burst: the forked child closes all but its own descriptors" \
	    "$(grep -c -E "^$forked +close_range\([0-9]+, 4294967295, 0" "$T/batch.trace")" 1
	expect_eq "provision: burst: ... with success" \
	    "$(grep -v "^$pp " "$T/batch.trace" | grep -E 'close_range' | grep -c -- '= -1')" 0
	# ... and limits its CPU to 10 s a disk it took (3 and 2).
	expect_eq "provision: burst: each child limits its CPU by its disks" \
	    "$(grep -v "^$pp " "$T/batch.trace" | grep -o -E 'prlimit64\(0, RLIMIT_CPU, \{rlim_cur=[0-9]+' |
	        sed 's/.*=//' | sort -n | tr '\n' ' ')" "20 30 "
	# Each child writes its disks, each one's writeback started once it
	# is written (S), then syncs each (F) before its report (W W): its
	# disks, then what follows its last sync_file_range.
	for c in $kids; do
		grep "^$c " "$T/batch.trace" | sed "s/^$c *//" |
		    grep -o -E '^(sync_file_range|fsync|write)\(' |
		    sed 's/sync_file_range(/S/; s/fsync(/F/; s/write(/W/' |
		    tr -d '\n' | sed 's/^[^S]*//; s/^\(S*\)[^S]*S/\1S/' |
		    awk '{ t = $0; sub(/.*S/, "", t); n = gsub(/S/, "", $0); print n, t }'
	done | sort >"$T/batch.sync"
	expect_eq "provision: burst: each child starts its disks' writeback, then syncs each before its report" \
	    "$(tr '\n' '|' <"$T/batch.sync")" "2 FWWFWW|3 FWWFWWFWW|"
	wait_for 10 sh -c "! pgrep -P $pp | grep -qx -e ${kids% *} -e ${kids#* }"
	expect_eq "provision: burst: both reaped" \
	    "$(pgrep -P "$pp" | grep -cx -e "${kids% *}" -e "${kids#* }")" 0
	wait_for 10 sh -c "pgrep -P $pp >/dev/null"
	sb=$(standby)
	expect_eq "provision: burst: a new standby waits, alone" \
	    "$(pgrep -P "$pp" | wc -l) $(echo " $kids " | grep -c " $sb ")" "1 0"
	expect_match "provision: burst: the provisioner is back to 0-2 and two sockets" \
	    "$(ls /proc/$pp/fd | sort -n | head -3 | tr '\n' ' ')$(only_sockets $pp | awk '{ print $2 }' | tr '\n' ' ')" \
	    "^0 1 2 socket socket $"
	for n in b1 b2 b3; do ctl vm rm "$n" >/dev/null; done
	for n in u1 u2; do user vm rm "$n" >/dev/null; done
else
	skip "provision: a burst's disk children" "no strace"
fi

# The standby killed before it is given a disk: the provisioner forks
# the next child, and creation goes on; a new standby follows.
if [ -n "$pp" ]; then
	wait_for 10 sh -c "pgrep -P $pp >/dev/null"
	sb=$(standby)
	kill -KILL "$sb"
	expect_match "provision: with the standby killed, creation goes on" \
	    "$(ctl vm create k1 2>&1)" "^vm k1 created"
	expect_eq "provision: ... its disk has its hostname" "$(disk_file k1 /etc/hostname)" "k1"
	wait_for 10 sh -c "[ ! -e /proc/$sb ] && pgrep -P $pp >/dev/null"
	expect_eq "provision: ... the dead standby was reaped, and a new one waits" \
	    "$(test -e /proc/$sb && echo "$sb still there")$(standby | wc -l)" "1"
	ctl vm rm k1 >/dev/null
fi

# A new disk goes to the vm worker as soon as the parent has made it,
# before the tap (the parent's only descriptor passed in a creation),
# and is written while the parent makes the tap and syncs its record.
# slowed CMD...: CMD with each sync of the parent's 300 ms late.
slowed() {
	strace -qq -p "$DPID" -e trace=fdatasync,fsync \
	    -e inject=fdatasync,fsync:delay_enter=300000 -o /dev/null &
	SP=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$DPID/status"
	"$@"
	kill "$SP"; wait "$SP" 2>/dev/null; SP=
}
# nothing_left: the disks, records, VM directories and taps there are.
nothing_left() {
	ls "$STATE/disks" "$STATE/priv" "$STATE/vms"
	in_ns ip -o link | grep -c fc-tap-
}
if command -v strace >/dev/null 2>&1; then
	strace -qq -p "$DPID" -e trace=sendmsg,ioctl -o "$T/early.trace" &
	SP=$!
	wait_for 10 sh -c "! grep -q '^TracerPid:[[:space:]]*0$' /proc/$DPID/status"
	ctl vm create e1 >/dev/null
	kill "$SP"; wait "$SP" 2>/dev/null; SP=
	fdsend=$(grep -n 'SCM_RIGHTS' "$T/early.trace" | head -1 | cut -d: -f1)
	tapmade=$(grep -n 'TUNSETIFF' "$T/early.trace" | head -1 | cut -d: -f1)
	check "provision: a new disk is handed over before its tap is made" \
	    test "${fdsend:-0}" -gt 0 -a "${fdsend:-0}" -lt "${tapmade:-0}"
	expect_eq "provision: ... and handed over once" \
	    "$(grep -c 'SCM_RIGHTS' "$T/early.trace")" 1
	expect_eq "provision: ... and written" "$(disk_file e1 /etc/hostname)" "e1"
	ctl vm rm e1 >/dev/null

	slowed ctl vm create e2 >/dev/null
	id=$(vm_id e2)
	prov=$(grep -n 'vm: vm e2: provisioned' "$DLOG" | head -1 | cut -d: -f1)
	made=$(grep -n "vm $id: created for uid" "$DLOG" | head -1 | cut -d: -f1)
	check "provision: with the parent's syncs slow, the disk is written before the parent records it created" \
	    test "${prov:-0}" -gt 0 -a "${prov:-0}" -lt "${made:-0}"
	expect_eq "provision: ... and the VM is created once both are done" \
	    "$(ctl vm show --json e2 | jq -r .state) $(disk_file e2 /etc/hostname)" \
	    "created e2"
	ctl vm rm e2 >/dev/null

	# Provisioning fails before the parent's part is done: the VM is
	# undone once it is, and nothing of it is left.
	before=$(nothing_left)
	out=$(slowed ctl vm create f1 --image full 2>&1)
	expect_match "provision: a disk that cannot be written, before the parent is done: refused" \
	    "$out" "^bangerctl: vm f1: provisioning its disk: .*inode"
	expect_eq "provision: ... nothing of it is left" "$(nothing_left)" "$before"
	expect_eq "provision: ... and no VM" "$(ctl vm ls --json | jq -r '.[].name' | grep -c '^f1$')" 0
else
	skip "provision: a new disk handed over before its tap" "no strace"
fi
# ... and after it: the parent is done before the disk child starts.
if [ -n "$pp" ]; then
	before=$(nothing_left)
	kill -STOP "$pp"
	n0=$(grep -c ': created for uid' "$DLOG")
	ctl vm create f2 --image full >"$T/f2.out" 2>&1 &
	cp=$!
	wait_for 30 sh -c "[ \$(grep -c ': created for uid' $DLOG) -gt $n0 ]"
	kill -CONT "$pp"
	wait "$cp"
	expect_match "provision: a disk that cannot be written, after the parent is done: refused" \
	    "$(cat "$T/f2.out")" "^bangerctl: vm f2: provisioning its disk: .*inode"
	expect_eq "provision: ... nothing of it is left" "$(nothing_left)" "$before"
fi

# The provisioner killed: the next creation goes on, the worker forks.
if [ -n "$pp" ]; then
	wait_for 10 sh -c "pgrep -P $pp >/dev/null"
	sb=$(standby)
	kill -KILL "$pp"
	wait_for 10 sh -c "grep -q zombie /proc/$pp/status 2>/dev/null"
	wait_for 10 gone $sb
	expect_eq "provision: the standby goes with the provisioner" \
	    "$(test -e /proc/$sb && echo "$sb still there")" ""
fi
expect_match "provision: with the provisioner gone, creation goes on" \
    "$(ctl vm create p2 2>&1)" "^vm p2 created"
expect_eq "provision: ...its disk has its hostname" "$(disk_file p2 /etc/hostname)" "p2"
expect_match "provision: the worker says it forks the disk children now" \
    "$(cat "$DLOG")" "provisioner: .*; disk children are the worker's from now on"
expect_eq "provision: the dead provisioner was reaped" \
    "$(pgrep -P "$vw" | wc -l)" 0
ctl vm create p3 >/dev/null
expect_eq "provision: and the next creation too" "$(disk_file p3 /etc/hostname)" "p3"

# A new vm worker forks a new provisioner; the old one's goes with it.
vw=$(worker_pid vm)
kill -KILL "$vw"
wait_for 20 sh -c "[ -n \"\$(ctl status --json 2>/dev/null | jq -r '.workers[] | select(.role == \"vm\" and .state == \"running\" and .pid > 0 and .pid != $vw) | .pid')\" ]"
pp=$(provisioner)
expect_eq "provision: a restarted vm worker forks its own provisioner" \
    "$(echo "$pp" | wc -w)" 1
ctl vm create p4 >/dev/null
expect_eq "provision: through which VMs are created" "$(disk_file p4 /etc/hostname)" "p4"
vw=$(worker_pid vm)
wait_for 10 sh -c "pgrep -P $pp >/dev/null"
sb=$(standby)
expect_eq "provision: ... which keeps a standby" "$(echo "$sb" | wc -w)" 1
daemon_stop
wait_for 10 gone $vw $pp $sb
expect_eq "provision: the provisioner and its standby leave with the daemon" \
    "$(for p in $vw $pp $sb; do [ -e /proc/$p ] && echo "$p"; done)" ""
t_done
