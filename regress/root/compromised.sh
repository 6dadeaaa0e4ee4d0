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
ctl vm create running --start >/dev/null
rid=$(vm_id running)
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

# Another VM's address: its traffic and its published ports.
raddr=$(ctl vm show --json running | jq -r .address)
refuse "start with a running VM's address" \
    "vm $id: address $raddr is running VM $rid's" vmop-start "$id" "$raddr"

# The net worker's answers are checked too.
refuse_net() { refuse_by net "$@"; }
baddr=$(ctl status --json | jq -r .bridge.address)
bdomain=$(ctl status --json | jq -r .dns_domain)
refuse_net "an address outside the subnet" \
    "vm $id: address: outside the bridge's subnet" \
    net-addr "$id" 192.0.2.7 "$baddr" 24 "$bdomain"
refuse_net "the bridge's own address" \
    "vm $id: address: outside the bridge's subnet" \
    net-addr "$id" "$baddr" "$baddr" 24 "$bdomain"
refuse_net "a gateway other than the bridge" \
    "vm $id: address: gateway is not the bridge" \
    net-addr "$id" "${baddr%.*}.77" 192.0.2.1 24 "$bdomain"
refuse_net "another domain" \
    "vm $id: address: domain is not the configured one" \
    net-addr "$id" "${baddr%.*}.77" "$baddr" 24 example.com

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
    "$(ctl vm rm -f running; ctl vm rm real)" "vm running removed
vm real removed"

in_ns ip link del eth0 2>/dev/null
t_done
