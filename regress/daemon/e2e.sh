# A real guest through bangerd: booted by the qemu-mode Firecracker
# stand-in under the jailer stand-in, reached over the bridge and with
# `bangerctl vm ssh`, egress through NAT to an "upstream" namespace, a
# clean shutdown at `vm stop` (Ctrl+Alt+Del: the guest reboots, which
# ends Firecracker; after it nothing of the guest reaches the upstream),
# and nothing left after `vm rm`.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

GUEST=${FC_STANDIN_GUEST:-/var/cache/banger-guest}

if [ "$(id -u)" -ne 0 ]; then
	skip "e2e" "needs root to start bangerd"
	t_done
fi
if [ ! -x /usr/bin/qemu-system-x86_64 ]; then
	skip "e2e" "/usr/bin/qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
	t_done
fi
if ! command -v ssh >/dev/null; then
	skip "e2e" "ssh is not installed (openssh-client)"
	t_done
fi
need_guest "e2e"
KREL=$(sed -n 's/^kernel_release=//p' "$GUEST/stamp")

daemon_setup 'bridge "br-fc" {
	address 10.79.0.1/24
	egress "up0"
}'
UP=banger-e2e-up-$$
e2e_cleanup() {
	[ -n "${UPL:-}" ] && kill "$UPL" 2>/dev/null && wait "$UPL" 2>/dev/null
	[ -n "${CAP:-}" ] && kill "$CAP" 2>/dev/null && wait "$CAP" 2>/dev/null
	daemon_cleanup
	ip netns delete "$UP" 2>/dev/null
}
trap e2e_cleanup EXIT

# Firecracker is the qemu-mode stand-in, run through the jailer
# stand-in (guest_env).
guest_env

# The egress: a veth into the "upstream" namespace.
upstream_ns "$UP" 10.80.0.1/24
ip -n "$UP" link set lo up
ip -n "$UP" addr add 10.80.0.2/24 dev up1
ip -n "$UP" link set up1 up

if ! daemon_start; then
	fail "e2e: daemon starts" "$(tail -5 "$DLOG")"
	t_done
fi

# What a VM leaves in the daemon's namespace and state directory
# (host_traces without its process list: other tests' stand-ins may run
# at the same time; this VM's processes are checked by pid).
traces() {
	{
		vm_taps
		find "$STATE/disks" "$STATE/priv" "$STATE/vms" \
		    "$STATE/jail/firecracker" -mindepth 1 -maxdepth 1 \
		    ! -path "$STATE/vms/.journal" \
		    ! -path "$STATE/priv/.journal" 2>/dev/null
	} | sort | tr '\n' ' '
}
before=$(traces)

# Something in the upstream namespace for the guest to reach: a server
# that says whom it sees, and a counter of what arrives from the egress
# address on port 9001 (closed: each try is one SYN).
seen_from "$UP" 10.80.0.2
UPL=$!
ip netns exec "$UP" nft -f - <<'EON'
table inet e2e {
	chain in {
		type filter hook input priority 0;
		ip saddr 10.80.0.1 tcp dport 9001 counter
	}
}
EON
from_guest() {
	ip netns exec "$UP" nft -j list table inet e2e |
	    jq '[.nftables[] | .rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | add'
}

out=$(ctl vm create g1 --image guest --cpus 1 --memory 384M \
    --ssh-key "$T/key/id.pub" --publish 2222:22 --start 2>&1)
expect_match "e2e: vm create --start creates and starts the guest" "$out" \
    "vm g1 started"
id=$(vm_id g1)
addr=$(ctl vm show --json g1 | jq -r .address)
expect_eq "e2e: create records the --ssh-key file" \
    "$(ctl vm show --json g1 | jq -r .ssh_key)" "$T/key/id.pub"
out=$(ctl vm wait g1 --state running --timeout 60 2>&1)
expect_eq "e2e: vm wait --state running" "$(ctl vm show --json g1 | jq -r .state)" \
    "running"
pid=$(ctl vm show --json g1 | jq .pid)
expect_match "e2e: firecracker was started by the jailer, as the jailer does" \
    "$(tr '\0' ' ' </proc/$pid/cmdline)" \
    "^/firecracker --id $id --start-time-us [0-9]+ --start-time-cpu-us [0-9]+ --parent-cpu-time-us [0-9]+ --api-sock /run/firecracker.socket $"
expect_eq "e2e: firecracker runs as the VM's uid" \
    "$(awk '/^Uid:/ {print $2}' /proc/$pid/status)" "300000"
expect_eq "e2e: firecracker's root is its jail" \
    "$(stat -L -c %d:%i /proc/$pid/root/)" \
    "$(stat -c %d:%i "$STATE/jail/firecracker/$id/root")"
qpid=
wait_for 20 pgrep -P "$pid" -f qemu-system-x86_64 && qpid=$(pgrep -P "$pid" -f qemu-system-x86_64)
expect_match "e2e: qemu runs under it, in the jail, as the VM's uid" \
    "${qpid:-none} $(awk '/^Uid:/ {print $2}' /proc/${qpid:-0}/status 2>/dev/null) $(stat -L -c %d:%i /proc/${qpid:-0}/root/ 2>/dev/null)" \
    "^[0-9]+ 300000 $(stat -c %d:%i "$STATE/jail/firecracker/$id/root")$"
jr=$STATE/jail/firecracker/$id/root
expect_match "e2e: firecracker's log reaches the state directory through the jailer's jail" \
    "$(cat "$STATE/vms/$id/firecracker.log" 2>&1)" \
    "\[$id:fc_vmm:INFO\] Started .*qemu-system-x86_64 as pid [0-9]+"
expect_eq "e2e: the jailer made the device nodes, the VM's, 0600" \
    "$(cd "$jr" && stat -c '%n %t:%T %u:%g %a' dev/net/tun dev/kvm dev/urandom | tr '\n' ' ')" \
    "dev/net/tun a:c8 300000:300000 600 dev/kvm a:e8 300000:300000 600 dev/urandom 1:9 300000:300000 600 "
expect_eq "e2e: ... and copied firecracker into the jail" \
    "$(cmp "$jr/firecracker" "$T/bin/firecracker" && echo same)" "same"
expect_eq "e2e: the jail's mounts are not in the daemon's namespace" \
    "$(in_ns grep -c " $STATE/jail" /proc/self/mountinfo)" 0

if wait_for 150 in_ns busybox ping -c 1 -W 1 "$addr"; then
	pass "e2e: the guest answers on $addr over the bridge"
else
	fail "e2e: the guest answers on $addr over the bridge" \
	    "$(tail -c 400 "$STATE/vms/$id/console.log" | tr -d '\r' | tr '\n' ' ')"
fi
if wait_for 90 in_ns bash -c "exec 3<>/dev/tcp/$addr/22"; then
	pass "e2e: its sshd listens"
else
	fail "e2e: its sshd listens" "no TCP 22 on $addr"
fi
wait_for 60 vssh g1 -- true
expect_eq "e2e: vm ssh g1 -- uname -r prints the guest kernel's release" \
    "$(vssh g1 -- uname -r 2>&1)" "$KREL"
expect_eq "e2e: the guest's hostname is its name" \
    "$(vssh g1 -- hostname 2>&1)" "g1"
expect_eq "e2e: vm ssh -l names the user" \
    "$(vssh g1 -l root -- id -un 2>&1)" "root"
vssh g1 -- exit 7 >/dev/null 2>&1
expect_eq "e2e: vm ssh exits with the command's status" "$?" 7
expect_eq "e2e: vm ssh leaves no known_hosts file behind" \
    "$(ls -A "$T/tmp")" ""
# SIGTERM to a connected vm ssh (timeout in a session of its own signals
# bangerctl alone): its ssh ends too, and the guest's sshd is left with
# no session of it.  (Output to a file: a $(...) would wait for an ssh
# left behind.)
sessions() { vssh g1 -- "pgrep -c -f '^sshd: root@'"; }
timeout --preserve-status -s TERM 15 setsid -w ip netns exec "$NS" \
    env TMPDIR="$T/tmp" "$BANGERCTL" -s "$SOCK" vm ssh g1 -- sleep 300 \
    </dev/null >"$T/sigterm.out" 2>&1
rc=$?
expect_eq "e2e: vm ssh ended by SIGTERM exits 143" "$rc" 143
expect_eq "e2e: ... its ssh ended with it" \
    "$(pgrep -f "UserKnownHostsFile=$T/tmp/")" ""
expect_eq "e2e: ... its known_hosts file is removed" "$(ls -A "$T/tmp")" ""
for i in 1 2 3 4 5 6 7 8 9 10; do
	n=$(sessions 2>&1)
	[ "$n" = 1 ] && break
	sleep 1
done
expect_eq "e2e: ... and the guest's sshd holds no session of it (only the one that asks)" \
    "$n" 1
for p in $(pgrep -f "UserKnownHostsFile=$T/tmp/"); do kill "$p"; done

ssh-keygen -q -t ed25519 -N '' -f "$T/key/other" >/dev/null
out=$(vssh g1 -i "$T/key/other" -- true 2>&1); rc=$?
expect_eq "e2e: vm ssh -i overrides the VM's key (a key it does not know)" \
    "$rc" 255
expect_match "e2e: ... and is refused by the guest" "$out" \
    "Permission denied \(publickey\)"

expect_eq "e2e: the guest reaches the upstream, masqueraded as the egress" \
    "$(vssh g1 -- 'exec 3<>/dev/tcp/10.80.0.2/9000; cat <&3' 2>&1)" \
    "seen from 10.80.0.1"
# (-s dns: its /etc/hosts names it too, as 127.0.1.1)
expect_eq "e2e: the guest resolves its name through the bridge's DNS" \
    "$(vssh g1 -- getent -s dns hosts g1.vm.internal 2>&1 | tr -s ' ')" \
    "$addr g1.vm.internal"
banner() { ip netns exec "$UP" timeout 5 bash -c \
    'exec 3<>/dev/tcp/10.80.0.1/2222 && head -c 8 <&3' 2>/dev/null; }
expect_eq "e2e: a published port reaches the guest's sshd from upstream" \
    "$(banner)" "SSH-2.0-"

# The guest keeps knocking on the upstream's port 9001 until it stops.
vssh g1 -- "nohup bash -c 'while :; do (exec 3<>/dev/tcp/10.80.0.2/9001) 2>/dev/null; sleep 0.3; done' >/dev/null 2>&1 &"
c1=$(from_guest)
sleep 2
c2=$(from_guest)
if [ "${c2:-0}" -gt "${c1:-0}" ]; then
	pass "e2e: the upstream receives the guest's traffic while it runs"
else
	fail "e2e: the upstream receives the guest's traffic while it runs" \
	    "counter $c1 then $c2"
fi

out=$(ctl vm stop --timeout 60 g1 2>&1)
expect_eq "e2e: vm stop" "$out" "vm g1 stopped"
expect_eq "e2e: a stopped VM is stopped" \
    "$(ctl vm show --json g1 | jq -r .state)" "stopped"
expect_match "e2e: the metrics firecracker wrote as it stopped are kept" \
    "$(jq -c . "$STATE/vms/$id/metrics.json" 2>&1)" \
    '^\{"utc_timestamp_ms":[0-9]+,"fc_standin":\{"state":"Running"\}\}$'
expect_eq "e2e: its firecracker and qemu are gone" \
    "$(kill -0 "$pid" 2>/dev/null && echo fc) $( [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null && echo qemu)" " "
if grep -q 'reboot: Restarting system' "$STATE/vms/$id/console.log"; then
	pass "e2e: the guest shut down cleanly and rebooted (its console says so)"
else
	fail "e2e: the guest shut down cleanly and rebooted (its console says so)" \
	    "$(tail -c 400 "$STATE/vms/$id/console.log" | tr -d '\r' | tr '\n' ' ')"
fi
c1=$(from_guest)
sleep 2
c2=$(from_guest)
expect_eq "e2e: after vm stop the upstream receives nothing from the guest" \
    "$c2" "$c1"
expect_eq "e2e: after vm stop the published port is closed" "$(banner)" ""
expect_eq "e2e: after vm stop no rule names the guest's address" \
    "$(in_ns nft list table ip banger | grep -c "$addr")" 0
out=$(vssh g1 -- true 2>&1); rc=$?
expect_eq "e2e: vm ssh to a stopped VM fails" "$rc" 1
expect_eq "e2e: ... saying it is not running" "$out" \
    "bangerctl: vm g1 is stopped, not running (bangerctl vm start g1)"

# Booted again, then a daemon restart: the guest keeps running and the
# new daemon adopts the jailer-run Firecracker (whose old parent is gone:
# once it ends, it is a zombie until init reaps it).
alive() { [ -n "$1" ] && [ -r "/proc/$1/status" ] &&
    ! grep -q '^State:.*Z' "/proc/$1/status"; }
ctl vm start g1 >/dev/null
pid=$(ctl vm show --json g1 | jq .pid)
wait_for 150 vssh g1 -- true
daemon_stop
daemon_start
expect_eq "e2e: after a daemon restart the VM runs, its firecracker adopted" \
    "$(ctl vm show --json g1 | jq -r '"\(.state) \(.pid)"')" "running $pid"
expect_eq "e2e: ... and vm ssh still gets in" "$(vssh g1 -- hostname 2>&1)" "g1"

# A snapshot of the running guest, and a roll back to it: qemu migrates
# the paused guest to the memory file, and the restore runs a new qemu
# that takes it in (-incoming), with the disk put back.
vssh g1 -- 'echo before >/root/mark && sync' >/dev/null 2>&1
out=$(ctl vm snapshot g1 s1 2>&1)
expect_match "e2e: vm snapshot of the running guest" "$out" \
    "^vm g1: snapshot s1 taken \(384 MiB of memory, its disk by (reflink|copy)\)$"
expect_eq "e2e: ... which runs on after it" "$(vssh g1 -- cat /root/mark 2>&1)" \
    "before"
vssh g1 -- 'echo after >/root/mark && sync && echo gone >/root/new' \
    >/dev/null 2>&1
expect_eq "e2e: vm restore to it" "$(ctl vm restore g1 s1 2>&1)" \
    "vm g1 restored from snapshot s1"
wait_for 60 vssh g1 -- true
expect_eq "e2e: ... the guest is back as it was at the snapshot" \
    "$(vssh g1 -- 'cat /root/mark; ls /root/new 2>&1 | wc -l' 2>&1 |
    tr '\n' ' ')" "before 1 "
expect_eq "e2e: ... without a boot (its uptime goes on)" \
    "$(vssh g1 -- 'test $(cut -d. -f1 /proc/uptime) -gt 5 && echo up' 2>&1)" \
    "up"
expect_eq "e2e: ... its name and address the same" \
    "$(vssh g1 -- hostname 2>&1) $(ctl vm show --json g1 | jq -r .address)" \
    "g1 $addr"

# Two clones of the snapshot, side by side with the original: each
# restored on its own tap, each taking on its own name, MAC, address and
# host key from its identity drive (guest/banger-identity in the guest).
out=$(ctl vm create cl --from-snapshot g1/s1 --count 2 --start 2>&1)
expect_eq "e2e: vm create --from-snapshot --count 2 --start" "$out" \
    "$(printf 'vm cl-1 started (a clone of g1/s1)\nvm cl-2 started (a clone of g1/s1)')"
for c in cl-1 cl-2; do
	# The first connection at the clone's address already meets its
	# own host key and name: the agent takes the address on last.
	expect_eq "e2e: clone $c: the first vm ssh --wait answers, as $c" \
	    "$(vssh "$c" --wait 60 -- hostname 2>&1)" "$c"
	caddr=$(ctl vm show --json "$c" | jq -r .address)
	expect_eq "e2e: clone $c answers vm ssh (its own host key), as $c" \
	    "$(vssh "$c" -- 'hostname; ip -4 -o addr show scope global | awk "{print \$4}"; cat /root/mark' 2>&1 | tr '\n' ' ')" \
	    "$c $caddr/24 before "
	expect_eq "e2e: ... its host key the one bangerctl pins" \
	    "$(vssh "$c" -- cat /etc/ssh/ssh_host_ed25519_key.pub 2>&1 | cut -d' ' -f1-2)" \
	    "$(ctl vm show --json "$c" | jq -r .host_key | cut -d' ' -f1-2)"
	expect_eq "e2e: ... its MAC its own" \
	    "$(vssh "$c" -- cat /sys/class/net/eth0/address 2>&1)" \
	    "$(ctl vm show --json "$c" | jq -r .mac)"
done
expect_eq "e2e: the clones reach each other by name" \
    "$(vssh cl-1 -- 'getent hosts cl-2 | cut -d" " -f1; timeout 10 bash -c "exec 3<>/dev/tcp/cl-2/22 && head -c 7 <&3"' 2>&1 | tr '\n' ' ')" \
    "$(ctl vm show --json cl-2 | jq -r .address) SSH-2.0"
expect_eq "e2e: ... and the original runs on as itself" \
    "$(vssh g1 -- hostname 2>&1) $(ctl vm show --json g1 | jq -r .address)" \
    "g1 $addr"
for c in cl-1 cl-2; do
	ctl vm rm -f "$c" >/dev/null 2>&1
done

pid=$(ctl vm show --json g1 | jq .pid)
qpid=$(pgrep -P "$pid" -f qemu-system-x86_64)

out=$(ctl vm rm -f g1 2>&1)
expect_eq "e2e: vm rm -f" "$out" "vm g1 removed"
wait_for 10 sh -c "! { $(declare -f alive); alive $pid || alive ${qpid:-0}; }"
expect_eq "e2e: ... ends its firecracker and qemu" \
    "$(alive "$pid" && echo fc) $(alive "$qpid" && echo qemu)" " "
expect_eq "e2e: vm rm leaves no tap, disk, record or jail" \
    "$(traces)" "$before"
expect_eq "e2e: ... no qemu or firecracker of it" \
    "$(for p in $(pgrep -f "$id"); do alive "$p" && echo "$p"; done)" ""
expect_eq "e2e: ... no cgroup" \
    "$(find /sys/fs/cgroup -name "$id" 2>/dev/null)" ""
expect_eq "e2e: ... no nft rule for it" \
    "$(in_ns nft list table ip banger | grep -c -e "$addr" -e "fc-tap-$id")" 0
t_done
