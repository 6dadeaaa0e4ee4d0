#!/bin/bash
# netops.sh: bangerd's network root operations (bangerd/parent/netops.c,
# tap.c, nat.c, resolver.c), driven through regress/helpers/netops-drive:
# bridge, taps, the NAT table end to end, resolver routing with a
# resolvectl stand-in.
#
# Root only.  Everything happens in network namespaces made here
# (banger-nt-PID-host, -vm, -up) and deleted at the end: the host's own
# interfaces, routes, firewall and ip_forward are never touched, and the
# end checks that they are as they were.
#
# Binary: $HELPERS/netops-drive, or, with HELPERS unset, built here
# with cc.  NETOPS_KEEP=1 keeps the temporary directory.

TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$TOP/regress/lib/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip netops "needs root"
	t_done
fi
for c in ip nft; do
	if ! command -v "$c" >/dev/null; then
		skip netops "$c is not installed"
		t_done
	fi
done
if [ -x /usr/bin/python3 ]; then
	PY=/usr/bin/python3
elif PY=$(command -v python3); then
	:
else
	skip netops "python3 is not installed"
	t_done
fi
if [ ! -c /dev/net/tun ]; then
	skip netops "no /dev/net/tun"
	t_done
fi

T=$(mktemp -d /tmp/netops.XXXXXX) || exit 1
NS_H=banger-nt-$$-host
NS_V=banger-nt-$$-vm
NS_U=banger-nt-$$-up
NS_W=banger-nt-$$-vm2
PIDS=()

stop_pids() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	PIDS=()
}

del_netns() {
	local ns
	for ns in "$NS_H" "$NS_V" "$NS_U" "$NS_W"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
	done
}

cleanup() {
	stop_pids
	del_netns
	if [ -n "$NETOPS_KEEP" ]; then
		echo "netops: kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# --- the binary -------------------------------------------------------

if [ -n "$HELPERS" ]; then
	DRIVE=$HELPERS/netops-drive
else
	# Run by hand: the helper built as make check builds it.
	DRIVE=$TOP/obj/regress/helpers/netops-drive
	if ! make -s -C "$TOP" "obj/regress/helpers/netops-drive" \
	    >"$T/cc.log" 2>&1; then
		fail build "$(tr '\n' ' ' <"$T/cc.log" | cut -c1-300)"
		t_done
	fi
fi
if [ ! -x "$DRIVE" ]; then
	fail binary "$DRIVE is not built"
	t_done
fi
pass binary

# --- helpers ----------------------------------------------------------

H() { ip netns exec "$NS_H" "$@"; }
V() { ip netns exec "$NS_V" "$@"; }
U() { ip netns exec "$NS_U" "$@"; }

# run ARGS...: netops-drive ARGS in the host namespace, PATH=$DPATH;
# RC, OUT and ERR get its status, stdout and stderr.
DPATH=$PATH
run() {
	ip netns exec "$NS_H" env PATH="$DPATH" "$DRIVE" "$@" \
	    >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# sanitized NAME: FAIL if the last run's stderr holds a sanitizer
# report (a refusal's exit status would hide it).
sanitized() {
	if printf '%s' "$ERR" | grep -Eq 'Sanitizer|runtime error:'; then
		fail "$1" "sanitizer: $(printf '%s' "$ERR" | tr '\n' ' ' |
		    cut -c1-300)"
		return 1
	fi
	return 0
}

# ok NAME ARGS...: the drive succeeds.
ok() {
	local name=$1
	shift
	run "$@"
	sanitized "$name" || return
	if [ "$RC" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "status $RC: $(printf '%s' "$ERR" | tr '\n' ' ' |
		    cut -c1-300)"
	fi
}

# refused NAME REGEX ARGS...: the drive fails and logs REGEX.
refused() {
	local name=$1 re=$2
	shift 2
	run "$@"
	sanitized "$name" || return
	if [ "$RC" -eq 0 ]; then
		fail "$name" "succeeded: $(printf '%s' "$ERR" | tr '\n' ' ' |
		    cut -c1-300)"
	else
		expect_match "$name" "$ERR" "$re"
	fi
}

# jget EXPR: evaluate EXPR on the JSON document d read from stdin.
jget() {
	"$PY" -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1" 2>&1
}

# inet DEV: the IPv4 addresses of DEV (host namespace), "A/P A/P".
inet() {
	H ip -j addr show dev "$1" | jget '" ".join(sorted(
	    a["local"] + "/" + str(a["prefixlen"])
	    for a in d[0]["addr_info"] if a["family"] == "inet"))'
}

# linkj DEV EXPR: EXPR on `ip -j -d link show dev DEV`'s d[0] (as l).
linkj() {
	H ip -j -d link show dev "$1" | jget "(lambda l: $2)(d[0])"
}

exists() { H ip link show dev "$1" >/dev/null 2>&1; }

nft_rules() {
	H nft -j list table ip banger 2>/dev/null |
	    jget 'sum(1 for o in d["nftables"] if "rule" in o)'
}

nft_tables() {
	H nft -j list tables | jget 'sum(1 for o in d["nftables"]
	    if "table" in o and o["table"]["name"] == "banger"
	    and o["table"]["family"] == "ip")'
}

# listen NS ADDR PORT NAME: a TCP server in NS; each peer's address is
# appended to $T/NAME.peers.
cat >"$T/listen.py" <<'EOF'
import socket, sys
addr, port, peers, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
open(ready, "w").close()
while True:
    c, peer = s.accept()
    with open(peers, "a") as f:
        f.write(peer[0] + "\n")
    c.sendall(b"hello\n")
    c.close()
EOF
cat >"$T/connect.py" <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
s.settimeout(2)
data = s.recv(64)
sys.exit(0 if data == b"hello\n" else 1)
EOF
listen() {
	local ns=$1 addr=$2 port=$3 name=$4
	: >"$T/$name.peers"
	ip netns exec "$ns" "$PY" "$T/listen.py" "$addr" "$port" \
	    "$T/$name.peers" "$T/$name.ready" >"$T/$name.log" 2>&1 &
	PIDS+=($!)
	wait_for 5 test -e "$T/$name.ready"
}
# connect NS ADDR PORT: succeeds if the listener there answers.
connect() {
	ip netns exec "$1" "$PY" "$T/connect.py" "$2" "$3" >/dev/null 2>&1
}
last_peer() { tail -n 1 "$T/$1.peers"; }

# --- the namespaces ---------------------------------------------------

HOST_LINKS=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
HOST_FWD=$(cat /proc/sys/net/ipv4/ip_forward)
HOST_TABLES=$(nft list tables 2>&1)

for ns in "$NS_H" "$NS_V" "$NS_U" "$NS_W"; do
	if ! ip netns add "$ns" || ! ip netns exec "$ns" ip link set lo up
	then
		fail netns "cannot make namespace $ns"
		t_done
	fi
done
pass netns

# --- bridge -----------------------------------------------------------

ok "bridge create" bridge-ensure br-fc 172.16.0.1 24
expect_eq "bridge address" "$(inet br-fc)" "172.16.0.1/24"
expect_eq "bridge broadcast" "$(H ip -j addr show dev br-fc |
    jget '[a.get("broadcast") for a in d[0]["addr_info"]
    if a["family"] == "inet"][0]')" "172.16.0.255"
expect_eq "bridge up" "$(linkj br-fc '"UP" in l["flags"]')" "True"
expect_eq "bridge kind" "$(linkj br-fc 'l["linkinfo"]["info_kind"]')" \
    "bridge"
expect_match "bridge alias" "$(H ip -d link show dev br-fc)" \
    "alias banger"
expect_eq "bridge mac fixed" \
    "$(H cat /sys/class/net/br-fc/addr_assign_type)" "3"
expect_match "bridge create logged" "$ERR" "bridge br-fc: created"

ok "bridge ensure twice" bridge-ensure br-fc 172.16.0.1 24
expect_eq "bridge twice one address" "$(inet br-fc)" "172.16.0.1/24"

H ip addr add 172.16.9.9/24 dev br-fc
ok "bridge readdress" bridge-ensure br-fc 172.16.5.1 16
expect_eq "bridge readdress addresses" "$(inet br-fc)" "172.16.5.1/16"
H ip link set br-fc down
ok "bridge back" bridge-ensure br-fc 172.16.0.1 24
expect_eq "bridge back address" "$(inet br-fc)" "172.16.0.1/24"
expect_eq "bridge back up" "$(linkj br-fc '"UP" in l["flags"]')" "True"

H ip link add br-fc-x type bridge
refused "foreign bridge refused" "bridge br-fc-x: exists without banger's mark" \
    bridge-ensure br-fc-x 10.77.0.1 24
expect_eq "foreign bridge untouched" "$(inet br-fc-x)" ""
refused "foreign bridge remove refused" "br-fc-x: exists without" \
    bridge-remove br-fc-x
check "foreign bridge kept" exists br-fc-x

H ip link add br-fc-y type veth peer name nt-peer-y
refused "veth named br-fc-y refused" "bridge br-fc-y: .*is not a bridge" \
    bridge-ensure br-fc-y 10.78.0.1 24
refused "veth named br-fc-y not removed" "is not a bridge" \
    bridge-remove br-fc-y
check "veth br-fc-y kept" exists br-fc-y
H ip link del br-fc-y

for n in br-fc0 eth0 br-fc- br-fc-A "br-fc-a b" br-fc-0123456789ab; do
	refused "bridge name '$n' refused" "invalid name" \
	    bridge-ensure "$n" 10.79.0.1 24
	if exists "$n"; then
		fail "bridge name '$n' not created" "it exists"
	else
		pass "bridge name '$n' not created"
	fi
done
refused "bridge remove bad name" "invalid name" bridge-remove eth0
for a in 10.79.0.1/7 10.79.0.1/33 10.79.0.0/24 10.79.0.255/24 \
    127.0.0.1/8 0.0.0.0/24 224.0.0.1/24; do
	refused "bridge address $a refused" "refused: address" \
	    bridge-ensure br-fc-z "${a%/*}" "${a#*/}"
done
if exists br-fc-z; then
	fail "bridge bad address not created" "br-fc-z exists"
else
	pass "bridge bad address not created"
fi

ok "bridge remove setup" bridge-ensure br-fc-z 10.79.0.1 24
ok "bridge remove" bridge-remove br-fc-z
if exists br-fc-z; then
	fail "bridge removed" "br-fc-z still exists"
else
	pass "bridge removed"
fi
ok "bridge remove again" bridge-remove br-fc-z

# --- taps -------------------------------------------------------------

TAP=fc-tap-0a1b2c3d
H ip link set br-fc mtu 1400
ok "tap create" tap-create $TAP br-fc 300001 300002
expect_eq "tap owner" "$(H cat /sys/class/net/$TAP/owner)" "300001"
expect_eq "tap group" "$(H cat /sys/class/net/$TAP/group)" "300002"
expect_eq "tap flags" "$(H cat /sys/class/net/$TAP/tun_flags)" "0x5802"
expect_match "tap kind" "$(H ip -d link show dev $TAP)" \
    "tun type tap pi off vnet_hdr on persist on user 300001 group 300002"
expect_match "tap alias" "$(H ip -d link show dev $TAP)" "alias banger"
expect_eq "tap master" "$(linkj $TAP 'l.get("master")')" "br-fc"
expect_eq "tap mtu" "$(linkj $TAP 'l["mtu"]')" "1400"
expect_eq "tap up" "$(linkj $TAP '"UP" in l["flags"]')" "True"
expect_eq "bridge mtu kept" "$(linkj br-fc 'l["mtu"]')" "1400"
# No IPv6 of the host's on a bridge port: no link-local address or
# routes for the kernel to walk when the tap goes (prune's n squared).
expect_eq "tap has IPv6 disabled" \
    "$(H cat /proc/sys/net/ipv6/conf/$TAP/disable_ipv6)" "1"
expect_eq "tap has no IPv6 address or route" \
    "$(H ip -6 -o addr show dev $TAP | wc -l) $(H ip -6 route show table all dev $TAP | wc -l)" \
    "0 0"

ok "tap create twice" tap-create $TAP br-fc 300001 300002
expect_eq "tap twice master" "$(linkj $TAP 'l.get("master")')" "br-fc"
expect_eq "tap twice one" "$(H ip -o link show | grep -c "$TAP")" "1"

H ip link set $TAP nomaster
H ip link set $TAP down mtu 1500
ok "tap repair" tap-create $TAP br-fc 300003 300004
expect_eq "tap repaired" "$(linkj $TAP '(l.get("master"), l["mtu"],
    "UP" in l["flags"])')" "('br-fc', 1400, True)"
expect_eq "tap new owner" "$(H cat /sys/class/net/$TAP/owner):$(H cat \
    /sys/class/net/$TAP/group)" "300003:300004"
expect_eq "tap still persistent" "$(H cat /sys/class/net/$TAP/tun_flags)" \
    "0x5802"
# A tap an older bangerd made (IPv6 on, up) is left without IPv6 by a
# create that finds it as it should be.
H sh -c "echo 0 >/proc/sys/net/ipv6/conf/$TAP/disable_ipv6"
ok "tap create over a tap with IPv6" tap-create $TAP br-fc 300003 300004
expect_eq "... IPv6 disabled again" \
    "$(H cat /proc/sys/net/ipv6/conf/$TAP/disable_ipv6)" "1"

# Firecracker's way of opening it: the tap is in use, TUNSETIFF would
# fail with EBUSY, and nothing needs changing.
cat >"$T/hold.py" <<'EOF'
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
# TUNSETIFF, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x5002))
open(sys.argv[2], "w").close()
time.sleep(60)
EOF
H "$PY" "$T/hold.py" $TAP "$T/hold.ready" >"$T/hold.log" 2>&1 &
HOLD=$!
PIDS+=("$HOLD")
if wait_for 5 test -e "$T/hold.ready"; then
	pass "tap held"
	ok "tap create while in use" tap-create $TAP br-fc 300003 300004
	expect_eq "tap in use carrier" \
	    "$(linkj $TAP '"LOWER_UP" in l["flags"]')" "True"
else
	fail "tap held" "$(tr '\n' ' ' <"$T/hold.log")"
fi
{ kill -KILL "$HOLD"; wait "$HOLD"; } 2>/dev/null
check "tap outlives its user" exists $TAP

H ip tuntap add fc-tap-deadbeef mode tap
refused "foreign tap refused" "tap fc-tap-deadbeef: exists without" \
    tap-create fc-tap-deadbeef br-fc 300001 300002
expect_eq "foreign tap untouched" "$(linkj fc-tap-deadbeef \
    '(l.get("master"), l.get("ifalias"))')" "(None, None)"
refused "foreign tap delete refused" "exists without" \
    tap-delete fc-tap-deadbeef
check "foreign tap kept" exists fc-tap-deadbeef
H ip link del fc-tap-deadbeef

H ip link add fc-tap-00000001 type veth peer name nt-peer-t
refused "veth named like a tap refused" "is not a tap" \
    tap-create fc-tap-00000001 br-fc 300001 300002
refused "veth named like a tap not deleted" "is not a tap" \
    tap-delete fc-tap-00000001
H ip link del fc-tap-00000001

for n in fc-tap-XYZ fc-tap-0A1B2C3D fc-tap-123 fc-tap-0a1b2c3d4 eth0; do
	refused "tap name '$n' refused" "invalid name" \
	    tap-create "$n" br-fc 300001 300002
done
refused "tap bridge name refused" "invalid name" \
    tap-create fc-tap-0a0a0a0a br-fc0 300001 300002
refused "tap on missing bridge" "bridge br-fc-nope does not exist" \
    tap-create fc-tap-0a0a0a0a br-fc-nope 300001 300002
refused "tap on foreign bridge" "bridge br-fc-x is not banger's" \
    tap-create fc-tap-0a0a0a0a br-fc-x 300001 300002
refused "tap for root refused" "root or none" \
    tap-create fc-tap-0a0a0a0a br-fc 0 300002
if exists fc-tap-0a0a0a0a; then
	fail "refused tap not created" "fc-tap-0a0a0a0a exists"
else
	pass "refused tap not created"
fi

ok "tap delete" tap-delete $TAP
if exists $TAP; then
	fail "tap deleted" "$TAP still exists"
else
	pass "tap deleted"
fi
ok "tap delete again" tap-delete $TAP

# --- spare taps -------------------------------------------------------

# A tap given up as bangerd's reaper gives up a removed VM's
# (net_taps_retire) is kept as a spare: down, root's, renamed
# fc-spare-XXXXXX, still banger's, on its bridge.  The next creation in
# the same process takes it (the same link: its index) and gives it its
# owner, bridge, MTU and state.
S1=fc-tap-5a000001
S2=fc-tap-5a000002
cat >"$T/spares.sh" <<'EOF'
for l in /sys/class/net/fc-spare-*; do
	[ -e "$l" ] || continue
	echo "${l##*/} $(cat $l/ifindex) $(cat $l/owner) $(cat $l/group)" \
	    "up=$(( $(cat $l/flags) & 1 )) $(cat $l/ifalias)" \
	    "$(basename "$(readlink $l/master)")"
done
EOF
spares() { H ls /sys/class/net | grep '^fc-spare-' | tr '\n' ' '; }
gone() { ! exists "$1"; }
ok "spare: a tap" tap-create $S1 br-fc 300001 300002
idx=$(linkj $S1 'l["ifindex"]')
ok "spare: given up, then taken by a creation" taps-retire 1 $S1 \
    sh "sh $T/spares.sh >$T/spares.out" tap-create $S2 br-fc 300005 300006
expect_eq "spare: given up is ok" "$OUT" "$S1 ok"
expect_match "spare: it was down, root's, banger's, on its bridge" \
    "$(cat "$T/spares.out")" \
    "^fc-spare-[0-9a-f]{6} $idx 0 0 up=0 banger br-fc$"
expect_match "spare: logged kept" "$ERR" "tap $S1: kept as spare fc-spare-"
expect_match "spare: logged taken" "$ERR" "tap $S2: made of spare fc-spare-"
check "spare: the given-up name is gone" gone $S1
expect_eq "spare: the new tap is the same link" \
    "$(linkj $S2 'l["ifindex"]')" "$idx"
expect_eq "spare: the new tap's owner and group" \
    "$(H cat /sys/class/net/$S2/owner):$(H cat /sys/class/net/$S2/group)" \
    "300005:300006"
expect_eq "spare: the new tap on the bridge, its MTU, up, no IPv6" \
    "$(linkj $S2 '(l.get("master"), l["mtu"], "UP" in l["flags"])') $(H cat /proc/sys/net/ipv6/conf/$S2/disable_ipv6)" \
    "('br-fc', 1400, True) 1"
expect_eq "spare: the new tap persistent" \
    "$(H cat /sys/class/net/$S2/tun_flags)" "0x5802"
expect_eq "spare: none left once taken" "$(spares)" ""

# A tap some process still holds is deleted, not kept: no process of a
# removed VM's keeps a way into the next VM's network.
H "$PY" "$T/hold.py" $S2 "$T/hold2.ready" >"$T/hold2.log" 2>&1 &
HOLD=$!
PIDS+=("$HOLD")
if wait_for 5 test -e "$T/hold2.ready"; then
	ok "spare: a tap in use given up" taps-retire 1 $S2
	expect_eq "spare: ... is deleted" "$OUT|$(spares)" "$S2 ok|"
	check "spare: ... is gone" gone $S2
	expect_match "spare: ... logged deleted" "$ERR" "tap $S2: deleted"
else
	fail "spare: tap held" "$(tr '\n' ' ' <"$T/hold2.log")"
fi
{ kill -KILL "$HOLD"; wait "$HOLD"; } 2>/dev/null

# At most 16: of 18 given up at once, 16 are kept and 2 deleted; the
# spares go with spares-clear (bangerd's stop).
args=()
mk=()
for i in $(seq 1 18); do
	args+=("$(printf 'fc-tap-5b%06x' "$i")")
	mk+=(tap-create "$(printf 'fc-tap-5b%06x' "$i")" br-fc 300001 300002)
done
ok "spare: 18 taps" "${mk[@]}"
ok "spare: 18 given up, then cleared" taps-retire 18 "${args[@]}" \
    sh "ls /sys/class/net | grep -c '^fc-spare-' >$T/nspares" spares-clear
expect_eq "spare: 16 kept" "$(cat "$T/nspares")" 16
expect_eq "spare: 18 ok" "$(printf '%s\n' "$OUT" | grep -c ' ok$')" 18
expect_match "spare: cleared, logged" "$ERR" "spare taps: 16 deleted"
expect_eq "spare: none left, nor any of the 18" \
    "$(spares)$(H ls /sys/class/net | grep -c '^fc-tap-5b')" "0"

# Spares a process left (a crash) are found by name and mark at the
# next start (spares-clear); an unmarked fc-spare-* is not banger's.
ok "spare: two kept by a process that ends" \
    tap-create fc-tap-5c000001 br-fc 300001 300002 \
    tap-create fc-tap-5c000002 br-fc 300001 300002 \
    taps-retire 2 fc-tap-5c000001 fc-tap-5c000002
expect_match "spare: ... they outlive it" "$(spares)" \
    "^fc-spare-[0-9a-f]{6} fc-spare-[0-9a-f]{6} $"
H ip tuntap add fc-spare-abcdef mode tap
ok "spare: an earlier run's cleared" spares-clear
expect_eq "spare: ... the unmarked one stays" "$(spares)" "fc-spare-abcdef "
expect_match "spare: ... logged" "$ERR" "spare taps: 2 deleted"
H ip link del fc-spare-abcdef

# A spare deleted by someone else before a creation takes it: the
# creation makes a tap of its own.
ok "spare: gone before it is taken" \
    tap-create fc-tap-5d000001 br-fc 300001 300002 \
    taps-retire 1 fc-tap-5d000001 \
    sh "ip link del \$(ls /sys/class/net | grep '^fc-spare-')" \
    tap-create fc-tap-5d000002 br-fc 300001 300002
expect_match "spare: ... a new tap made" "$ERR" \
    "tap fc-tap-5d000002: created for 300001:300002"
expect_eq "spare: ... on the bridge, up" \
    "$(linkj fc-tap-5d000002 '(l.get("master"), "UP" in l["flags"])')" \
    "('br-fc', True)"
ok "spare: cleanup" tap-delete fc-tap-5d000002
# A spare another file is attached to when a creation would take it
# (as a child forked while the reaper kept it holds the reaper's, for a
# moment) is not taken: the creation makes a tap of its own, and the
# spare is put back.
rm -f "$T/hold3.ready"
ok "spare: held when a creation would take it" \
    tap-create fc-tap-5e000001 br-fc 300001 300002 \
    taps-retire 1 fc-tap-5e000001 \
    sh "$PY $T/hold.py \$(ls /sys/class/net | grep '^fc-spare-') $T/hold3.ready >/dev/null 2>&1 & echo \$! >$T/hold3.pid; while [ ! -e $T/hold3.ready ]; do sleep 0.05; done" \
    tap-create fc-tap-5e000002 br-fc 300001 300002
kill -KILL "$(cat "$T/hold3.pid")" 2>/dev/null
expect_match "spare: ... a new tap made" "$ERR" \
    "tap fc-tap-5e000002: created for 300001:300002"
expect_match "spare: ... the spare is still there" "$(spares)" \
    "^fc-spare-[0-9a-f]{6} $"
ok "spare: ... cleanup" tap-delete fc-tap-5e000002 spares-clear
expect_eq "spare: ... none left" "$(spares)" ""
# No request names a spare: it is no tap name.
refused "spare: a spare's name is no tap's" "invalid name" \
    tap-create fc-spare-abcdef br-fc 300001 300002
H ip link del br-fc-x
H ip link set br-fc mtu 1500

# --- leaf bridges -----------------------------------------------------

# Linux takes 1023 ports on a bridge: past 1000 taps, a leaf joined to
# the bridge by a veth pair takes them.
ok "leaves: bridge" bridge-ensure br-fc-q 10.80.0.1 24
H ip link set br-fc-q mtu 1400
args=()
for i in $(seq 1 1002); do
	args+=(tap-create "$(printf 'fc-tap-%08x' "$i")" br-fc-q 300001 300002)
done
ok "leaves: 1002 taps" "${args[@]}"
master() { linkj "$1" 'l.get("master", "")'; }
expect_eq "leaves: 1000 on the bridge" \
    "$(H ls /sys/class/net/br-fc-q/brif | grep -c '^fc-tap-')" 1000
expect_eq "leaves: the rest on its first leaf" \
    "$(master fc-tap-000003e9) $(master fc-tap-000003ea)" \
    "br-fc-q-1 br-fc-q-1"
expect_eq "leaves: the leaf is a bridge, marked, up" \
    "$(linkj br-fc-q-1 'l["linkinfo"]["info_kind"] + " " +
    l.get("ifalias", "") + " " + str("UP" in l["flags"])')" \
    "bridge banger True"
expect_eq "leaves: joined by a veth pair, marked, one end on each" \
    "$(linkj br-fc-q-1u 'l["linkinfo"]["info_kind"] + " " +
    l.get("ifalias", "") + " " + l.get("master", "")') $(linkj br-fc-q-1d \
    'l.get("ifalias", "") + " " + l.get("master", "")')" \
    "veth banger br-fc-q banger br-fc-q-1"
expect_eq "leaves: with the bridge's MTU" \
    "$(linkj br-fc-q-1 'l["mtu"]') $(linkj br-fc-q-1u 'l["mtu"]')" \
    "1400 1400"
expect_match "leaves: logged" "$ERR" \
    "bridge br-fc-q: leaf br-fc-q-1 joined by br-fc-q-1u and br-fc-q-1d"
ok "leaves: a tap made again stays on its leaf" \
    tap-create fc-tap-000003ea br-fc-q 300001 300002
expect_eq "leaves: ... on br-fc-q-1" "$(master fc-tap-000003ea)" br-fc-q-1
# The ports are counted once and kept (tap.c, ports_count): taps
# deleted are counted at once, in the same process, well within the
# time the counts are kept.  (The bridge holds 1000 taps and the leaf's
# veth end: two must go for room.)
ok "leaves: a tap, then two gone from the bridge, then another" \
    tap-create fc-tap-00000bbc br-fc-q 300001 300002 \
    taps-delete 2 fc-tap-00000001 fc-tap-00000002 \
    tap-create fc-tap-00000bbb br-fc-q 300001 300002
expect_eq "leaves: ... the first on the leaf, the next where two went" \
    "$(master fc-tap-00000bbc) $(master fc-tap-00000bbb)" \
    "br-fc-q-1 br-fc-q"
# The leaf is one network with the bridge: a host on it reaches the
# bridge's address.
H ip link add nt-leaf type veth peer name nt-leaf-v netns "$NS_V"
H ip link set nt-leaf master br-fc-q-1 up
V ip addr add 10.80.0.77/24 dev nt-leaf-v
V ip link set nt-leaf-v up
# The listener may not listen yet, and the new port's neighbour may not
# answer at once (once, here, the first connect found no route): the
# host tries for 10 s.  The listener is ended whatever came of it.
H "$PY" -c 'import socket
s = socket.socket(); s.bind(("10.80.0.1", 9099)); s.listen(1)
c, a = s.accept(); c.sendall(("seen " + a[0] + "\n").encode())' &
lpid=$!
expect_eq "leaves: a host on a leaf reaches the bridge" \
    "$(V "$PY" -c 'import socket, time
end = time.time() + 10
while True:
    try:
        s = socket.create_connection(("10.80.0.1", 9099), 5)
        break
    except OSError:
        if time.time() > end:
            raise
        time.sleep(0.2)
print(s.recv(64).decode().strip())' 2>&1)" "seen 10.80.0.77"
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
H ip link del nt-leaf
# Counts kept are off by the ports others add: a bridge that will not
# take a tap (Linux: 1023 ports) has its ports counted again, and the
# tap goes where there is room.  The bridge has its leaf (made while
# another program held 1000 of its ports, since let go); the counts
# are taken with room on the bridge, then the other program fills it.
ok "recount: bridge" bridge-ensure br-fc-s 10.81.0.1 24
others() {
	local i
	for i in $(seq 1 "$2"); do
		case $1 in
		add) echo "tuntap add mode tap name nt-o$i" ;;
		on) echo "link set nt-o$i master br-fc-s" ;;
		del) echo "link del nt-o$i" ;;
		esac
	done >"$T/others.$1"
}
others add 1021; others on 1000; others del 1021
H ip -batch "$T/others.add"
H ip -batch "$T/others.on"
ok "recount: a leaf, made while the bridge was full" \
    tap-create fc-tap-00005001 br-fc-s 300001 300002
H ip -batch "$T/others.del"
H ip -batch "$T/others.add"
others on 1021
ok "recount: a tap after another program filled the bridge" \
    tap-create fc-tap-00005002 br-fc-s 300001 300002 \
    sh "ip -batch $T/others.on" \
    tap-create fc-tap-00005003 br-fc-s 300001 300002
expect_eq "recount: ... the bridge was full" \
    "$(H ls /sys/class/net/br-fc-s/brif | wc -l)" 1023
expect_eq "recount: ... the taps: on the leaf, the bridge, the leaf" \
    "$(master fc-tap-00005001) $(master fc-tap-00005002) $(master fc-tap-00005003)" \
    "br-fc-s-1 br-fc-s br-fc-s-1"
expect_match "recount: ... the ports were counted again" "$ERR" \
    "tap fc-tap-00005003: bridge br-fc-s took no more; its ports are counted again"
H ip -batch "$T/others.del"
ok "recount: cleanup" taps-delete 3 fc-tap-00005001 fc-tap-00005002 \
    fc-tap-00005003 bridge-remove br-fc-s

# All of them in one net_taps_delete (a prune's), among names that are
# not banger's taps: those stay as they were, and say so.
H ip tuntap add fc-tap-deadbeef mode tap
H ip link add fc-tap-00000bad type veth peer name nt-bad-p
H ip link add nt-grp type veth peer name nt-grp-p
H ip link set nt-grp group 4242
args=()
for i in $(seq 1 1002); do
	args+=("$(printf 'fc-tap-%08x' "$i")")
done
run taps-delete 1008 "${args[@]}" fc-tap-00000bbb fc-tap-00000bbc \
    fc-tap-deadbeef fc-tap-00000bad fc-tap-0000ffff fc-tap-XYZ
sanitized "taps delete: in one batch"
expect_eq "taps delete: status 1, for what it left" "$RC" 1
expect_eq "taps delete: each of banger's gone, a missing one too" \
    "$(printf '%s\n' "$OUT" | grep -c ' ok$')" 1005
expect_eq "taps delete: each refusal named" \
    "$(printf '%s\n' "$OUT" | grep -v ' ok$' | tr '\n' ';')" \
    "fc-tap-deadbeef Operation not permitted;fc-tap-00000bad Operation not permitted;fc-tap-XYZ Invalid argument;"
expect_match "taps delete: unmarked tap logged" "$ERR" \
    "tap fc-tap-deadbeef: exists without banger's mark"
expect_match "taps delete: veth logged" "$ERR" \
    "tap fc-tap-00000bad: .* is not a tap"
expect_eq "taps delete: none of banger's is left" \
    "$(H ip -o link show | grep -o 'fc-tap-[0-9a-f]*' | sort -u |
    tr '\n' ' ')" "fc-tap-00000bad fc-tap-deadbeef "
check "taps delete: the unmarked tap stays" exists fc-tap-deadbeef
check "taps delete: the veth stays" exists fc-tap-00000bad
expect_eq "taps delete: a link in a group of its own stays in it" \
    "$(linkj nt-grp 'l["group"]')" 4242
expect_eq "taps delete: the others' groups are as they were" \
    "$(linkj fc-tap-deadbeef 'l["group"]') $(linkj fc-tap-00000bad \
    'l["group"]')" "default default"
H ip link del fc-tap-deadbeef
H ip link del fc-tap-00000bad
H ip link del nt-grp
ok "taps delete: again, with nothing left" taps-delete 2 \
    fc-tap-00000001 fc-tap-000003ea
expect_eq "taps delete: again, each ok" "$OUT" \
    "$(printf 'fc-tap-00000001 ok\nfc-tap-000003ea ok')"
ok "leaves: the bridge goes with its leaves" bridge-remove br-fc-q
expect_eq "leaves: nothing of them is left" \
    "$(H ip -o link show | grep -c 'br-fc-q')" 0

# --- NAT --------------------------------------------------------------

# vm: eth0 172.16.0.2/24 on br-fc through nt-vm; vm2: 172.16.0.3/24
# through nt-vm2.  upstream: eth0 10.200.0.2/24, reached through the
# host's nt-up 10.200.0.1/24 (the egress); it has no route to the VM
# subnet.
setup_vm() {
	local ns=$1 port=$2 addr=$3
	H ip link add "$port" type veth peer name "$port-g" &&
	H ip link set "$port-g" netns "$ns" &&
	H ip link set "$port" master br-fc up &&
	ip netns exec "$ns" ip link set "$port-g" name eth0 &&
	ip netns exec "$ns" ip addr add "$addr/24" dev eth0 &&
	ip netns exec "$ns" ip link set eth0 up &&
	ip netns exec "$ns" ip route add default via 172.16.0.1
}
setup_nat() {
	setup_vm "$NS_V" nt-vm 172.16.0.2 &&
	setup_vm "$NS_W" nt-vm2 172.16.0.3 &&
	H ip link add nt-up type veth peer name nt-upg &&
	H ip link set nt-upg netns "$NS_U" &&
	H ip addr add 10.200.0.1/24 dev nt-up &&
	H ip link set nt-up up &&
	U ip link set nt-upg name eth0 &&
	U ip addr add 10.200.0.2/24 dev eth0 &&
	U ip link set eth0 up &&
	H nft add table ip nt-other &&
	H nft add chain ip nt-other keep
}
if ! setup_nat >"$T/setup.log" 2>&1; then
	fail "nat setup" "$(tr '\n' ' ' <"$T/setup.log" | cut -c1-300)"
	t_done
fi
pass "nat setup"
H sysctl -qw net.ipv4.ip_forward=0

if listen "$NS_U" 0.0.0.0 7000 up && listen "$NS_V" 0.0.0.0 80 vm &&
    listen "$NS_H" 172.16.0.1 7001 br; then
	pass "listeners"
else
	fail "listeners" "$(cat "$T/up.log" "$T/vm.log" "$T/br.log" |
	    tr '\n' ' ')"
fi
check "vm reaches the bridge" connect "$NS_V" 172.16.0.1 7001
if connect "$NS_V" 10.200.0.2 7000; then
	fail "no nat, no way out" "the vm reached upstream"
else
	pass "no nat, no way out"
fi

PUB=tcp:10.200.0.1:8080:172.16.0.2:80
ok "nat apply" nat-apply br-fc 172.16.0.1/24 nt-up $PUB
expect_match "nat forwarding logged" "$ERR" \
    "nat: enabled ipv4 forwarding"
expect_eq "nat forwarding on" "$(H cat /proc/sys/net/ipv4/ip_forward)" "1"
run nat-exists
expect_eq "nat table exists" "$OUT" "nat-exists 1"
R1=$(nft_rules)
expect_eq "nat rules" "$R1" "7"
ok "nat apply twice" nat-apply br-fc 172.16.0.1/24 nt-up $PUB
expect_eq "nat twice same rules" "$(nft_rules)" "$R1"
expect_eq "nat twice one table" "$(nft_tables)" "1"
expect_eq "nat forwarding logged once" \
    "$(printf '%s' "$ERR" | grep -c 'enabled ipv4 forwarding')" "0"

check "vm reaches upstream" connect "$NS_V" 10.200.0.2 7000
expect_eq "upstream sees the masquerade" "$(last_peer up)" "10.200.0.1"
check "published port" connect "$NS_U" 10.200.0.1 8080
expect_eq "published port peer" "$(last_peer vm)" "10.200.0.2"
U ip route add 172.16.0.0/24 via 10.200.0.1
if connect "$NS_U" 172.16.0.2 80; then
	fail "unpublished way in dropped" "upstream reached the vm directly"
else
	pass "unpublished way in dropped"
fi
U ip route del 172.16.0.0/24 via 10.200.0.1
check "published port from another vm" connect "$NS_W" 10.200.0.1 8080
expect_eq "published port from another vm peer" "$(last_peer vm)" \
    "172.16.0.1"
check "other table kept" H nft list table ip nt-other

ok "nat apply any address" nat-apply br-fc 172.16.0.1/24 nt-up \
    tcp:0.0.0.0:8081:172.16.0.2:80,udp:0.0.0.0:5353:172.16.0.2:53
check "published port on any address" connect "$NS_U" 10.200.0.1 8081
if connect "$NS_U" 10.200.0.1 8080; then
	fail "old published port gone" "8080 still reaches the vm"
else
	pass "old published port gone"
fi
ok "nat apply back" nat-apply br-fc 172.16.0.1/24 nt-up $PUB
expect_eq "nat back rules" "$(nft_rules)" "$R1"

nat_refused() {
	local name=$1 re=$2
	shift 2
	refused "nat refused: $name" "$re" nat-apply "$@"
}
nat_refused "egress is the bridge" "egress br-fc is the bridge" \
    br-fc 172.16.0.1/24 br-fc $PUB
nat_refused "quoted egress" "contains a quote" \
    br-fc 172.16.0.1/24 'nt"up' $PUB
nat_refused "egress with space" "contains whitespace" \
    br-fc 172.16.0.1/24 'nt up' $PUB
nat_refused "bridge name" "invalid name" br-fc0 172.16.0.1/24 nt-up $PUB
nat_refused "bridge prefix" "prefix out of range" \
    br-fc 172.16.0.1/33 nt-up $PUB
nat_refused "guest outside" "outside the bridge's subnet" \
    br-fc 172.16.0.1/24 nt-up tcp:0.0.0.0:8080:10.0.0.2:80
nat_refused "guest is the bridge" "is the bridge's" \
    br-fc 172.16.0.1/24 nt-up tcp:0.0.0.0:8080:172.16.0.1:80
nat_refused "guest broadcast" "broadcast address" \
    br-fc 172.16.0.1/24 nt-up tcp:0.0.0.0:8080:172.16.0.255:80
nat_refused "port 0" "port 0" br-fc 172.16.0.1/24 nt-up \
    tcp:0.0.0.0:0:172.16.0.2:80
nat_refused "sctp" "not tcp or udp" br-fc 172.16.0.1/24 nt-up \
    132:0.0.0.0:8080:172.16.0.2:80
nat_refused "duplicate" "published twice" br-fc 172.16.0.1/24 nt-up \
    tcp:10.200.0.1:8080:172.16.0.2:80,tcp:0.0.0.0:8080:172.16.0.3:80
nat_refused "loopback host address" "loopback" br-fc 172.16.0.1/24 \
    nt-up tcp:127.0.0.1:8080:172.16.0.2:80
expect_eq "nat refusals left the table" "$(nft_rules)" "$R1"

ok "nat clear" nat-clear
run nat-exists
expect_eq "nat table gone" "$OUT" "nat-exists 0"
if H nft list table ip banger >/dev/null 2>&1; then
	fail "nft says gone" "table ip banger listed"
else
	pass "nft says gone"
fi
if connect "$NS_V" 10.200.0.2 7000; then
	fail "no way out after clear" "the vm reached upstream"
else
	pass "no way out after clear"
fi
ok "nat clear again" nat-clear
check "other table kept after clear" H nft list table ip nt-other
stop_pids

# --- resolver ---------------------------------------------------------

RB=$T/bin
mkdir "$RB" "$T/empty"
cp "$TOP/regress/helpers/resolvectl-standin" "$RB/resolvectl"
chmod 0755 "$RB/resolvectl"
RLOG=$RB/resolvectl.log
NOTRUN="systemd-resolved not running: VM names resolve only through the bridge's DNS"
export BANGER_NT_MARK=leaked
DPATH=$RB:$PATH

: >"$RLOG"
ok "resolver route" resolver-route br-fc 172.16.0.1 vm.internal
expect_eq "resolver route active" "$OUT" "resolver-route active=1"
expect_eq "resolver route commands" "$(cat "$RLOG")" \
    "status
dns br-fc 172.16.0.1
domain br-fc ~vm.internal"
expect_eq "resolver environment" "$(grep -v '^PWD=' "$RB/resolvectl.env" |
    sort | tr '\n' ' ')" "LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin "

: >"$RLOG"
ok "resolver clear" resolver-clear br-fc
expect_eq "resolver clear commands" "$(cat "$RLOG")" "status
revert br-fc"

: >"$RLOG"
echo dns >"$RB/resolvectl.fail"
refused "resolver dns failure" "resolvectl dns exited with status 1: Failed" \
    resolver-route br-fc 172.16.0.1 vm.internal
expect_eq "resolver failure stops" "$(cat "$RLOG")" "status
dns br-fc 172.16.0.1"
rm -f "$RB/resolvectl.fail"

: >"$RLOG"
H ip link add br-fc-x type bridge
refused "resolver foreign bridge" "bridge br-fc-x is not banger's" \
    resolver-route br-fc-x 172.16.0.1 vm.internal
refused "resolver clear foreign bridge" "bridge br-fc-x is not banger's" \
    resolver-clear br-fc-x
H ip link del br-fc-x
refused "resolver missing bridge" "bridge br-fc-q does not exist" \
    resolver-route br-fc-q 172.16.0.1 vm.internal
ok "resolver clear missing bridge" resolver-clear br-fc-q
refused "resolver bad bridge" "invalid name" \
    resolver-route eth0 172.16.0.1 vm.internal
for d in -vm.internal Vm.internal vm..internal "vm internal" "~vm" .; do
	refused "resolver domain '$d' refused" "refused: domain" \
	    resolver-route br-fc 172.16.0.1 "$d"
done
refused "resolver dns 0.0.0.0 refused" "refused: dns server" \
    resolver-route br-fc 0.0.0.0 vm.internal
expect_eq "resolver refusals ran nothing" "$(cat "$RLOG")" ""

echo 1 >"$RB/resolvectl.status"
ok "resolver not running" resolver-route br-fc 172.16.0.1 vm.internal \
    resolver-route br-fc 172.16.0.1 vm.internal resolver-clear br-fc
expect_eq "resolver not running inactive" "$OUT" \
    "resolver-route active=0
resolver-route active=0"
expect_eq "resolver not running logged once" \
    "$(printf '%s\n' "$ERR" | grep -cF "$NOTRUN")" "1"
expect_eq "resolver not running commands" "$(cat "$RLOG")" "status
status
status"

DPATH=$T/empty
ok "resolver absent" resolver-route br-fc 172.16.0.1 vm.internal \
    resolver-clear br-fc
expect_eq "resolver absent inactive" "$OUT" "resolver-route active=0"
expect_eq "resolver absent logged once" \
    "$(printf '%s\n' "$ERR" | grep -cF "$NOTRUN")" "1"
DPATH=$PATH

# --- the end ----------------------------------------------------------

ok "bridge remove with a port" bridge-remove br-fc
if exists br-fc; then
	fail "bridge gone at the end" "br-fc still exists"
else
	pass "bridge gone at the end"
fi
stop_pids
del_netns
expect_eq "no namespace left" "$(ip netns list | grep -c "banger-nt-$$-")" "0"
expect_eq "host interfaces unchanged" \
    "$(ip -o link show | awk -F': ' '{ print $2 }' | sort)" "$HOST_LINKS"
expect_eq "host ip_forward unchanged" "$(cat /proc/sys/net/ipv4/ip_forward)" \
    "$HOST_FWD"
expect_eq "host nftables unchanged" "$(nft list tables 2>&1)" "$HOST_TABLES"
left=$(pgrep -f "$T/listen.py" | tr '\n' ' ')
expect_eq "no process left" "$left" ""

t_done
