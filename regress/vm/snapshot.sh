# vm snapshot, its ls and rm, end to end through bangerd with the idle
# Firecracker stand-in (which writes Firecracker 1.12's snapshot files):
# what the owner sees, what is on the host, what others may not do, and
# that a restart, a crash and vm rm leave nothing a record does not name.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "snapshot" "needs root to start bangerd"
	t_done
fi

daemon_setup
# The state directory on a tmpfs of 1 GiB, for a snapshot that does not
# fit (and one that does): unmounted once bangerd is gone.
mkdir -p "$STATE"
mount -t tmpfs -o size=1g,mode=0755 banger-regress "$STATE"
snap_cleanup() {
	daemon_stop
	umount "$STATE" 2>/dev/null
	daemon_cleanup
}
trap snap_cleanup EXIT
# Images whose stand-in tampers with its snapshot's files (a VMM taken
# over by its guest): fc_standin.snapshot_hostile in the boot args.
hostile=
for m in symlink link long none; do
	hostile="$hostile
image \"$m\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
	boot-args \"console=ttyS0 fc_standin.snapshot_hostile=$m\"
}"
done
# And one whose every API answer comes 1 s late: a snapshot that takes
# seconds, for a crash in the middle of it.
hostile="$hostile
image \"slow\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
	boot-args \"console=ttyS0 fc_standin.api_delay_ms=1000\"
}"
vm_daemon_start snapshot "$hostile"

bad() { fails_saying snapshot "$@"; }	# name want-regex command...

# The snapshots a VM's record names, and what STATE/snapshots holds.
recorded() { awk '$1 == "snap" {print $2, $3}' "$STATE/priv/$1" | sort; }
on_disk() { (cd "$STATE/snapshots" 2>/dev/null && find . -mindepth 1 | sort); }

ctl vm create web --memory 128M --disk 128M --start >/dev/null
id=$(vm_id web)

out=$(ctl vm snapshot web first)
expect_match "snapshot: vm snapshot reports what it took" "$out" \
    "^vm web: snapshot first taken \(128 MiB of memory, its disk by (reflink|copy)\)$"
expect_eq "snapshot: the VM runs again after its snapshot" \
    "$(ctl vm show --json web | jq -r .state)" "running"
expect_eq "snapshot: its VMM was resumed" \
    "$(ctl vm show --json web | jq -r .vmm_state)" "Running"
d=$STATE/snapshots/$id/first
expect_eq "snapshot: three files, root's; the VMM's readable by its group" \
    "$(cd "$d" && stat -c '%n %U %a' * | sort | tr '\n' ' ')" \
    "disk root 600 memory root 440 vmstate root 440 "
expect_eq "snapshot: ...which is the VM's own gid" \
    "$(stat -c %g "$d/memory" "$d/vmstate" | sort -u)" \
    "$(ctl vm show --json web | jq .uid)"
expect_eq "snapshot: its directories are root's, 0700" \
    "$(stat -c '%U %a' "$STATE/snapshots" "$STATE/snapshots/$id" "$d" | sort -u)" \
    "root 700"
expect_eq "snapshot: the memory file is the VM's memory" \
    "$(stat -c %s "$d/memory")" $((128 << 20))
expect_eq "snapshot: the disk is the VM's disk" \
    "$(cmp "$d/disk" "$STATE/disks/$id.ext4" && echo same)" "same"
expect_eq "snapshot: nothing is left in the jail" \
    "$(ls "$STATE/jail/firecracker/$id/root/run" | grep snapshot)" ""
expect_eq "snapshot: the record names it ready" "$(recorded "$id")" "first 2"

# What Firecracker was sent (the stand-in checks each body against
# Firecracker 1.12.1's API, and keeps them).
req=$STATE/jail/firecracker/$id/root/run/fc-standin.requests
body() { jq -c "select(.method == \"$1\" and .path == \"$2\") | .body" "$req"; }
expect_eq "snapshot: the VM was paused, then resumed" \
    "$(body PATCH /vm | tr '\n' ' ')" '{"state":"Paused"} {"state":"Resumed"} '
expect_eq "snapshot: a full snapshot into the jail's run/" \
    "$(body PUT /snapshot/create)" \
    '{"snapshot_type":"Full","snapshot_path":"/run/snapshot.vmstate","mem_file_path":"/run/snapshot.mem"}'
expect_eq "snapshot: every request succeeded" \
    "$(jq -r 'select(.status >= 300) | .path' "$req")" ""

js=$(ctl vm snapshot ls --json web)
expect_eq "snapshot: ls --json names it" \
    "$(echo "$js" | jq -r '.[] | "\(.vm) \(.name) \(.state) \(.memory)"')" \
    "web first ready $((128 << 20))"
expect_eq "snapshot: ls --json gives the disk's size" \
    "$(echo "$js" | jq '.[0].disk')" $((128 << 20))
expect_match "snapshot: ls shows it" "$(ctl vm snapshot ls web)" \
    "^first +ready +"

# Without a name: one of the moment.
expect_match "snapshot: without a name, it is named by the time" \
    "$(ctl vm snapshot web)" "^vm web: snapshot [0-9]{8}-[0-9]{6}-[0-9]{3} taken "
second=$(ctl vm snapshot ls --json web | jq -r '.[1].name')
js=$(ctl vm snapshot --json web)
expect_match "snapshot: --json gives the snapshot taken, named by the time" \
    "$(echo "$js" | jq -r '"\(.vm) \(.name) \(.state)"')" \
    "^web [0-9]{8}-[0-9]{6}-[0-9]{3} ready$"
expect_eq "snapshot: rm --json says what it removed" \
    "$(ctl vm snapshot rm --json web "$(echo "$js" | jq -r .name)" | jq -c .)" \
    "{\"vm\":\"web\",\"name\":\"$(echo "$js" | jq -r .name)\",\"removed\":true}"
bad "--json of a snapshot refused" "vm web already has a snapshot first" \
    ctl vm snapshot --json web first

# A paused VM is snapshotted and stays paused.
ctl vm pause web >/dev/null
ctl vm snapshot web paused >/dev/null
expect_eq "snapshot: a paused VM stays paused" \
    "$(ctl vm show --json web | jq -r .state)" "paused"
ctl vm resume web >/dev/null

# vm restore: the VM rolled back to its snapshot, its disk put back and
# its memory loaded (no boot).
ctl vm stop -f web >/dev/null 2>&1
dd if=/dev/urandom of="$STATE/disks/$id.ext4" bs=1M seek=100 count=1 \
    conv=notrunc status=none
expect_eq "snapshot: restore of a stopped VM" "$(ctl vm restore web first)" \
    "vm web restored from snapshot first"
js=$(ctl vm show --json web)
expect_eq "snapshot: a restored VM runs" \
    "$(echo "$js" | jq -r '"\(.state) \(.vmm_state)"')" "running Running"
expect_eq "snapshot: restore puts the snapshot's disk back" \
    "$(cmp "$d/disk" "$STATE/disks/$id.ext4" && echo same)" "same"
expect_eq "snapshot: a restore loads the snapshot, resumed, after the logger and metrics" \
    "$(jq -r 'select(.method == "PUT") | .path' "$req" | tr '\n' ' ')" \
    "/logger /metrics /snapshot/load "
expect_eq "snapshot: ...the jail's links to the snapshot's files" \
    "$(body PUT /snapshot/load)" \
    '{"snapshot_path":"/snapshot.vmstate","mem_backend":{"backend_type":"File","backend_path":"/snapshot.mem"},"enable_diff_snapshots":false,"resume_vm":true}'
expect_eq "snapshot: ...and every request succeeded" \
    "$(jq -r 'select(.status >= 300) | .path' "$req")" ""
sock=$STATE/jail/firecracker/$id/root/run/firecracker.socket
expect_eq "snapshot: firecracker loaded the snapshot (its memory, 128 MiB)" \
    "$(curl -s --unix-socket "$sock" http://localhost/vm/config |
    jq -c '[."machine-config".mem_size_mib, .drives[0].path_on_host]')" \
    '[128,"/rootfs"]'
expect_eq "snapshot: its files are linked into the jail, root:VM 0440" \
    "$(stat -c '%U %a %h' "$STATE/jail/firecracker/$id/root/snapshot.mem" \
    "$STATE/jail/firecracker/$id/root/snapshot.vmstate" | sort -u)" \
    "root 440 2"
expect_eq "snapshot: ...readable by the VM's gid alone" \
    "$(stat -c %g "$d/memory")" "$(echo "$js" | jq .uid)"
pid=$(echo "$js" | jq .pid)
expect_eq "snapshot: restore of a running VM" "$(ctl vm restore web first)" \
    "vm web restored from snapshot first"
expect_match "snapshot: ...runs a new firecracker" \
    "$(ctl vm show --json web | jq -r '"\(.state) \(.pid)"')" \
    "^running [0-9]+$"
expect_eq "snapshot: ...not the old one" \
    "$(ctl vm show --json web | jq .pid | grep -cx "$pid")" 0
pid=$(ctl vm show --json web | jq .pid)
bad "restore of a snapshot there is not" "vm web has no snapshot nosuch" \
    ctl vm restore web nosuch
expect_eq "snapshot: ...leaves the running VM alone" \
    "$(ctl vm show --json web | jq -r '"\(.state) \(.pid)"')" "running $pid"
bad "another user's restore" "no VM named web" user vm restore web first

bad "the same name twice" "vm web already has a snapshot first" \
    ctl vm snapshot web first
bad "a bad name" 'invalid snapshot name "Bad_Name"' \
    ctl vm snapshot web Bad_Name
bad "an unknown VM" "no VM named nosuch" ctl vm snapshot nosuch
bad "rm of an unknown snapshot" "vm web has no snapshot nosuch" \
    ctl vm snapshot rm web nosuch

# Others: another user sees no VM of root's, so no snapshot either.
bad "another user's snapshot" "no VM named web" user vm snapshot web mine
bad "another user's ls" "no VM named web" user vm snapshot ls web
bad "another user's rm" "no VM named web" user vm snapshot rm web first
expect_eq "snapshot: no snapshot file is readable by others" \
    "$(find "$STATE/snapshots" -perm /007 | wc -l)" 0

# What a hostile VMM leaves is refused, saying why, and nothing of the
# snapshot is kept; the VM runs on.
for m in symlink link long none; do
	ctl vm create "h-$m" --image "$m" --memory 128M --start >/dev/null
done
bad "a symlink for the memory file" "/run/snapshot.mem: a symlink" \
    ctl vm snapshot h-symlink s1
bad "a memory file with two links" \
    "/run/snapshot.(vmstate|mem) is not a regular file of the VM's uid [0-9]+ with one link" \
    ctl vm snapshot h-link s1
bad "a memory file longer than the VM's memory" \
    "/run/snapshot.mem is 268435456 bytes; 1 to 150994944 expected" \
    ctl vm snapshot h-long s1
bad "no files written" "firecracker wrote no /run/snapshot.vmstate" \
    ctl vm snapshot h-none s1
for m in symlink link long none; do
	hid=$(vm_id "h-$m")
	expect_eq "snapshot: $m: nothing of it is kept" \
	    "$(ls "$STATE/snapshots/$hid" 2>/dev/null)$(recorded "$hid")" ""
	expect_eq "snapshot: $m: the VM runs on" \
	    "$(ctl vm show --json "h-$m" | jq -r .state)" "running"
	ctl vm rm -f "h-$m" >/dev/null
done
expect_eq "snapshot: /etc/shadow is untouched" \
    "$(stat -c '%U %a' /etc/shadow)" "root 640"

# A stopped VM has no memory to take.
ctl vm create idle --memory 128M >/dev/null
bad "of a VM not running" "vm idle is created: only a running or paused VM" \
    ctl vm snapshot idle s1

# rm: the record says removing before the files go; then both are gone.
expect_eq "snapshot: rm" "$(ctl vm snapshot rm web paused)" \
    "vm web: snapshot paused removed"
expect_eq "snapshot: rm removes its files" "$(ls "$STATE/snapshots/$id")" \
    "$(printf '%s\n' "$second" first | sort)"
expect_eq "snapshot: rm removes it from the record" "$(recorded "$id")" \
    "$(printf '%s 2\n' "$second" first | sort)"

# The snapshots outlive a restart of bangerd; what no record names goes.
mkdir "$STATE/snapshots/$id/stray" "$STATE/snapshots/deadbeef"
: >"$STATE/snapshots/$id/stray/memory"
daemon_stop
if ! daemon_start; then
	fail "snapshot: daemon restarts" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "snapshot: a restart keeps them" \
    "$(ctl vm snapshot ls --json web | jq -r '.[].name' | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$second" first | sort | tr '\n' ' ')"
expect_eq "snapshot: the sweep removes what no snapshot names" \
    "$(ls "$STATE/snapshots")" "$id"
expect_eq "snapshot: ...and inside a VM's directory too" \
    "$(ls "$STATE/snapshots/$id" | grep -c stray)" 0

# A crash with a snapshot recorded "creating": at start, undone.
daemon_kill
priv_sed "$id" 's/^snap first 2 /snap first 1 /'
if ! daemon_start; then
	fail "snapshot: daemon restarts after a crash" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "snapshot: one cut short at a crash is undone at start" \
    "$(ls "$STATE/snapshots/$id")" "$second"
expect_eq "snapshot: ...and its record dropped" "$(recorded "$id")" \
    "$second 2"
expect_match "snapshot: ...which the log says" "$(cat "$DLOG")" \
    "snapshot first: its creation was interrupted; undoing it"

# A kill in the middle of a snapshot (while Firecracker writes it):
# nothing of the snapshot is kept, and the VM it paused runs again.
ctl vm create slow --image slow --memory 128M --start >/dev/null
sid=$(vm_id slow)
# Meanwhile the VM is busy: neither removed nor stopped under it.
ctl vm snapshot slow busy >/dev/null 2>&1 &
sp=$!
wait_for 10 grep -q "snap busy 1 " "$STATE/priv/$sid"
bad "vm rm -f during a snapshot" "vm slow is busy \(a snapshot\); try again" \
    ctl vm rm -f slow
bad "vm stop during a snapshot" "vm slow is busy" ctl vm stop slow
wait "$sp"
expect_eq "snapshot: ...and the snapshot is taken" "$(recorded "$sid")" "busy 2"
ctl vm snapshot rm slow busy >/dev/null
# A client that leaves (^C) does not cut its snapshot short.
ctl vm snapshot slow left >/dev/null 2>&1 &
sp=$!
wait_for 10 grep -q "snap left 1 " "$STATE/priv/$sid"
kill -INT "$sp"
wait "$sp" 2>/dev/null
wait_for 15 sh -c "grep -q 'snap left 2 ' '$STATE/priv/$sid'"
wait_for 15 sh -c "[ \"\$($BANGERCTL -s $SOCK vm show --json slow | jq -r .state)\" = running ]"
expect_eq "snapshot: its client gone, the snapshot is still taken" \
    "$(recorded "$sid")" "left 2"
expect_eq "snapshot: ...and the VM resumed" \
    "$(ctl vm show --json slow | jq -r .vmm_state)" "Running"
ctl vm snapshot rm slow left >/dev/null
for who in parent vm; do
	ctl vm snapshot slow "cut-$who" >/dev/null 2>&1 &
	sp=$!
	wait_for 10 grep -q "snap cut-$who 1 " "$STATE/priv/$sid"
	sleep 0.5
	if [ $who = parent ]; then
		daemon_kill
		daemon_start || { fail "snapshot: restarts" "$(tail -3 "$DLOG")"; t_done; }
	else
		kill -KILL "$(worker_pid vm)"
		wait_for 15 daemon_workers_running
	fi
	wait "$sp" 2>/dev/null
	wait_for 15 sh -c "[ \"\$($BANGERCTL -s $SOCK vm show --json slow | jq -r .state)\" = running ]"
	expect_eq "snapshot: a $who killed mid-snapshot: the VM runs again" \
	    "$(ctl vm show --json slow | jq -r '"\(.state) \(.vmm_state)"')" \
	    "running Running"
	expect_eq "snapshot: a $who killed mid-snapshot: nothing of it is kept" \
	    "$(ls "$STATE/snapshots/$sid" 2>/dev/null)$(recorded "$sid")" ""
	expect_eq "snapshot: a $who killed mid-snapshot: nothing left in the jail" \
	    "$(ls "$STATE/jail/firecracker/$sid/root/run" | grep snapshot)" ""
done
ctl vm rm -f slow >/dev/null

# A disk copied (tmpfs makes no reflinks) shows its progress on a
# terminal, for a snapshot and for a restore; elsewhere nothing.
ctl vm create big --memory 128M --disk 256M --start >/dev/null
bid=$(vm_id big)
dd if=/dev/urandom of="$STATE/disks/$bid.ext4" bs=1M seek=100 count=100 \
    conv=notrunc status=none
out=$(script -qec "$BANGERCTL -s $SOCK vm snapshot big s1" /dev/null | tr '\r' '\n')
expect_match "snapshot: on a terminal, the disk's copy draws a progress bar to 100%" \
    "$out" "vm big: copying its disk \[#+\] 100% 256(\.[0-9])? MiB of 256(\.[0-9])? MiB"
expect_match "snapshot: ...then says it is taken" "$out" \
    "vm big: snapshot s1 taken \(128 MiB of memory, its disk by copy\)"
out=$(script -qec "$BANGERCTL -s $SOCK vm restore big s1" /dev/null | tr '\r' '\n')
expect_match "snapshot: ...and the restore's too" "$out" \
    "vm big: restoring its disk \[#+\] 100% 256(\.[0-9])? MiB of 256(\.[0-9])? MiB"
expect_eq "snapshot: not on a terminal, no progress bar" \
    "$(ctl vm snapshot big s2 2>&1)" \
    "vm big: snapshot s2 taken (128 MiB of memory, its disk by copy)"
ctl vm rm -f big >/dev/null

# Room: a snapshot needs the VM's memory, its disk unless reflinked
# (tmpfs makes none) and 64 MiB more in the state directory (1 GiB
# here); with less it is refused, saying how much, and nothing is left.
ctl vm create roomy --memory 1024M --disk 64M --start >/dev/null
rid=$(vm_id roomy)
bad "a snapshot with no room for it" \
    "not enough space: a snapshot needs about [0-9]+ MiB \(1024 MiB of memory, [0-9]+ MiB of disk, 64 MiB to spare\), and $STATE has [0-9]+ MiB free" \
    ctl vm snapshot roomy s1
expect_eq "snapshot: ...nothing of it is left" \
    "$(ls "$STATE/snapshots/$rid" 2>/dev/null)$(recorded "$rid")" ""
expect_eq "snapshot: ...and the VM runs on" \
    "$(ctl vm show --json roomy | jq -r .state)" "running"
ctl vm rm -f roomy >/dev/null

# A removal cut short by a crash is finished at start.
ctl vm snapshot web gone >/dev/null
daemon_kill
priv_sed "$id" 's/^snap gone 2 /snap gone 3 /'
if ! daemon_start; then
	fail "snapshot: daemon restarts after a crash" "$(tail -5 "$DLOG")"
	t_done
fi
expect_eq "snapshot: one whose removal a crash cut short is removed at start" \
    "$(ls "$STATE/snapshots/$id" | grep -c '^gone$')$(recorded "$id" | grep -c gone)" "00"
expect_match "snapshot: ...which the log says" "$(cat "$DLOG")" \
    "snapshot gone: its removal was interrupted; finishing it"

# vm rm removes a VM's snapshots.
ctl vm stop -f web >/dev/null 2>&1
ctl vm rm web >/dev/null
expect_eq "snapshot: vm rm removes its snapshots" "$(on_disk)" ""
ctl vm rm idle >/dev/null
expect_eq "snapshot: nothing of any VM is left" "$(host_traces)" ""
t_done
