#!/bin/bash
# demo.sh: banger from nothing to a shell in a VM, and back to nothing.
#
# As root, from a built tree (make demo builds first): a private
# bangerd (its own state directory, socket and network namespace, so
# the host's network is never touched), the test guest (a Debian cloud
# kernel and a Debian 12 root file system, scripts/build-guest.sh, built
# once and kept in /var/cache/banger-guest), imported as an image; two
# VMs with your SSH key (or one made for the demo), started; ssh into
# the first by name; vm ls; then everything removed, and what is left
# counted.  Real Firecracker, its jailer and /dev/kvm where they are
# here; else the stand-ins of the tests (the Firecracker API in front of
# qemu's emulator), and it says which.
#
# OBJDIR (obj) names the build; DEMO_STANDIN=1 takes the stand-ins even
# where Firecracker and KVM are here; DEMO_KEEP=1 keeps the temporary
# directory; GUEST (/var/cache/banger-guest) the guest's cache.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
OBJ=$TOP/${OBJDIR:-obj}
GUEST=${GUEST:-/var/cache/banger-guest}
NS=banger-demo-$$
BR=10.213.0.1
SECONDS=0
D=
DPID=

step() { printf 'demo: [%3ds] %s\n' "$SECONDS" "$*"; }
die() {
	printf 'demo: error: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "the demo starts bangerd: run it as root"
for f in bangerd bangerctl regress/helpers/fc-standin-qemu \
    regress/helpers/jailer-standin; do
	[ -x "$OBJ/$f" ] || die "$OBJ/$f is not built: run make demo"
done
for c in ip ssh ssh-keygen; do
	command -v "$c" >/dev/null || die "$c is missing: sh scripts/deps.sh"
done

# The Firecracker processes of this demo: those whose root is a jail in
# $D (by the root of their mount, as their mountinfo gives it: relative
# to the file system $D is on).
our_vmms() {
	local p mnt rel
	[ -n "$D" ] || return 0
	mnt=$(findmnt -n -o TARGET --target "$D" | tr -d ' ')
	rel=${D#"${mnt%/}"}
	for p in $(pgrep -f -- '--api-sock /run/firecracker.socket'); do
		awk '$5 == "/" { print $4 }' "/proc/$p/mountinfo" 2>/dev/null |
		    grep -q "^$rel/" && echo "$p"
	done
}

# Everything made here goes, whatever happens; what is left is counted.
cleanup() {
	local p
	if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then
		for p in one two; do
			ctl vm rm -f "$p" >/dev/null 2>&1
		done
		ctl image rm demo >/dev/null 2>&1
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null
	fi
	# A VM caught half made when the demo was stopped: its process
	# outlives bangerd, as VMs do; it goes with the demo.
	for p in $(our_vmms); do
		kill -KILL "$p" 2>/dev/null
	done
	ip netns delete "$NS" 2>/dev/null
	if [ -n "$D" ] && [ -z "${DEMO_KEEP:-}" ]; then
		rm -rf "$D"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ctl() { "$OBJ/bangerctl" -s "$D/run/bangerd.sock" "$@"; }
in_ns() { ip netns exec "$NS" "$@"; }

# --- Firecracker, or the stand-ins --------------------------------------

D=$(mktemp -d /tmp/banger-demo.XXXXXX) || die "mktemp"
chmod 0755 "$D"
mkdir -p "$D/bin" "$D/key"
chmod 0755 "$D/bin"
FC=$(command -v firecracker 2>/dev/null)
JAILER=$(command -v jailer 2>/dev/null)
if [ -n "$FC" ] && [ -n "$JAILER" ] && [ -c /dev/kvm ] &&
    [ -z "${DEMO_STANDIN:-}" ]; then
	install -m 0755 "$FC" "$D/bin/firecracker"
	install -m 0755 "$JAILER" "$D/bin/jailer"
	step "Firecracker $("$FC" --version 2>/dev/null | head -1) and its" \
	    "jailer, on /dev/kvm"
	# bangerd's default boot arguments, Firecracker's own
	BOOTARGS=
else
	command -v qemu-system-x86_64 >/dev/null ||
	    die "no Firecracker here, and no qemu-system-x86_64 for the stand-ins: sh scripts/deps.sh"
	install -m 0755 "$OBJ/regress/helpers/fc-standin-qemu" \
	    "$D/bin/firecracker"
	install -m 0755 "$OBJ/regress/helpers/jailer-standin" "$D/bin/jailer"
	step "no Firecracker and KVM here: the stand-ins run the guests" \
	    "(Firecracker's API in front of qemu's emulator, TCG)"
	# The emulator's clock told, and no i8042.nopnp: qemu's microvm
	# names its i8042 only through ACPI.
	BOOTARGS="console=ttyS0 reboot=k panic=1 pci=off tsc_early_khz=2000000"
fi

# --- the guest ----------------------------------------------------------

step "the guest: scripts/build-guest.sh $GUEST (built once, then kept)"
if ! "$TOP/scripts/build-guest.sh" "$GUEST" 2>"$D/guest.log"; then
	tail -n 5 "$D/guest.log" >&2
	die "the guest could not be built"
fi
step "the guest: $(sed -n 's/^kernel_release=//p' "$GUEST/stamp")," \
    "Debian $(sed -n 's/^rootfs_suite=//p' "$GUEST/stamp")"

# --- your key -----------------------------------------------------------

home=$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)
KEY=
for k in "$home/.ssh/id_ed25519" "$home/.ssh/id_ecdsa" "$home/.ssh/id_rsa"; do
	if [ -r "$k" ] && [ -r "$k.pub" ]; then
		KEY=$k
		break
	fi
done
if [ -n "$KEY" ]; then
	step "your key: $KEY.pub"
else
	ssh-keygen -q -t ed25519 -N '' -C banger-demo -f "$D/key/id" ||
	    die "ssh-keygen"
	KEY=$D/key/id
	step "no key of yours in $home/.ssh: one made for the demo"
fi

# --- the daemon ---------------------------------------------------------

cat >"$D/bangerd.conf" <<EOC
state-dir "$D/state"
socket "$D/run/bangerd.sock"
bridge "br-fc" {
	address $BR/24
}
firecracker "$D/bin/firecracker"
jailer "$D/bin/jailer"
EOC
ip netns add "$NS" || die "ip netns add $NS"
in_ns ip link set lo up
# ip netns exec execs bangerd: $! is the daemon itself.
ip netns exec "$NS" "$OBJ/bangerd" -d -f "$D/bangerd.conf" \
    >"$D/bangerd.log" 2>&1 &
DPID=$!
n=100
until ctl status >/dev/null 2>&1; do
	n=$((n - 1))
	if [ $n -le 0 ] || ! kill -0 "$DPID" 2>/dev/null; then
		tail -n 5 "$D/bangerd.log" >&2
		die "bangerd did not start"
	fi
	sleep 0.1
done
step "bangerd $(ctl status --json | jq -r .version) running (pid $DPID)," \
    "in network namespace $NS, state in $D/state"

# --- the image, the VMs -------------------------------------------------

ctl image import demo --kernel "$GUEST/vmlinux" \
    --initrd "$GUEST/initrd.img" --rootfs "$GUEST/rootfs.ext4" \
    ${BOOTARGS:+--boot-args "$BOOTARGS"} >/dev/null || die "image import"
step "image demo imported: $(ctl image show --json demo |
    jq -r '"kernel \(.kernel_bytes / 1048576 | floor) MiB, rootfs \(.rootfs_bytes / 1048576 | floor) MiB"')"

pids=
for v in one two; do
	ctl vm create "$v" --image demo --memory 384M --ssh-key "$KEY.pub" \
	    --start >"$D/$v.out" 2>&1 &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
for v in one two; do
	grep -q "vm $v started" "$D/$v.out" ||
	    die "vm $v: $(cat "$D/$v.out")"
done
step "vm one and vm two created and started"

vssh() {
	timeout 120 setsid -w ip netns exec "$NS" env TMPDIR="$D" \
	    "$OBJ/bangerctl" -s "$D/run/bangerd.sock" vm ssh "$@" </dev/null
}
n=0
until vssh one -i "$KEY" -- true >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 180 ] || die "no ssh into vm one after three minutes"
	sleep 1
done
step "ssh into one, by name: uname -a; ip -br addr; getent hosts two;" \
    "ping -c 1 two"
vssh one -i "$KEY" -- 'uname -a; ip -br addr;
    getent hosts two; ping -c 1 -W 5 two' 2>&1 |
    sed 's/^/    one$ /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "the commands on vm one failed"

step "vm ls"
ctl vm ls | sed 's/^/    /'

# --- and back to nothing -------------------------------------------------

for v in one two; do
	ctl vm rm -f "$v" >/dev/null || die "vm rm $v"
done
ctl image rm demo >/dev/null || die "image rm demo"
# (The records' journals are bangerd's own, not a VM's.)
files=$(find "$D/state/disks" "$D/state/priv" "$D/state/vms" \
    "$D/state/jail/firecracker" "$D/state/images" -mindepth 1 -maxdepth 1 \
    ! -name .journal 2>/dev/null | wc -l)
procs=$(our_vmms | wc -l)
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
DPID=
# Counted once bangerd has stopped: until then it keeps the removed
# VMs' taps as spares for its next creations.
taps=$(in_ns ip -br link show type tun | wc -l)
ip netns delete "$NS"
nss=$(ip netns list | grep -c "^$NS\b")
step "removed: VMs, image, daemon, network namespace"
step "nothing is left: $procs VM processes, $taps taps, $files files of" \
    "VMs or images, $nss namespaces"
[ $((procs + taps + files + nss)) -eq 0 ] || die "something was left"
