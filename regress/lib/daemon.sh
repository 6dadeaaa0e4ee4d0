# Start and stop a bangerd on a private state directory and socket, for
# root tests.  Source after lib.sh.  Sets: T (temp dir), CONF, SOCK,
# STATE, DLOG (daemon's stderr), DPID, ctlgid (group banger's id).
# With DAEMON_RESOLV naming a file, the daemon runs in a mount namespace
# of its own where that file is /etc/resolv.conf: its net worker then
# forwards DNS to the resolvers the test names, not to the host's; and
# with DAEMON_HOSTS, where that file is /etc/hosts (names the parent
# looks up for an image pull).

: "${BANGERD:?BANGERD must name the bangerd binary}"
: "${BANGERCTL:?BANGERCTL must name the bangerctl binary}"

# Sanitizer builds: no leak check in the sandboxed workers (LeakSanitizer
# needs ptrace, which seccomp forbids).
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0"

# bangerd makes its bridge when it starts: it always runs in a network
# namespace of the test's own ($NS), never in the host's.
daemon_setup() {
	T=$(mktemp -d /tmp/banger-regress.XXXXXX)
	chmod 0755 "$T"
	NS=banger-rt-$$-$RANDOM
	ip netns add "$NS"
	ip -n "$NS" link set lo up
	# Copies other users can reach, wherever the tree itself lives.
	mkdir -p "$T/ubin"
	chmod 0755 "$T/ubin"
	install -m 0755 "$BANGERD" "$T/ubin/bangerd"
	for p in bangerd-vm bangerd-net bangerd-update bangerd-pull; do
		install -m 0755 "$(dirname "$BANGERD")/$p" "$T/ubin/"
	done
	install -m 0755 "$BANGERCTL" "$T/ubin/bangerctl"
	UBANGERD=$T/ubin/bangerd
	UBANGERCTL=$T/ubin/bangerctl
	ctlgid=$(getent group banger | cut -d: -f3)
	STATE=$T/state
	SOCK=$T/run/bangerd.sock
	CONF=$T/bangerd.conf
	DLOG=$T/bangerd.log
	cat >"$CONF" <<EOC
state-dir "$STATE"
socket "$SOCK"
${1:-}
EOC
}

# Run a command in the test's network namespace.
in_ns() { ip netns exec "$NS" "$@"; }

daemon_start() {
	if [ -n "${DAEMON_RESOLV:-}${DAEMON_HOSTS:-}" ]; then
		# unshare and sh exec: $! is bangerd itself.
		ip netns exec "$NS" unshare -m --propagation private sh -c '
		    { [ -z "$0" ] || mount --bind "$0" /etc/resolv.conf; } &&
		    { [ -z "$1" ] || mount --bind "$1" /etc/hosts; } &&
		    shift && exec "$@"' \
		    "${DAEMON_RESOLV:-}" "${DAEMON_HOSTS:-}" \
		    "$BANGERD" -d -f "$CONF" "$@" >"$DLOG" 2>&1 &
	else
		ip netns exec "$NS" "$BANGERD" -d -f "$CONF" "$@" \
		    >"$DLOG" 2>&1 &
	fi
	DPID=$!
	wait_for 10 daemon_workers_running
}

ctl() { "$BANGERCTL" -s "$SOCK" "$@"; }

# bangerctl as a member of group banger who is not root.
user() { setpriv --reuid=65534 --regid=65534 --groups="$ctlgid" \
    "$UBANGERCTL" -s "$SOCK" "$@"; }

# The vm and net workers report running, and the update worker too or
# idle (it runs only while an update is asked for).
daemon_workers_running() {
	[ "$(ctl status --json 2>/dev/null |
	    jq '[.workers[] | select((.state == "running" and .pid > 0) or
	    (.role == "update" and .state == "idle" and .pid == 0))] | length')" = 3 ]
}

# The worker's pid; nothing for one not running (never a 0 that kill
# would take for the process group).
worker_pid() {
	ctl status --json | jq -r ".workers[] | select(.role == \"$1\" and .pid > 0) | .pid"
}

daemon_stop() {
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null
	fi
	DPID=
}

# A crash: SIGKILL to the parent; its workers follow it out, and are
# waited for.
daemon_kill() {
	local w p
	w=$(timeout 5 "$BANGERCTL" -s "$SOCK" status --json 2>/dev/null |
	    jq -r ".workers[] | select(.pid > 0) | .pid")
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null
	DPID=
	for p in $w; do
		wait_for 10 sh -c "! kill -0 $p 2>/dev/null"
	done
}

daemon_cleanup() {
	local n p
	# VMs a failed test left: removed through the daemon, and any
	# Firecracker it started still alive, by pid.
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		for n in $(timeout 10 "$BANGERCTL" -s "$SOCK" vm ls --json \
		    2>/dev/null | jq -r '.[].name' 2>/dev/null); do
			timeout 10 "$BANGERCTL" -s "$SOCK" vm rm -f "$n" \
			    >/dev/null 2>&1
		done
		for p in $(pgrep -P "$DPID" -f -- '--api-sock'); do
			kill -KILL "$p"
		done
	fi
	daemon_stop
	[ -n "${NS:-}" ] && ip netns delete "$NS" 2>/dev/null
	[ -n "${T:-}" ] && rm -rf "$T"
}

# A VM environment: the idle Firecracker stand-in installed root-owned as
# $T/bin/firecracker, an image "default" (a kernel Firecracker's loader
# takes, from mkvmlinux, and a 64 MiB ext4 rootfs), and the
# configuration lines that name them.
vm_env() {
	mkdir -p "$T/bin" "$T/img"
	chmod 0755 "$T/bin" "$T/img"
	install -m 0755 "$HELPERS/fc-standin-idle" "$T/bin/firecracker"
	mkvmlinux "$T/img/vmlinux"
	truncate -s 64M "$T/img/rootfs.ext4"
	mkfs.ext4 -q -F "$T/img/rootfs.ext4"
	chmod 0644 "$T/img/vmlinux" "$T/img/rootfs.ext4"
	VM_CONF="firecracker \"$T/bin/firecracker\"
image \"default\" {
	kernel \"$T/img/vmlinux\"
	rootfs \"$T/img/rootfs.ext4\"
	boot-args \"console=ttyS0 reboot=k panic=1\"
}"
}

# vm_daemon_start NAME [LINES]: vm_env's lines (and LINES) added to the
# configuration, then daemon_start; if the daemon does not come up,
# "NAME: daemon starts" fails and the test ends.
vm_daemon_start() {
	vm_env
	printf '%s\n' "$VM_CONF" ${2+"$2"} >>"$CONF"
	if ! daemon_start; then
		fail "$1: daemon starts" "$(tail -5 "$DLOG")"
		t_done
	fi
}

# The test guest ($GUEST, need_guest): guest_conf BOOTARGS installs its
# SSH key as $T/key/id (and id.pub) and adds bangerd.conf's lines for
# $T/bin/firecracker, $T/bin/jailer and the image "guest" (with
# BOOTARGS, unless empty: bangerd's default).  guest_env puts the
# qemu-mode Firecracker stand-in and the jailer stand-in there (root's,
# where only root may write, as bangerd wants) and calls guest_conf with
# the boot arguments qemu's microvm needs (GUEST_QEMU_BOOTARGS): the
# emulator's clock told, and no i8042.nopnp (the microvm names its i8042
# only through ACPI, and a kernel told not to look there finds no
# keyboard for Ctrl-Alt-Del).
GUEST_QEMU_BOOTARGS="console=ttyS0 reboot=k panic=1 pci=off tsc_early_khz=2000000"
guest_conf() {
	mkdir -p "$T/bin" "$T/key" "$T/tmp"
	chmod 0755 "$T/bin"
	install -m 0600 "$GUEST/id_ed25519" "$T/key/id"
	install -m 0644 "$GUEST/id_ed25519.pub" "$T/key/id.pub"
	cat >>"$CONF" <<EOC
firecracker "$T/bin/firecracker"
jailer "$T/bin/jailer"
image "guest" {
	kernel "$GUEST/vmlinux"
	initrd "$GUEST/initrd.img"
	rootfs "$GUEST/rootfs.ext4"
${1:+	boot-args \"$1\"}
}
EOC
}
guest_env() {
	mkdir -p "$T/bin"
	chmod 0755 "$T/bin"
	install -m 0755 "$HELPERS/fc-standin-qemu" "$T/bin/firecracker"
	install -m 0755 "$HELPERS/jailer-standin" "$T/bin/jailer"
	guest_conf "$GUEST_QEMU_BOOTARGS"
}

# vssh VM [ARGS]: bangerctl vm ssh from the daemon's namespace (the
# bridge is there), never able to prompt (no terminal, no stdin), for at
# most VSSH_TIMEOUT seconds (90).
vssh() {
	timeout "${VSSH_TIMEOUT:-90}" setsid -w ip netns exec "$NS" env \
	    TMPDIR="$T/tmp" "$BANGERCTL" -s "$SOCK" vm ssh "$@" </dev/null
}

# upstream_ns UPNS ADDR/PREFIX: a namespace UPNS for the egress to reach
# (the caller's trap deletes it), and the egress interface: up0 in the
# test's namespace, with ADDR/PREFIX and up, a veth to up1 in UPNS.
upstream_ns() {
	ip netns add "$1"
	in_ns ip link add up0 type veth peer name up1 netns "$1"
	in_ns ip addr add "$2" dev up0
	in_ns ip link set up0 up
}

# seen_from UPNS ADDR: in the background ($! is its pid), a TCP server
# on ADDR port 9000 in UPNS that tells each client "seen from" the
# address it came from.
seen_from() {
	ip netns exec "$1" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9000)); s.listen(8)
while True:
    c, a = s.accept(); c.sendall(("seen from %s\n" % a[0]).encode()); c.close()
' "$2" &
}

# The id of a VM by name.
vm_id() { ctl vm show --json "$1" | jq -r .id; }

# priv_sed ID EXPR: the parent's record of VM ID edited as a crash could
# have left it: STATE/priv/ID and, if there is one, its run-time record
# ID.run (the later of the two while they name the same gen).
priv_sed() {
	sed -i "$2" "$STATE/priv/$1"
	[ ! -e "$STATE/priv/$1.run" ] || sed -i "$2" "$STATE/priv/$1.run"
}
# vmrec_jq ID FILTER: the vm worker's record of VM ID edited so, in
# STATE/vms/ID/vm.json and, if there is one, its run-time record vm.run.
vmrec_jq() {
	local f
	for f in "$STATE/vms/$1/vm.json" "$STATE/vms/$1/vm.run"; do
		[ -e "$f" ] || continue
		jq -c "$2" "$f" >"$T/rec" && cat "$T/rec" >"$f"
	done
}

# Everything a VM leaves on the host, for "nothing left behind" checks.
host_traces() {
	{
		vm_taps
		find "$STATE/disks" "$STATE/priv" "$STATE/vms" \
		    "$STATE/jail/firecracker" -mindepth 1 -maxdepth 1 \
		    ! -path "$STATE/vms/.journal" \
		    ! -path "$STATE/priv/.journal" 2>/dev/null
		our_firecrackers
	} | sort | tr '\n' ' '
}

# The taps in the daemon's namespace that are VMs', by name.  A spare
# (fc-spare-*: a removed VM's tap kept for the next creation, tap.c) is
# no VM's, and is left out while it is as bangerd keeps one: root's and
# down.  Any other shows.
vm_taps() {
	in_ns sh -c 'for l in /sys/class/net/*; do
		[ -e "$l/tun_flags" ] || continue
		n=${l##*/}
		case $n in fc-spare-*)
			[ "$(cat "$l/owner") $(cat "$l/group")" = "0 0" ] &&
			    [ $(( $(cat "$l/flags") & 1 )) = 0 ] && continue ;;
		esac
		echo "$n"
	done' 2>/dev/null
}

# The spare taps in the daemon's namespace, by name.
spare_taps() {
	in_ns ls /sys/class/net 2>/dev/null | grep '^fc-spare-'
}

# Firecracker processes in this test's jails (by their root directory,
# even one since removed): other daemons on the host, tests run side by
# side, have their own.  A daemon in the host's mount namespace (not ip
# netns exec's) leaves a jail root readlink cannot name from here: its
# mount's root, in the process's mountinfo, names it then.
our_firecrackers() {
	local p mnt rel dev root
	mnt=$(findmnt -n -o TARGET --target "$STATE" | tr -d " ")
	rel=${STATE#"${mnt%/}"}
	dev=$(findmnt -n -o MAJ:MIN --target "$STATE" | tr -d " ")
	for p in $(pgrep -f -- "--api-sock /run/firecracker.socket --id"); do
		case $(readlink "/proc/$p/root" 2>/dev/null) in
		"$STATE"/*)	echo "$p"; continue ;;
		esac
		root=$(awk -v dev="$dev" '$5 == "/" && $3 == dev { print $4 }' \
		    "/proc/$p/mountinfo" 2>/dev/null)
		case $root in
		"$rel"/jail/firecracker/*)	echo "$p" ;;
		esac
	done
}

# This daemon's pull workers (each import's own): by their title, and
# their root, its STATE/pull (another test's daemon has its own).
pull_workers() {
	local p
	for p in $(pgrep -f '^bangerd: pull'); do
		[ "$(readlink "/proc/$p/root" 2>/dev/null)" = "$STATE/pull" ] &&
		    echo "$p"
	done
	return 0
}

# A running worker's sandbox, as the kernel reports it: PREFIX names the
# checks; PID, for a worker status does not list (pull).
worker_sandbox_check() {	# PREFIX ROLE [PID]
	local pre=$1 role=$2 p st want uid gid c
	uid=$(id -u _banger)
	gid=$(id -g _banger)
	p=${3:-$(worker_pid "$role")}
	st=/proc/$p/status
	expect_eq "$pre: $role worker runs as _banger (uid)" \
	    "$(awk '/^Uid:/ {print $2,$3,$4,$5}' $st)" "$uid $uid $uid $uid"
	expect_eq "$pre: $role worker runs as _banger (gid)" \
	    "$(awk '/^Gid:/ {print $2,$3,$4,$5}' $st)" "$gid $gid $gid $gid"
	expect_eq "$pre: $role worker has only its own group" \
	    "$(awk '/^Groups:/ {print $2}' $st)" "$gid"
	for c in CapInh CapPrm CapEff CapBnd CapAmb; do
		expect_eq "$pre: $role worker $c is empty" \
		    "$(awk "/^$c:/ {print \$2}" $st)" "0000000000000000"
	done
	expect_eq "$pre: $role worker has NoNewPrivs" \
	    "$(awk '/^NoNewPrivs:/ {print $2}' $st)" "1"
	expect_eq "$pre: $role worker is in seccomp filter mode" \
	    "$(awk '/^Seccomp:/ {print $2}' $st)" "2"
	if [ "$role" = vm ]; then want=$STATE; else want=$STATE/$role; fi
	expect_eq "$pre: $role worker is chrooted in its directory" \
	    "$(readlink /proc/$p/root)" "$want"
	expect_eq "$pre: $role worker's cwd is its root" \
	    "$(readlink /proc/$p/cwd)" "$want"
	expect_match "$pre: $role worker's title shows its role" \
	    "$(tr '\0' ' ' </proc/$p/cmdline)" "^bangerd: $role"
	expect_eq "$pre: $role worker may not dump core" \
	    "$(awk '/^Max core file size/ {print $5}' /proc/$p/limits)" "0"
}
