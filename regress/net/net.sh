# The network through bangerd: VM addresses (allocation, reuse, restart,
# exhaustion), DNS names, NAT egress, and bangerctl net show.
. "$TOP/regress/lib/lib.sh"
. "$TOP/regress/lib/daemon.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "net" "needs root to start bangerd"
	t_done
fi

daemon_setup 'bridge "br-fc" {
	address 10.77.0.1/29
	egress "up0"
}'
# The egress interface, a veth into an "upstream" namespace.
UP=banger-up-$$
trap 'daemon_cleanup; ip netns delete "$UP" 2>/dev/null' EXIT
upstream_ns "$UP" 10.78.0.1/24
vm_daemon_start net

# NAT is set up for the egress.
wait_for 5 in_ns nft list table ip banger
out=$(in_ns nft list table ip banger 2>&1)
expect_match "net: the NAT table masquerades the subnet out of the egress" \
    "$out" 'ip saddr 10\.77\.0\.0/29 oifname "up0" masquerade'
expect_eq "net: forwarding is on in the daemon's namespace" \
    "$(in_ns cat /proc/sys/net/ipv4/ip_forward)" 1

addr_of() { ctl vm show --json "$1" | jq -r .address; }
ctl vm create a >/dev/null
ctl vm create b >/dev/null
expect_eq "net: the first VM gets the first free address" "$(addr_of a)" \
    "10.77.0.2"
expect_eq "net: the second VM gets the next" "$(addr_of b)" "10.77.0.3"
expect_eq "net: its MAC is locally administered, from the address" \
    "$(ctl vm show --json b | jq -r .mac)" "02:fc:0a:4d:00:03"
expect_eq "net: a VM's name resolves to its address" \
    "$(in_ns drill -Q @10.77.0.1 b.vm.internal A)" "10.77.0.3"
expect_eq "net: its address resolves to its name" \
    "$(in_ns drill -Q @10.77.0.1 -x 10.77.0.3 | tr -d '\n')" \
    "b.vm.internal."
# The parent asks 4 MiB for the DNS responder's UDP socket, room for a
# burst of queries (the default 208 KiB lost a third of an unpaced
# flood); the kernel counts twice what it is asked.
expect_eq "net: the DNS UDP socket has a 4 MiB receive buffer" \
    "$(in_ns ss -Huamn 'sport = :53' | grep -o 'rb[0-9]*' | head -1)" \
    "rb8388608"
ctl vm rm a >/dev/null
expect_match "net: a removed VM's name is gone" \
    "$(in_ns drill @10.77.0.1 a.vm.internal A)" "rcode: NXDOMAIN"
ctl vm create c >/dev/null
expect_eq "net: a freed address is used again" "$(addr_of c)" "10.77.0.2"

daemon_stop
daemon_start
expect_eq "net: addresses survive a daemon restart (b)" "$(addr_of b)" \
    "10.77.0.3"
expect_eq "net: addresses survive a daemon restart (c)" "$(addr_of c)" \
    "10.77.0.2"
wait_for 5 sh -c "[ \"\$(ip netns exec $NS drill -Q @10.77.0.1 c.vm.internal A)\" = 10.77.0.2 ]"
expect_eq "net: names resolve again after a restart" \
    "$(in_ns drill -Q @10.77.0.1 c.vm.internal A)" "10.77.0.2"

# A /29 has five addresses for VMs, .2 to .6.
ctl vm create d >/dev/null
ctl vm create e >/dev/null
ctl vm create f >/dev/null
out=$(ctl vm create g 2>&1); rc=$?
expect_eq "net: a full subnet refuses another VM (exit 1)" "$rc" 1
expect_eq "net: ... naming the subnet" "$out" \
    "bangerctl: vm g: no free address in 10.77.0.0/29"
expect_eq "net: ... and no VM g exists" \
    "$(ctl vm ls --json | jq -r '.[].name' | sort | tr '\n' ' ')" \
    "b c d e f "

out=$(ctl net show)
expect_match "net: net show gives the bridge" "$out" \
    "^bridge +br-fc 10\.77\.0\.1/29$"
expect_match "net: net show gives the subnet" "$out" "^subnet +10\.77\.0\.0/29$"
expect_match "net: net show gives the egress" "$out" "^egress +up0$"
expect_match "net: net show lists each VM" "$out" \
    "^f +10\.77\.0\.6 +02:fc:0a:4d:00:06 +fc-tap-[0-9a-f]{8} +-$"
js=$(ctl net show --json)
expect_eq "net: net show --json" \
    "$(echo "$js" | jq -c '[.subnet, .egress, .nat, .dns_domain, (.vms | length)]')" \
    '["10.77.0.0/29","up0",true,"vm.internal",5]'

# Published ports: a connection to the host's port reaches the VM while
# it runs.  The "VM" here is a namespace holding the VM's address on a
# veth in the bridge (the idle stand-in has no guest).
ctl vm rm -f f >/dev/null
ctl vm create web --publish 8080:80 >/dev/null
waddr=$(addr_of web)
VMNS=banger-vm-$$
ip netns add "$VMNS"
trap 'daemon_cleanup; ip netns delete "$UP" 2>/dev/null; ip netns delete "$VMNS" 2>/dev/null' EXIT
in_ns ip link add vmh0 type veth peer name eth0 netns "$VMNS"
in_ns ip link set vmh0 master br-fc up
ip -n "$VMNS" addr add "$waddr/29" dev eth0
ip -n "$VMNS" link set eth0 up
ip -n "$VMNS" link set lo up
ip -n "$VMNS" route add default via 10.77.0.1
ip netns exec "$VMNS" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(8)
while True:
    c, a = s.accept(); c.sendall(b"hello from the vm\n"); c.close()
' &
listener=$!
ip -n "$UP" addr add 10.78.0.2/24 dev up1
ip -n "$UP" link set up1 up
connect() { ip netns exec "$UP" python3 -c '
import socket, sys
try:
    s = socket.create_connection(("10.78.0.1", 8080), timeout=2)
    print(s.recv(100).decode().strip())
except Exception as e:
    print("failed:", e)
'; }
# Egress: the "VM" reaches the upstream namespace, masqueraded as the
# host's egress address.
seen_from "$UP" 10.78.0.2
upl=$!
sleep 0.5
expect_eq "net: a VM reaches the upstream, masqueraded as the egress" \
    "$(ip netns exec "$VMNS" python3 -c '
import socket
s = socket.create_connection(("10.78.0.2", 9000), timeout=3)
print(s.recv(100).decode().strip())')" "seen from 10.78.0.1"
kill "$upl"
wait "$upl" 2>/dev/null
expect_match "net: a stopped VM's port is not published" "$(connect)" "failed"
ctl vm start web >/dev/null
expect_match "net: the published port is in the NAT table" \
    "$(in_ns nft list table ip banger)" "dnat to $waddr:80"
expect_eq "net: a connection to the host's port reaches the VM" \
    "$(connect)" "hello from the vm"
out=$(ctl vm create other --publish 8080:22 2>&1); rc=$?
expect_eq "net: a port published by another VM is refused (exit 1)" "$rc" 1
expect_eq "net: ... naming that VM" "$out" \
    "bangerctl: host port 8080/tcp is already published by VM web"
bad=$(ctl vm create other --publish 80:eighty 2>&1)
expect_match "net: a bad --publish is named" "$bad" \
    'invalid --publish "80:eighty": use \[HOSTIP:\]HOSTPORT:GUESTPORT'
expect_match "net: net show lists the published port" "$(ctl net show)" \
    "^web .* 8080:80/tcp$"
# Both records hold the ports: a restart publishes them again.
daemon_stop
daemon_start
wait_for 10 sh -c "ip netns exec $NS nft list table ip banger 2>/dev/null |
    grep -q 'dnat to $waddr:80'"
expect_match "net: after a restart the running VM's port is published again" \
    "$(in_ns nft list table ip banger)" "dnat to $waddr:80"
expect_eq "net: ... and reaches the VM" "$(connect)" "hello from the vm"
expect_match "net: ... and net show lists it" "$(ctl net show)" \
    "^web .* 8080:80/tcp$"
ctl vm stop web >/dev/null
expect_match "net: after vm stop the port is closed" "$(connect)" "failed"
if in_ns nft list table ip banger | grep -q 'dnat'; then
	fail "net: after vm stop the rule is gone" "dnat rule left"
else
	pass "net: after vm stop the rule is gone"
fi
kill "$listener"
wait "$listener" 2>/dev/null

ctl vm prune >/dev/null
daemon_stop
if in_ns nft list table ip banger >/dev/null 2>&1; then
	fail "net: the NAT table goes at shutdown" "table ip banger is there"
else
	pass "net: the NAT table goes at shutdown"
fi

# A missing egress interface: a clear message, and no NAT.
sed -i 's/egress "up0"/egress "nosuch0"/' "$CONF"
daemon_start
wait_for 5 grep -q "egress interface" "$DLOG"
expect_match "net: a missing egress interface is named in the log" \
    "$(cat "$DLOG")" "egress interface nosuch0 does not exist; NAT not set up"
expect_match "net: without NAT the bridge's DNS still answers" \
    "$(in_ns drill @10.77.0.1 vm.internal SOA)" "rcode: NOERROR"

t_done
