# A compromised vm worker asks the parent for root operations on things
# that are not its VMs: other interfaces, devices, processes and paths.
# Each request is refused and logged, the worker is killed and restarted,
# and nothing on the host changes.  Then every other request a worker
# may send the parent (bangerd/parent/priv.c's dispatchers, and a worker's
# ready once it is running) is forged at least once, by each worker in
# turn; the test ends with how many types and messages were refused, and
# fails if a request type has no forged variant here.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "compromised" "needs root to start bangerd and take a worker's fd"
	t_done
fi
INJECT=$HELPERS/imsg-inject

daemon_setup
trap 'kill "$canary" 2>/dev/null; daemon_cleanup' EXIT
vm_daemon_start compromised
ctl vm create real >/dev/null
id=$(vm_id real)
ctl vm create running --publish 8080:80 --start >/dev/null
rid=$(vm_id running)
user vm create theirs >/dev/null
tid=$(vm_id theirs)
# The net worker writes its table of leases a moment after the VMs are
# made: the snapshot of the host below starts with all three in it.
for i in "$id" "$rid" "$tid"; do
	wait_for 5 grep -q "^$i " "$STATE/net/ipam.table"
done
sleep 300 &
canary=$!

# A veth "eth0" in the daemon's namespace that must stay untouched.
in_ns ip link add eth0 type veth peer name eth0-peer
snapshot() {
	{
		in_ns ip -o link | awk '{print $2}' | grep -v 'fc-tap'
		in_ns ip -o addr | awk '{print $2, $3, $4}'
		find "$STATE" "$T/img" -printf '%p %m %u\n' | grep -v \
		    -e '/vms/' -e 'fc-standin.requests' -e '/jail/'
		losetup -a | grep -F "$T" || true
		ls /dev/mapper
		in_ns nft list table ip banger 2>/dev/null
	} | sort
}
before=$(snapshot)

# What was refused, for the count at the end: each request type (by the
# name imsg-inject prints) refused at least once as a protocol violation
# with its reason logged, and every forged message refused.
declare -A refused_types=()
nrefused=0

# refused_as SENT: one more forged message refused; SENT is imsg-inject's
# "NAME NUMBER" when it was refused as a violation of that type.
refused_as() {
	nrefused=$((nrefused + 1))
	[ -n "$1" ] && refused_types[${1% *}]=1
}

# refuse_by ROLE NAME WANT ARGS...: the message imsg-inject writes with
# ARGS as the ROLE worker kills that worker with WANT in the log ({type}
# in WANT stands for the message's type number), and the daemon carries
# on.
refuse_by() {
	local role=$1 name=$2 want=$3 old sent ok=1
	shift 3
	old=$(worker_pid "$role")
	if ! sent=$("$INJECT" "$old" 3 "$@"); then
		fail "compromised: $name" "inject $*"
		return
	fi
	want=${want//\{type\}/${sent#* }}
	if wait_for 10 sh -c "! kill -0 $old 2>/dev/null"; then
		pass "compromised: $name: the worker is killed"
	else
		fail "compromised: $name: the worker is killed" "pid $old alive"
		ok=0
	fi
	if grep -Eq -- "$role worker \(pid $old\): protocol violation: $want" \
	    "$DLOG"; then
		pass "compromised: $name: refused and logged"
	else
		fail "compromised: $name: refused and logged" \
		    "no /$want/ for pid $old; last: $(grep 'protocol violation' \
		    "$DLOG" | tail -1)"
		ok=0
	fi
	[ "$ok" = 1 ] && refused_as "$sent"
	# A crash loop's backoff may hold a restart back up to 30 s.
	wait_for 40 daemon_workers_running
}
refuse() { refuse_by vm "$@"; }

refuse "create naming eth0" 'bad vm id "eth0"' vmop-create eth0 default
refuse "create with a path for an id" 'bad vm id "../../etc"' \
    vmop-create ../../etc default
refuse "create with an image path" 'bad image name' \
    vmop-create 0badc0de ../../../etc/shadow
refuse "destroy of an unknown VM" 'unknown vm deadbeef' vmop-destroy deadbeef
refuse "signal to a pid" "bad vm id \"$canary\"" vmop-signal "$canary" 9
refuse "signal other than TERM or KILL" "vm $id: signal 1" \
    vmop-signal "$id" 1
refuse "destroy of a running VM" "destroy of vm $rid, which is running" \
    vmop-destroy "$rid"
# A VM's disk goes to the vm worker once, with the reply to its
# creation: no request gets one, of a VM at rest, running, or no VM.
refuse "disk of a VM at rest" 'unexpected message type {type}' \
    vmop-disk "$id"
refuse "disk of a running VM" 'unexpected message type {type}' \
    vmop-disk "$rid"
refuse "disk of a foreign dm device" 'unexpected message type {type}' \
    vmop-disk ../mapper/x
refuse "start of a running VM" "start of vm $rid, which is running" \
    vmop-start "$rid"
refuse "fsck of a running VM" "fsck of vm $rid, which is running" \
    vmop-fsck "$rid"
refuse "create of an existing VM" "vm $id already exists" \
    vmop-create "$id" default

# Published ports the parent checks against its own record and the
# other VMs, whatever the vm worker says.
refuse "a port below 1024 for a VM not root's" \
    "vm $tid \(uid 65534\): published port 0 \(tcp 22\): port below 1024 for a VM not root's" \
    vmop-start "$tid" tcp:0.0.0.0:22:22
refuse "a loopback host address" \
    "vm $id \(uid 0\): published port 0 \(tcp 2222\): loopback address" \
    vmop-start "$id" tcp:127.0.0.1:2222:22
baddr=$(ctl status --json | jq -r .bridge.address)
refuse "a host address in the VMs' subnet" \
    "vm $id \(uid 0\): published port 0 \(tcp 2222\): host address in the VMs' subnet" \
    vmop-start "$id" "tcp:${baddr%.*}.9:2222:22"
refuse "a port published twice" \
    "vm $id \(uid 0\): published port 1 \(udp 53\): host port published twice" \
    vmop-start "$id" udp:0.0.0.0:53:53 udp:0.0.0.0:53:54

# Not the vm worker's fault, but refused all the same: an address the
# host does not have, a port another running VM publishes.
refused_start() {
	local name=$1 want=$2 old
	shift 2
	old=$(worker_pid vm)
	"$INJECT" "$old" 3 vmop-start "$@" >/dev/null ||
	    { fail "compromised: $name" "inject"; return; }
	if wait_for 5 grep -q "start refused: $want" "$DLOG"; then
		pass "compromised: $name: the start is refused"
		refused_as ""
	else
		fail "compromised: $name: the start is refused" \
		    "$(tail -3 "$DLOG")"
	fi
	expect_eq "compromised: $name: the vm worker stays" \
	    "$(worker_pid vm)" "$old"
}
refused_start "a foreign host address" \
    "published port 5353/udp: 8.8.8.8 is not an address of this host" \
    "$id" udp:8.8.8.8:5353:53
refused_start "another running VM's port" \
    "host port 8080/tcp is published by running VM running" \
    "$id" tcp:0.0.0.0:8080:80

# The net worker's answers are checked too: one it was not asked for,
# an address outside the subnet, a running VM's address.  The net
# worker is killed for it, never the vm worker.
refuse_by net "an address it was not asked for" \
    "vm $id: an address it was not asked for" net-addr "$id" "${baddr%.*}.77"
# A creation waits on a net worker that does not answer (stopped); a
# forged answer for it comes in its place.
forged_answer() {
	local name=$1 vmname=$2 addr=$3 want=$4 net vm pend out sent ok=1
	net=$(worker_pid net)
	vm=$(worker_pid vm)
	kill -STOP "$net"
	ctl vm create "$vmname" >"$T/pend.out" 2>&1 &
	out=$!
	if ! wait_for 10 sh -c "grep -l '^name $vmname\$' '$STATE'/priv/*"; then
		fail "compromised: forged $name: a creation waits" "no record"
		kill -CONT "$net"
		return
	fi
	pend=$(basename "$(grep -l "^name $vmname\$" "$STATE"/priv/* |
	    sed 's/\.run$//' | sort -u)")
	sent=$("$INJECT" "$net" 3 net-addr "$pend" "$addr")
	kill -CONT "$net" 2>/dev/null
	wait "$out"
	if wait_for 10 sh -c "! kill -0 $net 2>/dev/null"; then
		pass "compromised: forged $name: the net worker is killed"
	else
		fail "compromised: forged $name: the net worker is killed" \
		    "pid $net alive"
		ok=0
	fi
	if grep -Eq "net worker \(pid $net\): protocol violation: vm $pend: $want" \
	    "$DLOG"; then
		pass "compromised: forged $name: refused and logged"
	else
		fail "compromised: forged $name: refused and logged" \
		    "last: $(grep 'protocol violation' "$DLOG" | tail -1)"
		ok=0
	fi
	[ "$ok" = 1 ] && refused_as "$sent"
	expect_eq "compromised: forged $name: the vm worker stays" \
	    "$(worker_pid vm)" "$vm"
	expect_match "compromised: forged $name: the creation fails" \
	    "$(cat "$T/pend.out")" "try again"
	expect_eq "compromised: forged $name: nothing of it is left" \
	    "$(ls "$STATE/priv/$pend" "$STATE/vms/$pend" 2>/dev/null)" ""
	wait_for 40 daemon_workers_running
}
raddr=$(ctl vm show --json running | jq -r .address)
forged_answer "another VM's address" pend1 "$raddr" "address $raddr is vm $rid's"
forged_answer "an address outside the subnet" pend2 192.0.2.7 \
    "address 192.0.2.7 outside the bridge's subnet"
forged_answer "the bridge's own address" pend3 "$baddr" \
    "address $baddr outside the bridge's subnet"

"$INJECT" "$(worker_pid vm)" 3 vmop-signal "$id" 9 >/dev/null
sleep 0.5
if kill -0 "$canary" 2>/dev/null; then
	pass "compromised: no process but a VM's own can be signalled"
else
	fail "compromised: no process but a VM's own can be signalled" \
	    "the canary died"
fi

# Each request type the parent takes from a worker, forged: as the vm
# worker the ones not yet sent above, ...
refuse "the socket of an unknown VM" 'unknown vm deadbeef' \
    vmop-socket deadbeef
refuse "an image file without an fd" 'image file without an fd' \
    imgop-file 0 no-fd
refuse "an image file of a kind there is not" 'bad image file' \
    imgop-file 7 fd
refuse "an OCI layout file named with a path" 'bad image file' \
    imgop-file 3 fd ../index.json
refuse "an OCI layout file that is not index.json or a blob" 'bad image file' \
    imgop-file 3 fd blobs/sha256/ABC
refuse "an OCI import without its files" 'import without its files' \
    imgop-oci 0 forged 16777216
# A layout file, accepted and held; then an import of a size out of
# bounds, and one that also has a root file system.
"$INJECT" "$(worker_pid vm)" 3 imgop-file 3 fd index.json >/dev/null
refuse "an OCI import of 4097 bytes" "an OCI import's size out of bounds" \
    imgop-oci 0 forged 4097
"$INJECT" "$(worker_pid vm)" 3 imgop-file 3 fd index.json >/dev/null
"$INJECT" "$(worker_pid vm)" 3 imgop-file 2 fd >/dev/null
refuse "an OCI import with a root file system too" \
    'an OCI import with a rootfs or without its layout' \
    imgop-oci 0 forged 16777216
"$INJECT" "$(worker_pid vm)" 3 imgop-file 3 fd index.json >/dev/null
refuse "the same layout file twice" 'the same layout file twice' \
    imgop-file 3 fd index.json
# An image pull (IMAGE_F_PULL 4, IMAGE_F_OCI 2): a reference that is
# not one, or not terminated; a layout or a root file system too; a size
# out of bounds; a reference without the pull.
refuse "an image pull with a reference that is not one" \
    'an image pull with a bad reference' \
    imgop-pull 0 forged 16777216 127.0.0.1:5000/UPPER 4
refuse "an image pull with an unterminated reference" \
    'an image pull with a bad reference' \
    imgop-pull 0 forged 16777216 unterminated 4
refuse "an image pull with the OCI flag too" \
    'an image pull with a rootfs or a layout' \
    imgop-pull 0 forged 16777216 debian 6
"$INJECT" "$(worker_pid vm)" 3 imgop-file 2 fd >/dev/null
refuse "an image pull with a root file system" \
    'an image pull with a rootfs or a layout' \
    imgop-pull 0 forged 16777216 debian 4
refuse "an image pull of 4097 bytes" "an image pull's size out of bounds" \
    imgop-pull 0 forged 4097 debian 4
"$INJECT" "$(worker_pid vm)" 3 imgop-file 3 fd index.json >/dev/null
refuse "an OCI import with a reference" \
    'a reference without an image pull' \
    imgop-pull 0 forged 16777216 debian 2
"$INJECT" "$(worker_pid vm)" 3 imgop-file 2 fd >/dev/null
"$INJECT" "$(worker_pid vm)" 3 imgop-file 3 fd index.json >/dev/null
refuse "a plain import with a layout file" \
    'import without a rootfs, or with a layout' imgop-import 0 forged
refuse "an image import for uid 65534" 'image import for uid 65534' \
    imgop-import 65534 forged
refuse "an image import named with a path" 'bad image import' \
    imgop-import 0 ../../etc
refuse "an image import with boot args Firecracker refuses" \
    'image import with boot args not printable ASCII' \
    imgop-import 0 forged "$(printf 'quiet caf\303\251')"
refuse "an image rm for uid 65534" 'image rm for uid 65534' \
    imgop-query 65534 3 default
refuse "an image action there is not" 'image action 9' \
    imgop-query 0 9 default
refuse "an image cancel with a payload" \
    'message type {type} of 4 bytes, expected 0' imgop-cancel 4
refuse "a status request for a command there is not" \
    'command "vm" for a status request' status-req vm
refuse "a reload request for a command there is not" \
    'command "sh" for a reload request' reload-req sh
refuse "a verbosity request for another command" \
    'command "status" for a log request' verbose-req status 1
refuse "a verbosity of -1" 'verbosity -1' verbose-req log -1
refuse "an update for uid 65534" 'update for uid 65534' \
    update-req 65534 1
refuse "an update action there is not" 'update action 9' update-req 0 9
refuse "a snapshot of a VM not running" "snapshot of vm $id, which is created" \
    vmop-snap-begin "$id" s1
refuse "a snapshot named with a path" "vm $rid: bad snapshot name" \
    vmop-snap-begin "$rid" ../../etc
refuse "a snapshot's end never begun" \
    "end of snapshot s1 of vm $rid, which is not being taken" \
    vmop-snap-end "$rid" s1
refuse "a snapshot's end with flags there are not" \
    "vm $rid: snapshot flags 0x4" vmop-snap-end "$rid" s1 4
refuse "a snapshot list naming a snapshot" "vm $rid: bad snapshot name" \
    snapop-ls "$rid" s1
refuse "a snapshot removal of an unknown VM" 'unknown vm deadbeef' \
    snapop-rm deadbeef s1
refuse "a restore of a running VM" "restore of vm $rid, which is running" \
    vmop-restore "$rid" s1
refuse "a restore with flags there are not" "vm $id: snapshot flags 0x4" \
    vmop-restore "$id" s1 4
refuse "a start with flags there are not" 'vm '"$id"': start flags 0x2, snapshot ""' \
    vmop-start "$id" flags=2
refuse "a start from a snapshot named with a path" \
    'vm '"$id"': start flags 0x1, snapshot "../../etc"' \
    vmop-start "$id" snap=../../etc
refuse "a start without an identity drive's text" \
    "vm $id: an identity that is not \"banger-identity 1\" and lines of printable ASCII" \
    vmop-start "$id" identity=none
refuse "a start with an identity without its magic" \
    "vm $id: an identity that is not \"banger-identity 1\"" \
    vmop-start "$id" identity=nomagic
refuse "a start with control characters in its identity" \
    "vm $id: an identity that is not \"banger-identity 1\"" \
    vmop-start "$id" identity=control
refuse "a clone of a path" \
    'vm 0badc0de: a clone of "../../x" snapshot "s1"' \
    vmop-create 0badc0de default forged from=../../x:s1
refuse "a clone of a snapshot named with a path" \
    'vm 0badc0de: a clone of "'"$id"'" snapshot "../etc"' \
    vmop-create 0badc0de default forged "from=$id:../etc"
refuse "a clone of a snapshot of no VM" \
    'vm 0badc0de: a clone of "" snapshot "s1"' \
    vmop-create 0badc0de default forged from=:s1
refuse "a ready from the running vm worker" \
    'unexpected message type {type}' ready-again vm
# ... as the net worker, ...
refuse_by net "a network setup with a payload" \
    'message type {type} of 4 bytes, expected 0' netop-setup 4
refuse_by net "an address for a path" 'malformed address' \
    net-addr ../x "${baddr%.*}.77"
refuse_by net "a ready from the running net worker" \
    'unexpected message type {type}' ready-again net
# The update worker runs only for an update, which this bangerd (the
# placeholder key, no update url) never starts:
# regress/update/update_daemon.sh forges each of its types, for no
# request and for one in flight.

# The request types: the cases of priv.c's three dispatchers, and what
# a starting worker may send (bangerd.c), as regress/docs/drift.sh reads
# them for banger-privileges.7.
body() {	# FUNCTION FILE: the function's lines
	awk -v f="$1" '$0 ~ "^" f "\\(" { on = 1 } on && /^}/ { on = 0 }
	    on' "$2"
}
types=
unread=
for f in priv_dispatch_vm priv_dispatch_net parent_dispatch_starting; do
	case $f in
	priv_*)	t=$(body "$f" "$TOP/bangerd/parent/priv.c" |
		    sed -n 's/^[	 ]*case \(IMSG_[A-Z_]*\):.*/\1/p') ;;
	*)	t=$(body "$f" "$TOP/bangerd/parent/bangerd.c" |
		    sed -n 's/.*imsg_get_type(imsg) != \(IMSG_[A-Z_]*\).*/\1/p') ;;
	esac
	[ -n "$t" ] || unread="$unread $f"
	types="$types $t"
done
types=$(printf '%s\n' $types | sort -u)
ntypes=$(printf '%s\n' "$types" | grep -c .)
missing=$(for t in $types; do
	[ -n "${refused_types[$t]:-}" ] || echo "$t"; done | tr '\n' ' ' |
    sed 's/ $//')
if [ -n "$unread" ]; then
	fail "compromised: each request type a worker may send is forged and refused" \
	    "no request types read from:$unread"
elif [ -n "$missing" ]; then
	fail "compromised: each request type a worker may send is forged and refused" \
	    "of the $ntypes, none refused: $missing"
else
	pass "compromised: each of the $ntypes request types a worker may send is forged and refused"
fi
echo "compromised: ${#refused_types[@]} forged request types refused, $nrefused forged messages in all"

expect_eq "compromised: nothing on the host changed" "$(snapshot)" "$before"
expect_eq "compromised: the running VM still runs" \
    "$(ctl vm show --json running | jq -r .state)" "running"
expect_eq "compromised: the parent is the same" \
    "$(ctl status --json | jq .pid)" "$DPID"
expect_eq "compromised: VMs can still be removed" \
    "$(ctl vm rm -f running; ctl vm rm real; ctl vm rm theirs)" \
    "vm running removed
vm real removed
vm theirs removed"

in_ns ip link del eth0 2>/dev/null
t_done
