# A compromised vm worker asks the parent for root operations on things
# that are not its VMs: other interfaces, devices, processes and paths.
# Each request is refused and logged, the worker is killed and restarted,
# and nothing on the host changes.
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

# refuse_by ROLE NAME WANT ARGS...: the request, sent as the ROLE (vm or
# net) worker, kills that worker with WANT in the log, and the daemon
# carries on.
refuse_by() {
	local role=$1 name=$2 want=$3 old
	shift 3
	old=$(worker_pid "$role")
	"$INJECT" "$old" 3 "$@" || { fail "compromised: $name" "inject"; return; }
	if wait_for 10 sh -c "! kill -0 $old 2>/dev/null"; then
		pass "compromised: $name: the worker is killed"
	else
		fail "compromised: $name: the worker is killed" "pid $old alive"
	fi
	expect_match "compromised: $name: refused and logged" "$(cat "$DLOG")" \
	    "$role worker \(pid $old\): protocol violation: $want"
	wait_for 10 daemon_workers_running
}
refuse() { refuse_by vm "$@"; }

refuse "create naming eth0" 'bad vm id "eth0"' vmop-create eth0 default
refuse "create with a path for an id" 'bad vm id "../../etc"' \
    vmop-create ../../etc default
refuse "create with an image path" 'bad image name' \
    vmop-create 0badc0de ../../../etc/shadow
refuse "disk of a foreign dm device" 'bad vm id "../mapper/x"' \
    vmop-disk ../mapper/x
refuse "destroy of an unknown VM" 'unknown vm deadbeef' vmop-destroy deadbeef
refuse "signal to a pid" "bad vm id \"$canary\"" vmop-signal "$canary" 9
refuse "signal other than TERM or KILL" "vm $id: signal 1" \
    vmop-signal "$id" 1
refuse "destroy of a running VM" "destroy of vm $rid, which is running" \
    vmop-destroy "$rid"
refuse "disk of a running VM" "disk access of vm $rid, which is running" \
    vmop-disk "$rid"
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
	"$INJECT" "$old" 3 vmop-start "$@" ||
	    { fail "compromised: $name" "inject"; return; }
	if wait_for 5 grep -q "start refused: $want" "$DLOG"; then
		pass "compromised: $name: the start is refused"
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
	local name=$1 vmname=$2 addr=$3 want=$4 net vm pend out
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
	pend=$(basename "$(grep -l "^name $vmname\$" "$STATE"/priv/*)")
	"$INJECT" "$net" 3 net-addr "$pend" "$addr"
	kill -CONT "$net" 2>/dev/null
	wait "$out"
	if wait_for 10 sh -c "! kill -0 $net 2>/dev/null"; then
		pass "compromised: forged $name: the net worker is killed"
	else
		fail "compromised: forged $name: the net worker is killed" \
		    "pid $net alive"
	fi
	expect_match "compromised: forged $name: refused and logged" \
	    "$(cat "$DLOG")" "net worker \(pid $net\): protocol violation: vm $pend: $want"
	expect_eq "compromised: forged $name: the vm worker stays" \
	    "$(worker_pid vm)" "$vm"
	expect_match "compromised: forged $name: the creation fails" \
	    "$(cat "$T/pend.out")" "try again"
	expect_eq "compromised: forged $name: nothing of it is left" \
	    "$(ls "$STATE/priv/$pend" "$STATE/vms/$pend" 2>/dev/null)" ""
	wait_for 10 daemon_workers_running
}
raddr=$(ctl vm show --json running | jq -r .address)
forged_answer "another VM's address" pend1 "$raddr" "address $raddr is vm $rid's"
forged_answer "an address outside the subnet" pend2 192.0.2.7 \
    "address 192.0.2.7 outside the bridge's subnet"
forged_answer "the bridge's own address" pend3 "$baddr" \
    "address $baddr outside the bridge's subnet"

"$INJECT" "$(worker_pid vm)" 3 vmop-signal "$id" 9
sleep 0.5
if kill -0 "$canary" 2>/dev/null; then
	pass "compromised: no process but a VM's own can be signalled"
else
	fail "compromised: no process but a VM's own can be signalled" \
	    "the canary died"
fi

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
