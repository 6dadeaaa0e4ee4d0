# The records' two files (bangerd(8)): what a power cut must keep is
# synced (STATE/priv/ID, STATE/vms/ID/vm.json); the run-time states go
# to ID.run and vm.run, never synced, read back after a crash of the
# daemon and never after a power cut.  A power cut is forged as it
# would leave those files: from another boot, torn, or older than the
# synced record.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "records" "needs root to start bangerd"
	fi
if ! command -v strace >/dev/null; then
	skip "records" "strace is not installed (scripts/deps.sh installs it)"
	fi

daemon_setup 'bridge "br-fc" {
	address 10.78.0.1/29
}'
trap 'kill $SP 2>/dev/null; [ -n "${DPID:-}" ] && kill -CONT "$DPID" 2>/dev/null; daemon_cleanup' EXIT
vm_daemon_start records

fc_pid() { ctl vm show --json "$1" | jq -r .pid; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
vmw() { ctl status --json | jq -r '.workers[] | select(.role == "vm") | .pid'; }
restart() {
	if ! daemon_start; then
		fail "records: $1: daemon starts again" "$(tail -5 "$DLOG")"
			fi
	wait_for 10 ctl vm ls
}
# The syncs the parent and the vm worker make while "$@" runs, one
# line each, with the file they sync (not their children's: a start's
# e2fsck syncs the disk it checks).
syncs() {
	local out=$T/strace.$RANDOM
	strace -qq -y -e trace=fsync,fdatasync,sync_file_range,syncfs \
	    -p "$DPID" -p "$(vmw)" -o "$out" &
	SP=$!
	sleep 0.5
	"$@" >/dev/null
	sleep 0.2
	kill "$SP"
	wait "$SP" 2>/dev/null
	SP=
	grep -E '^[0-9]+ +(fsync|fdatasync|sync_file_range|syncfs)\(' "$out" |
	    sed 's/^[0-9]* *//'
}

# Creation is synced in both processes: its record, its disk.  The
# parent's journal once, for "created" (which syncs "creating", written
# unsynced before it: a power cut that takes that takes the creation
# with it, and the sweep removes what it made), and nothing else of the
# parent's record is written: the address goes with "created" (a
# creation cut short is undone whatever its record names, and a
# restarted net worker drops the addresses no record names).
syncs ctl vm create r1 >"$T/r1.syncs"
n=$(grep -c . "$T/r1.syncs")
check "records: a creation is synced" test "$n" -gt 0
expect_eq "records: ... the parent's journal synced once" \
    "$(grep -c "fdatasync([0-9]*<$STATE/priv/.journal>)" "$T/r1.syncs")" 1
strace -qq -e trace=openat,rename,renameat,renameat2 -p "$DPID" \
    -o "$T/r0.files" &
SP=$!
sleep 0.5
ctl vm create r0 >/dev/null
kill "$SP"; wait "$SP" 2>/dev/null; SP=
expect_eq "records: ... and no run-time record of the parent's written" \
    "$(grep -c '/priv/[0-9a-f]*\.run' "$T/r0.files")" 0
ctl vm rm r0 >/dev/null
id=$(vm_id r1)
P=$STATE/priv/$id
V=$STATE/vms/$id
expect_eq "records: ... the created VM has no run-time record" \
    "$(ls "$P.run" "$V/vm.run" 2>/dev/null)" ""
gen=$(field gen "$P")
check "records: ... its record counts its synced saves" test "${gen:-0}" -ge 2

# A first start is synced once, in the state before it (a guest has
# booted the disk: e2fsck checks it at every start from then on).
n=$(syncs ctl vm start r1 | grep -c .)
check "records: a first start is synced" test "$n" -gt 0
expect_eq "records: ... as the state before it" \
    "$(jq -r '.state, .fresh // false' "$V/vm.json" | tr '\n' ' ')" "created false "
# The first start is asked of the parent before that sync, which runs
# while the parent spawns Firecracker: what must be durable first is
# the record, before the guest runs (the first request to its API).
ctl vm create r2 >/dev/null
strace -qq -y -e trace=sendmsg,fdatasync,connect -p "$(vmw)" \
    -o "$T/r2.start" &
SP=$!
sleep 0.5
ctl vm start r2 >/dev/null
kill "$SP"; wait "$SP" 2>/dev/null; SP=
ask=$(grep -n -E '^sendmsg\(3[<,]' "$T/r2.start" | head -1 | cut -d: -f1)
synced=$(grep -n 'fdatasync(' "$T/r2.start" | head -1 | cut -d: -f1)
api=$(grep -n 'connect(.*firecracker\.socket' "$T/r2.start" | head -1 |
    cut -d: -f1)
check "records: a first start is asked of the parent before it is synced" \
    test "${ask:-0}" -gt 0 -a "${ask:-0}" -lt "${synced:-0}"
check "records: ... and synced before its VM's API is used" \
    test "${synced:-0}" -gt 0 -a "${synced:-0}" -lt "${api:-0}"
ctl vm rm -f r2 >/dev/null
ctl vm stop r1 >/dev/null
# Starts and stops after it are run-time states: nothing synced.
expect_eq "records: a start syncs nothing" "$(syncs ctl vm start r1)" ""
pid=$(fc_pid r1)
expect_eq "records: ... the synced record still says created" \
    "$(field state "$P") $(field pid "$P")" "1 0"
expect_eq "records: ... the run-time record says running, with its pid" \
    "$(field state "$P.run") $(field pid "$P.run")" "2 $pid"
expect_eq "records: ... following the synced record's gen, in this boot" \
    "$(field gen "$P.run") $(field boot "$P.run")" \
    "$gen $(cat /proc/sys/kernel/random/boot_id)"
expect_eq "records: ... and so does the vm worker's" \
    "$(jq -r '.state, .gen' "$V/vm.run" | tr '\n' ' ')" "running $(jq -r .gen "$V/vm.json") "
expect_eq "records: a stop syncs nothing" "$(syncs ctl vm stop r1)" ""

# The net worker's table of addresses is never synced: the parent
# records each address, and names every VM's again at each start of the
# net worker (crash.sh: a torn table).  Its lease is still written.
netw() { ctl status --json | jq -r '.workers[] | select(.role == "net") | .pid'; }
strace -qq -y -e trace=fsync,fdatasync,sync_file_range,syncfs \
    -p "$(netw)" -o "$T/net.strace" &
SP=$!
sleep 0.5
ctl vm create n1 >/dev/null
nid=$(vm_id n1)
naddr=$(ctl vm show --json n1 | jq -r .address)
wait_for 5 grep -q "^$nid $naddr\$" "$STATE/net/ipam.table"
expect_match "records: ... a new VM's lease is in the net worker's table" \
    "$(cat "$STATE/net/ipam.table")" "^$nid $naddr$"
ctl vm rm n1 >/dev/null
wait_for 5 sh -c "! grep -q '^$nid ' '$STATE/net/ipam.table'"
expect_eq "records: ... and gone once it is removed" \
    "$(grep -c "^$nid " "$STATE/net/ipam.table")" 0
sleep 0.2
kill "$SP"
wait "$SP" 2>/dev/null

# Each write of the table is the whole of it (thousands of lines at
# thousands of VMs): the net worker writes the changes at hand
# together, not one write per creation.
strace -qq -y -e trace=rename,renameat,renameat2 -p "$(netw)" \
    -o "$T/netw.strace" &
SP=$!
sleep 0.5
cpids=
for i in 1 2 3 4; do
	ctl vm create "b$i" >/dev/null &
	cpids="$cpids $!"
done
for i in $cpids; do wait "$i"; done
for i in 1 2 3 4; do
	wait_for 5 grep -q "^$(vm_id "b$i") " "$STATE/net/ipam.table"
done
sleep 0.5
kill "$SP"; wait "$SP" 2>/dev/null; SP=
expect_eq "records: four creations at once are all made, with their leases" \
    "$(for i in 1 2 3 4; do grep -c "^$(vm_id "b$i") " "$STATE/net/ipam.table"; done | tr -d '\n')" 1111
n=$(grep -c 'ipam\.table' "$T/netw.strace")
check "records: ... written together ($n writes of the table)" \
    test "$n" -ge 1 -a "$n" -le 2
for i in 1 2 3 4; do ctl vm rm "b$i" >/dev/null; done
SP=
expect_eq "records: the net worker syncs nothing for a creation and a removal" \
    "$(grep -E '(fsync|fdatasync|sync_file_range|syncfs)\(' "$T/net.strace")" ""
expect_eq "records: ... the run-time records say stopped" \
    "$(field state "$P.run") $(jq -r .state "$V/vm.run")" "1 stopped"

# A crash of the daemon: the run-time records are the later ones.
ctl vm start r1 >/dev/null
pid=$(fc_pid r1)
daemon_kill
restart "crash"
expect_eq "records: after a crash a running VM is adopted from its run-time record" \
    "$(ctl vm show --json r1 | jq -r '.state, .pid' | tr '\n' ' ')" \
    "running $pid "
expect_match "records: ... the parent logs it" "$(cat "$DLOG")" \
    "vm $id: re-adopted firecracker pid $pid"

# A power cut: Firecracker gone, and ID.run from the boot before.
daemon_kill
kill -KILL "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
sed -i 's/^boot .*/boot 00000000-0000-4000-8000-000000000000/' "$P.run"
restart "power cut"
expect_match "records: a run-time record of an earlier boot is not read" \
    "$(cat "$DLOG")" \
    "vm $id: $P.run is of an earlier boot: the synced record holds"
expect_eq "records: ... the VM is stopped, its record the synced one" \
    "$(ctl vm show --json r1 | jq -r '.state, .pid' | tr '\n' ' ')" \
    "stopped 0 "
expect_eq "records: ... and the stale file is gone" \
    "$(ls "$P.run" 2>/dev/null)" ""
expect_eq "records: ... it starts again" "$(ctl vm start r1)" "vm r1 started"

# Torn, and older than the synced record: both left unread.
pid=$(fc_pid r1)
daemon_kill
kill -KILL "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
head -c 40 "$P.run" >"$T/torn" && cat "$T/torn" >"$P.run"
head -c 40 "$V/vm.run" >"$T/torn" && cat "$T/torn" >"$V/vm.run"
restart "torn"
log=$(cat "$DLOG")
expect_match "records: a torn run-time record is not read (parent)" "$log" \
    "vm $id: $P.run is not whole: the synced record holds"
expect_match "records: ... nor the vm worker's" "$log" \
    "vm $id: /vms/$id/vm.run is not whole: vm.json holds"
expect_eq "records: ... the VM is as its first start left it, not running" \
    "$(ctl vm show --json r1 | jq -r '.state, .pid' | tr '\n' ' ')" "created 0 "
ctl vm start r1 >/dev/null
pid=$(fc_pid r1)
daemon_kill
kill -KILL "$pid"
wait_for 5 sh -c "! kill -0 $pid 2>/dev/null"
sed -i "s/^gen .*/gen $(( $(field gen "$P") - 1 ))/" "$P.run"
restart "older"
expect_match "records: a run-time record older than its record is not read" \
    "$(cat "$DLOG")" \
    "vm $id: $P.run is older than its record: the synced record holds"
expect_eq "records: ... the VM is stopped" \
    "$(ctl vm show --json r1 | jq -r .state)" stopped

# Left by a crash: a run-time record of no VM, and temporary ones.
daemon_kill
o=0123abcd
echo "id $o" >"$STATE/priv/$o.run"
echo "id $id" >"$P.run.tmp"
echo '{}' >"$V/.vm.run.tmp"
restart "leftovers"
log=$(cat "$DLOG")
expect_match "records: a run-time record of no VM is swept" "$log" \
    "sweep: removed $STATE/priv/$o.run, the run-time record of no VM"
expect_match "records: ... an unfinished one too" "$log" \
    "sweep: removed $P.run.tmp, an unfinished record"
expect_match "records: ... and the vm worker's" "$log" \
    "vm $id: removed /vms/$id/.vm.run.tmp, left by a crash"
expect_eq "records: ... nothing else of them is left" \
    "$(ls "$STATE/priv/$o.run" "$P.run.tmp" "$V/.vm.run.tmp" 2>/dev/null)" ""

# Creations at hand are recorded together: four whose requests reach
# the parent at once (it was stopped while the vm worker sent them)
# share the syncs of their last records; their first ones are written
# unsynced, each before anything of it is made.
vmdirs() { ls "$STATE/vms" | wc -l; }
# creates_at_once PID NAME: four creations (NAME1 to NAME4) whose
# requests reach process PID together: it is stopped while they are
# sent (the parent until the vm worker has recorded them all), its
# syncs and writes at an offset traced to $T/NAME.strace.
creates_at_once() {
	local pid=$1 name=$2 i cpids= n0
	n0=$(vmdirs)
	strace -qq -y -s 65536 -e trace=fsync,fdatasync,pwrite64 -p "$pid" \
	    -o "$T/$name.strace" &
	SP=$!
	sleep 0.5
	kill -STOP "$pid"
	for i in 1 2 3 4; do
		ctl vm create "$name$i" >"$T/$name$i.out" 2>&1 &
		cpids="$cpids $!"
	done
	[ "$pid" != "$DPID" ] ||
	    wait_for 10 sh -c "[ \$(ls '$STATE/vms' | wc -l) -ge $((n0 + 4)) ]"
	sleep 0.3
	kill -CONT "$pid"
	for i in $cpids; do wait "$i"; done
	kill "$SP"; wait "$SP" 2>/dev/null; SP=
}
creates_at_once "$DPID" g
expect_eq "records: four creations at once are all made" \
    "$(ctl vm ls --json | jq -r '[.[] | select(.name | test("^g")) | .state] | join(" ")')" \
    "created created created created"
# Their first records: the writes and syncs before the first disk's,
# in the parent's journal (STATE/priv/.journal).
PJ=$STATE/priv/.journal
first=$(sed -n '/disks\//q; p' "$T/g.strace")
expect_eq "records: ... their first records written to the journal, none synced" \
    "$(echo "$first" | grep "pwrite64([0-9]*<$PJ>" | grep -o 'R [0-9a-f]\{8\} [0-9]* [0-9]* [0-9a-f]\{32\}\\nid ' | wc -l) $(echo "$first" | grep -c "fdatasync([0-9]*<$PJ>)") $(echo "$first" | grep -c 'fsync(')" "4 0 0"
# Their disks, synced before each is recorded created, and their
# directory once for them all (disk_create leaves them unsynced).
n=$(grep -c "fsync([0-9]*<$STATE/disks>)" "$T/g.strace")
check "records: ... their disks' directory synced together ($n syncs for 4)" \
    test "$n" -ge 1 -a "$n" -lt 4
order=
for i in 1 2 3 4; do
	gid=$(vm_id "g$i")
	d=$(grep -n "fsync([0-9]*<$STATE/disks/$gid\.ext4>)" "$T/g.strace" | head -1 | cut -d: -f1)
	r=$(grep -n "pwrite64([0-9]*<$PJ>, .*R $gid " "$T/g.strace" | tail -1 | cut -d: -f1)
	[ -n "$d" ] && [ -n "$r" ] && [ "$d" -lt "$r" ] && order="${order}y" || order="${order}n"
done
expect_eq "records: ... each disk synced before its VM is recorded created" "$order" yyyy
for i in 1 2 3 4; do ctl vm rm "g$i" >/dev/null; done

# The vm worker too: four creations whose requests it reads together
# (it was stopped while the clients sent them) share the syncs of its
# journal (/vms/.journal): their first records go in shared writes,
# each synced once, and no record file or directory is synced.
J=$STATE/vms/.journal
# jsyncs FILE: the vm worker's journal syncs traced in FILE, then its
# other syncs.
jsyncs() {
	echo "$(grep -c "fdatasync([0-9]*<$J>)" "$1") $(grep -E '(fsync|fdatasync)\(' "$1" | grep -vc "<$J>")"
}
w=$(vmw)
strace -qq -y -s 65536 -e trace=fsync,fdatasync,pwrite64 -p "$w" -o "$T/h.strace" &
SP=$!
sleep 0.5
kill -STOP "$w"
cpids=
for i in 1 2 3 4; do
	ctl vm create "h$i" >"$T/h$i.out" 2>&1 &
	cpids="$cpids $!"
done
sleep 0.3
kill -CONT "$w"
for i in $cpids; do wait "$i"; done
kill "$SP"; wait "$SP" 2>/dev/null; SP=
expect_eq "records: four creations read at once by the vm worker are all made" \
    "$(cat "$T"/h[1-4].out | sort | sed 's/ (id .*//')" "vm h1 created
vm h2 created
vm h3 created
vm h4 created"
first=$(grep -m1 "pwrite64([0-9]*<$J>" "$T/h.strace")
n=$(echo "$first" | grep -o 'R [0-9a-f]\{8\} [0-9]* [0-9]* [0-9a-f]\{32\}\\n{' | wc -l)
check "records: ... their first records share writes to the journal ($n in the first)" \
    test "$n" -ge 2
set -- $(jsyncs "$T/h.strace")
check "records: ... the journal synced fewer times than the 8 records ($1)" \
    test "$1" -ge 2 -a "$1" -lt 8
expect_eq "records: ... and no record file or directory synced" "$2" 0
for i in 1 2 3 4; do ctl vm rm "h$i" >/dev/null; done

# A client hears that its VM is created only once the record saying so
# is synced: the vm worker's answer on the control socket follows the
# last sync of its journal.
strace -qq -yy -e trace=fdatasync,sendmsg,write -p "$w" -o "$T/reply.strace" &
SP=$!
sleep 0.5
ctl vm create z1 >/dev/null
sleep 0.2
kill "$SP"; wait "$SP" 2>/dev/null; SP=
last_sync=$(grep -n "fdatasync([0-9]*<$J>)" "$T/reply.strace" |
    tail -1 | cut -d: -f1)
first_reply=$(grep -n -E '^([0-9]+ +)?(sendmsg|write)\([0-9]+<UNIX-STREAM:.*bangerd\.sock' \
    "$T/reply.strace" | head -1 | cut -d: -f1)
check "records: the client is told its VM is created after its record is synced (sync at line ${last_sync:-none}, answer at ${first_reply:-none})" \
    test -n "$last_sync" -a -n "$first_reply" -a "${first_reply:-0}" -gt "${last_sync:-0}"
ctl vm rm z1 >/dev/null

# A vm worker killed with creations at hand, before the parent wrote
# their records: nothing of them is left, in either process.
w=$(vmw)
n0=$(vmdirs)
kill -STOP "$DPID"
cpids=
for i in 1 2; do
	ctl vm create "k$i" >/dev/null 2>&1 &
	cpids="$cpids $!"
done
wait_for 10 sh -c "[ \$(ls '$STATE/vms' | wc -l) -ge $((n0 + 2)) ]"
sleep 0.3
kill -KILL "$w"
kill -CONT "$DPID"
for p in $cpids; do wait "$p"; done
wait_for 10 daemon_workers_running
wait_for 10 sh -c "! ctl vm ls --json | jq -e '.[] | select(.name | test(\"^k\"))'"
expect_eq "records: creations cut short by the vm worker's end leave no VM" \
    "$(ctl vm ls --json | jq -r '.[].name' | grep '^k')" ""
expect_eq "records: ... no record of either process" \
    "$(grep -l '^name k[12]$' "$STATE"/priv/* 2>/dev/null; grep -l '"k[12]"' "$STATE"/vms/*/vm.json 2>/dev/null)" ""
expect_eq "records: ... no disk, no tap" \
    "$(ls "$STATE/disks" | grep -vc "^$id\.ext4$"; vm_taps | grep -vc "$id")" "0
0"

# Removal: both records of both processes go.
ctl vm start r1 >/dev/null
ctl vm rm -f r1 >/dev/null
expect_eq "records: a removed VM leaves no record of either kind" \
    "$(ls "$STATE/priv" "$STATE/vms")" "$STATE/priv:

$STATE/vms:"

# A prune's removing records join one group commit: one write to the
# journal, synced once, no record file or directory synced, and every
# removal asked of the parent, and the answer, only after it.
for i in 1 2 3 4; do ctl vm create "p$i" >/dev/null; done
w=$(vmw)
strace -qq -yy -s 65536 -e trace=fsync,fdatasync,pwrite64,sendmsg,write,writev -p "$w" -o "$T/prune.strace" &
SP=$!
sleep 0.5
out=$(ctl vm prune)
sleep 0.2
kill "$SP"; wait "$SP" 2>/dev/null; SP=
expect_eq "records: a prune removes the VMs at rest" "$out" "removed 4 VMs"
first=$(grep -m1 "pwrite64([0-9]*<$J>" "$T/prune.strace")
expect_eq "records: ... their removing records are in one write to the journal" \
    "$(echo "$first" | grep -o '\\"state\\": \\"removing\\"' | wc -l)" 4
sync1=$(grep -n -E '^([0-9]+ +)?(fsync|fdatasync)\(' "$T/prune.strace" | head -1)
expect_match "records: ... the first sync is the journal's" "$sync1" "fdatasync\([0-9]+<$J>\)"
last_sync=${sync1%%:*}
first_msg=$(grep -n -E '^([0-9]+ +)?(sendmsg|write|writev)\([0-9]+<UNIX' "$T/prune.strace" |
    head -1 | cut -d: -f1)
check "records: ... nothing said to the parent or the client before it (sync at line ${last_sync:-none}, first message at ${first_msg:-none})" \
    test -n "$last_sync" -a -n "$first_msg" -a "${first_msg:-0}" -gt "${last_sync:-0}"
expect_eq "records: ... no record file or directory synced" \
    "$(grep -E '^([0-9]+ +)?(fsync|fdatasync)\(' "$T/prune.strace" | grep -vc "<$J>")" 0
expect_eq "records: ... and leaves no record of either kind" \
    "$(ls "$STATE/priv" "$STATE/vms")" "$STATE/priv:

$STATE/vms:"

# The vm worker's journal against a power cut, forged as one would
# leave its files: a record's rename lost (vm.json older), a new VM's
# directory lost, a removed VM's files kept, the last commit torn.  A
# crash leaves the journal as it is; each start syncs every record it
# holds in its file and empties it.
jbytes() { tr -d '\0' <"$J" | wc -c; }
for i in 1 2 3; do ctl vm create "j$i" >/dev/null; done
j1=$(vm_id j1); j2=$(vm_id j2); j3=$(vm_id j3)
cp "$STATE/vms/$j1/vm.json" "$T/j1.json"
cp "$STATE/vms/$j3/vm.json" "$T/j3.json"
cp "$STATE/priv/$j3" "$T/p3"
ctl vm start j1 >/dev/null	# its first start: synced, fresh no more
ctl vm stop j1 >/dev/null
ctl vm rm j3 >/dev/null
ctl vm create j4 >/dev/null	# a commit after j3's last entry
jgen=$(jq -r .gen "$STATE/vms/$j1/vm.json")
daemon_kill
cat "$T/j1.json" >"$STATE/vms/$j1/vm.json"
rm -r "$STATE/vms/$j2"
mkdir "$STATE/vms/$j3"
cp "$T/j3.json" "$STATE/vms/$j3/vm.json"
chown -R --reference="$STATE/vms" "$STATE/vms/$j3"
off=$(jbytes)
printf 'R %s 99 500 0123\n{"gen": 99, "na' "$j1" |
    dd of="$J" bs=1 seek="$off" conv=notrunc status=none
# The parent's: j1's record torn, j2's lost, j3's kept after its
# removal, and its last commit torn too.
pgen=$(field gen "$STATE/priv/$j1")
head -c 20 "$STATE/priv/$j1" >"$T/torn" && cat "$T/torn" >"$STATE/priv/$j1"
rm -f "$STATE/priv/$j2" "$STATE/priv/$j2.run"
cp "$T/p3" "$STATE/priv/$j3"
poff=$(tr -d '\0' <"$PJ" | wc -c)
printf 'R %s 99 500 0123\nid %s\nna' "$j1" "$j1" |
    dd of="$PJ" bs=1 seek="$poff" conv=notrunc status=none
restart "journal"
log=$(cat "$DLOG")
expect_eq "records: journal: a record older than the journal's is read from it" \
    "$(ctl vm show --json j1 | jq -r .state) $(jq -r '.gen, .fresh // false' "$STATE/vms/$j1/vm.json" | tr '\n' ' ')" \
    "stopped $jgen false "
expect_match "records: ... and says so" "$log" \
    "vm $j1: /vms/$j1/vm.json is older: the journal's record \\(gen $jgen\\) is kept"
expect_eq "records: journal: a VM whose directory was lost is there again" \
    "$(ctl vm show --json j2 | jq -r .state) $(jq -r .name "$STATE/vms/$j2/vm.json")" "created j2"
expect_match "records: ... and says so" "$log" "vm $j2: /vms/$j2/vm.json is missing"
expect_eq "records: journal: a removed VM whose files were kept is gone" \
    "$(ctl vm ls --json | jq -r '.[].name' | grep -c '^j3$'; ls -d "$STATE/vms/$j3" 2>/dev/null)" 0
expect_match "records: ... and says so" "$log" \
    "vm $j3: removed /vms/$j3/vm.json: the journal says the VM is gone"
expect_match "records: journal: a torn last commit is left out" "$log" \
    "/vms/.journal: the entry at byte $off is not whole"
expect_eq "records: ... what came before it stands" "$(ctl vm show --json j4 | jq -r .state)" created
expect_match "records: journal: the start synced its records and emptied it" "$log" \
    "/vms/.journal: checkpoint: [1-9][0-9]* records synced in their files, the journal emptied"
expect_eq "records: journal: the parent's torn record is read from its journal" \
    "$(field name "$STATE/priv/$j1") $(field gen "$STATE/priv/$j1") $(tail -1 "$STATE/priv/$j1")" \
    "j1 $pgen end"
expect_match "records: ... and says so" "$log" \
    "vm $j1: $STATE/priv/$j1 is not whole: the journal's record \\(gen $pgen\\) is kept"
expect_eq "records: journal: the parent's lost record is there again" \
    "$(field name "$STATE/priv/$j2")" j2
expect_match "records: ... and says so" "$log" "vm $j2: $STATE/priv/$j2 is missing"
expect_eq "records: journal: the parent's record of a removed VM is gone" \
    "$(ls "$STATE/priv/$j3" 2>/dev/null)" ""
expect_match "records: ... and says so" "$log" \
    "vm $j3: removed $STATE/priv/$j3: the journal says the VM is gone"
expect_match "records: journal: the parent's torn last commit is left out" "$log" \
    "$PJ: the entry at byte $poff is not whole"
expect_match "records: journal: the parent's start synced its records and emptied it" "$log" \
    "$PJ: checkpoint: [1-9][0-9]* records synced in their files, the journal emptied"
expect_match "records: ... and the VMs start" "$(ctl vm start j1 2>&1; ctl vm start j2 2>&1)" \
    "^vm j1 started.*
vm j2 started"
ctl vm stop j1 >/dev/null; ctl vm stop j2 >/dev/null

# A creation's first record in the parent is not synced: a power cut
# may take it, with the creation.  Forged: the net worker stopped, so
# the creation waits for its address after that record; bangerd killed;
# the record lost from the parent's journal and its file, and a disk
# of its id there as if it had been made.  The sweep removes the disk,
# and the vm worker, whose record of the creation was synced, finds it
# cut short: nothing of it is left.
nw=$(worker_pid net)
kill -STOP "$nw"
ctl vm create pcut >"$T/pcut.out" 2>&1 &
cp_=$!
wait_for 10 sh -c "grep -aq '\"name\": \"pcut\"' '$J'"
pcid=$(grep -a '"name": "pcut"' -B3 "$J" | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
wait_for 10 test -e "$STATE/priv/$pcid"
daemon_kill
kill -CONT "$nw" 2>/dev/null
wait "$cp_" 2>/dev/null
pcoff=$(grep -abo "R $pcid " "$PJ" | head -1 | cut -d: -f1)
check "records: a creation's first record is in the parent's journal (at ${pcoff:-none})" \
    test -n "$pcoff"
if [ -n "$pcoff" ]; then
	dd if=/dev/zero of="$PJ" bs=1 seek="$pcoff" count=$(( $(stat -c %s "$PJ") - pcoff )) \
	    conv=notrunc status=none
fi
rm -f "$STATE/priv/$pcid"
truncate -s 1M "$STATE/disks/$pcid.ext4"
restart "a creation's first record lost"
log=$(cat "$DLOG")
expect_match "records: ... the disk it made is swept" "$log" \
    "sweep: removed orphan disk $STATE/disks/$pcid.ext4"
expect_match "records: ... the vm worker finds the creation cut short" "$log" \
    "vm pcut: its creation was cut short; nothing of it is left"
expect_eq "records: ... and nothing of it is left" \
    "$(ctl vm ls --json | jq -r '.[].name' | grep -c '^pcut$'; ls "$STATE/disks/$pcid.ext4" "$STATE/priv/$pcid" "$STATE/vms/$pcid" 2>/dev/null)" 0

# Past 128 KiB of entries the journal is emptied while bangerd runs.
n0=$(grep -c "/vms/.journal: checkpoint:" "$DLOG")
p0=$(grep -c "$PJ: checkpoint:" "$DLOG")
for i in $(seq 1 140); do
	ctl vm create "c$i" --start >/dev/null && ctl vm rm -f "c$i" >/dev/null
done
n1=$(grep -c "/vms/.journal: checkpoint:" "$DLOG")
p1=$(grep -c "$PJ: checkpoint:" "$DLOG")
check "records: journal: 140 lifecycles' entries emptied it at least once ($((n1 - n0)))" \
    test "$n1" -gt "$n0"
check "records: ... it holds less than 128 KiB ($(jbytes) bytes)" test "$(jbytes)" -lt 131072
check "records: ... and the parent's too ($((p1 - p0)))" test "$p1" -gt "$p0"
check "records: ... which holds less than 128 KiB ($(tr -d '\0' <"$PJ" | wc -c) bytes)" \
    test "$(tr -d '\0' <"$PJ" | wc -c)" -lt 131072
for i in 1 2 4; do ctl vm rm -f "j$i" >/dev/null; done
t_done
